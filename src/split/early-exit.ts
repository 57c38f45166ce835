/**
 * Early exits: a model with several outputs at different depths, split into parts so that the
 * nodes shared by several exits are computed once. Every data-dependent node is labelled with
 * the set of exits that need it (the exit's producer and everything it reads, transitively, by
 * the node graph); nodes with the same set form one part, and nodes no exit needs are left out.
 * A node needed by the exits S reads only from nodes needed by a superset of S, so ordering the
 * parts by their first exit, then by how many exits share them, puts every producer before its
 * readers: running the parts in that order gives exit 1 once its parts have run, exit 2 after the
 * parts it adds, and so on. Exits are listed from the shallowest: an exit computed on the way to
 * an exit listed before it is refused.
 */
import { GraphError, SplitError, UnknownSplitError } from '../errors.js';
import type { GraphIndex } from '../onnx/graph.js';
import { planSegments, type PlannedPart } from './plan.js';
import { closestNames } from './points.js';

export interface ExitPart {
  /** Nodes (constants first, then data-dependent nodes in execution order), inputs and outputs. */
  plan: PlannedPart;
  /** Indices (into the exit list) of the exits that need this part, ascending. */
  exits: number[];
  /** The part's data-dependent nodes, in execution order. */
  dataNodes: number[];
}

export interface EarlyExitPlan {
  /** The exit tensors, in the order given. */
  exits: string[];
  /** Parts in execution order; part i reads only model inputs and outputs of parts before it. */
  parts: ExitPart[];
  /** Per exit: the indices of the parts it needs, in execution order. */
  exitParts: number[][];
  /** Per exit: the data-dependent nodes it needs, in execution order. */
  exitNodes: number[][];
}

function nodeOutputs(index: GraphIndex, n: number): string[] {
  return (index.nodes[n]!.output ?? []).filter((o) => o);
}

/** The producing node of each exit tensor, with a one-line SplitError for a name that is no computed tensor. */
export function resolveExits(index: GraphIndex, names: readonly string[], label: string): number[] {
  if (names.length === 0) throw new SplitError(`${label}: no exit given (name the exit tensors: --outputs O1 O2 ...)`);
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw new UnknownSplitError(`${label}: exit '${name}' is given twice; each exit is named once`);
    seen.add(name);
    if (index.inputs.includes(name)) throw new UnknownSplitError(`${label}: exit '${name}' is a model input; an exit is a tensor a node computes`);
    if (index.initializers.has(name) || index.sparseInitializers.has(name)) {
      throw new UnknownSplitError(`${label}: exit '${name}' is a weight (initializer); an exit is a tensor computed from the model inputs`);
    }
    const node = index.producer.get(name);
    if (node === undefined) {
      const known = [...index.outputs, ...index.dataNodes.flatMap((n) => nodeOutputs(index, n))];
      throw new UnknownSplitError(`${label}: no tensor named '${name}'; closest: ${closestNames(name, known).join(', ')}`);
    }
    if (index.constantNode[node]) {
      throw new UnknownSplitError(`${label}: exit '${name}' is computed from weights only (a constant); an exit is a tensor computed from the model inputs`);
    }
    return node;
  });
}

/** Data-dependent nodes `from` needs (itself included), by walking producers; each node is visited at most once. */
function ancestors(index: GraphIndex, from: number): Uint8Array {
  const seen = new Uint8Array(index.nodes.length);
  const stack = [from];
  seen[from] = 1;
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const r of index.nodeInputs[n]!) {
      const p = index.producer.get(r);
      if (p === undefined || seen[p] || index.constantNode[p]) continue;
      seen[p] = 1;
      stack.push(p);
    }
  }
  return seen;
}

/** Plans the parts for the exit tensors `names` (see the module comment). */
export function planEarlyExits(index: GraphIndex, names: readonly string[], label: string): EarlyExitPlan {
  const producers = resolveExits(index, names, label);
  const needs = producers.map((p) => ancestors(index, p));
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      if (producers[j] !== producers[i] && needs[i]![producers[j]!]) {
        throw new SplitError(
          `${label}: exit '${names[i]}' needs exit '${names[j]}', which is listed after it; list the exits from the shallowest ('${names[j]}' before '${names[i]}')`,
        );
      }
    }
  }

  // Group the needed data nodes by the set of exits needing them.
  const groups = new Map<string, { exits: number[]; nodes: number[] }>();
  const needed: number[] = [];
  for (const n of index.dataNodes) {
    const exits = needs.flatMap((s, e) => (s[n] ? [e] : []));
    if (exits.length === 0) continue;
    needed.push(n);
    const key = exits.join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { exits, nodes: [] }));
    g.nodes.push(n);
  }
  const lexical = (a: number[], b: number[]) => {
    for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
    return a.length - b.length;
  };
  const ordered = [...groups.values()].sort((a, b) => a.exits[0]! - b.exits[0]! || b.exits.length - a.exits.length || lexical(a.exits, b.exits));

  const segment = new Int32Array(index.nodes.length).fill(-1);
  ordered.forEach((g, s) => g.nodes.forEach((n) => (segment[n] = s)));
  checkForward(index, segment, needed, label);

  // Plan over the needed nodes only, with the exits as the outputs to keep.
  const view: GraphIndex = { ...index, dataNodes: needed, outputs: [...names] };
  const plans = planSegments(view, segment, ordered.length);
  // A part's outputs are the exits it computes and what later parts read, nothing for left-out nodes.
  const exitSet = new Set(names);
  const readLater = new Set<string>();
  for (let s = plans.length - 1; s >= 0; s--) {
    const p = plans[s]!;
    p.outputs = p.outputs.filter((o) => exitSet.has(o) || readLater.has(o));
    for (const i of p.inputs) readLater.add(i);
  }
  const parts = plans.map((plan, s): ExitPart => ({ plan, exits: ordered[s]!.exits, dataNodes: ordered[s]!.nodes }));
  return {
    exits: [...names],
    parts,
    exitParts: names.map((_, e) => parts.flatMap((p, i) => (p.exits.includes(e) ? [i] : []))),
    exitNodes: needs.map((s) => needed.filter((n) => s[n])),
  };
}

/**
 * Refuses a graph whose node order is no execution order (a cycle: some node reads what a node at
 * or after it computes) and an order in which a part would read a tensor of a later part; one
 * pass over the nodes.
 */
function checkForward(index: GraphIndex, segment: Int32Array, nodes: readonly number[], label: string): void {
  const name = (n: number) => index.nodes[n]!.name || nodeOutputs(index, n)[0] || `#${n}`;
  for (const n of nodes) {
    for (const r of index.nodeInputs[n]!) {
      const p = index.producer.get(r);
      if (p === undefined || index.constantNode[p]) continue;
      if (index.position[p]! >= index.position[n]!) throw new GraphError(`${label}: the graph has a cycle through '${name(n)}' and '${name(p)}'`);
      if (segment[p]! > segment[n]!) throw new SplitError(`${label}: no part order exists for these exits: '${name(n)}' reads '${r}', which a later part computes`);
    }
  }
}
