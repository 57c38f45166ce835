/**
 * Part plans: which nodes, inputs and outputs each part of a split has, for one or several cuts
 * in execution order, or for any assignment of nodes to segments that never sends a tensor back.
 * Part i holds the data-dependent nodes between cut i-1 and cut i (segment i-1) plus every constant node they
 * need (constants are recomputed in each part, never transferred). A part's inputs are model
 * inputs or outputs of earlier parts; its outputs are what later parts read plus the model
 * outputs it produces. Empty parts (a cut at either end) are left out.
 */
import { SplitError } from '../errors.js';
import type { GraphIndex } from '../onnx/graph.js';
import type { PartSpec } from './assemble.js';

export interface PlannedPart extends PartSpec {
  /** 1-based number of the segment between cuts; parts left out leave gaps (part2 alone is cloud only). */
  number: number;
}

/** Constant nodes a node needs, transitively (memoised per tensor). */
function constantClosure(index: GraphIndex): (node: number) => number[] {
  const memo = new Map<string, number[]>();
  const viaTensor = (t: string): number[] => {
    const hit = memo.get(t);
    if (hit) return hit;
    const p = index.producer.get(t);
    let res: number[] = [];
    if (p !== undefined && index.constantNode[p]) {
      const acc = new Set<number>([p]);
      for (const r of index.nodeInputs[p]!) for (const c of viaTensor(r)) acc.add(c);
      res = [...acc];
    }
    memo.set(t, res);
    return res;
  };
  return (node) => {
    const acc = new Set<number>();
    for (const r of index.nodeInputs[node]!) if (index.constantTensors.has(r)) for (const c of viaTensor(r)) acc.add(c);
    return [...acc];
  };
}

/** Per-model tables the planner reuses for every split: computed once per graph index. */
interface PlanTables {
  closure: (node: number) => number[];
}

const planTables = new WeakMap<GraphIndex, PlanTables>();

function tablesFor(index: GraphIndex): PlanTables {
  let t = planTables.get(index);
  if (t) return t;
  t = { closure: constantClosure(index) };
  planTables.set(index, t);
  return t;
}

/**
 * Plans the parts for cuts at the given positions (numbers of data-dependent nodes before each
 * cut, ascending, each in 0..m). The cost is that of the parts, not of the whole graph.
 */
export function planParts(index: GraphIndex, positions: readonly number[], graphName = 'part'): PlannedPart[] {
  const m = index.dataNodes.length;
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    if (!Number.isInteger(p) || p < 0 || p > m) throw new SplitError(`cut position ${p} is outside 0..${m}`);
    if (i > 0 && p <= positions[i - 1]!) throw new SplitError('split layers must be distinct and in execution order');
  }
  const segment = new Int32Array(index.nodes.length).fill(-1);
  let s = 0;
  index.dataNodes.forEach((n, k) => {
    while (s < positions.length && k >= positions[s]!) s++;
    segment[n] = s;
  });
  return planSegments(index, segment, positions.length + 1, graphName);
}

/**
 * Plans the parts for any assignment of data-dependent nodes to segments 0..count-1, where no
 * node reads a tensor produced in a later segment (checked by the caller; see node-cut.ts).
 * `segment` is indexed by node index; constant nodes are ignored there.
 */
export function planSegments(index: GraphIndex, segment: Int32Array, count: number, graphName = 'part'): PlannedPart[] {
  const { closure } = tablesFor(index);
  const members: number[][] = Array.from({ length: count }, () => []);
  for (const n of index.dataNodes) members[segment[n]!]!.push(n);
  // The last segment with nodes produces any model output computed from weights alone.
  let lastSegment = count - 1;
  while (lastSegment > 0 && members[lastSegment]!.length === 0) lastSegment--;
  const modelOutputs = new Set(index.outputs);
  const segmentOfTensor = (t: string): number => {
    const p = index.producer.get(t);
    return p === undefined ? -1 : segment[p]!;
  };

  const parts: PlannedPart[] = [];
  for (let s = 0; s <= lastSegment; s++) {
    const data = members[s]!;
    if (data.length === 0) continue;
    const constants = new Set<number>();
    for (const n of data) for (const c of closure(n)) constants.add(c);
    // Model outputs computed from weights alone are produced by the last part.
    if (s === lastSegment) {
      for (const o of index.outputs) {
        const p = index.producer.get(o);
        if (p !== undefined && index.constantNode[p]) {
          constants.add(p);
          for (const c of closure(p)) constants.add(c);
        }
      }
    }
    // Constant nodes read only weights and other constants, so they can all come first.
    const constOrder = Int32Array.from(constants, (c) => index.position[c]!).sort();
    const nodes = [...Array.from(constOrder, (p) => index.order[p]!), ...data];

    const inputs: string[] = [];
    const seen = new Set<string>();
    for (const n of data) {
      for (const r of index.nodeInputs[n]!) {
        if (index.constantTensors.has(r) || seen.has(r)) continue;
        seen.add(r);
        if (segmentOfTensor(r) !== s) inputs.push(r);
      }
    }
    const inputOrder = (t: string) => {
      const i = index.inputs.indexOf(t);
      return i >= 0 ? i - index.inputs.length : index.position[index.producer.get(t)!]!;
    };
    inputs.sort((a, b) => inputOrder(a) - inputOrder(b));

    const outputs: string[] = [];
    for (const n of data) {
      for (const o of index.nodes[n]!.output ?? []) {
        if (!o) continue;
        const readElsewhere = (index.consumers.get(o) ?? []).some((c) => !index.constantNode[c] && segment[c] !== s);
        if (readElsewhere || modelOutputs.has(o)) outputs.push(o);
      }
    }
    if (s === lastSegment) {
      for (const o of index.outputs) if (index.constantTensors.has(o) && !outputs.includes(o)) outputs.push(o);
    }
    parts.push({ number: s + 1, name: `${graphName}${s + 1}`, nodes, inputs, outputs });
  }
  return parts;
}
