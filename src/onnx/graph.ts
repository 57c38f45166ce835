/**
 * Graph index: producers, consumers, topological order, and which tensors depend on the model's
 * inputs (data) and which are computed from weights alone (constants, copied into every part
 * that needs them and never transferred).
 */
import { GraphError } from '../errors.js';
import type { GraphProto, NodeProto } from './types.js';

/** Operators whose result differs between runs: never duplicated into several parts. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

export interface GraphIndex {
  nodes: NodeProto[];
  /** Node indices in a valid execution order (file order when the file is sorted). */
  order: number[];
  /** Position of each node index in `order`. */
  position: Int32Array;
  /** Graph inputs that are not initializers: what a user feeds. */
  inputs: string[];
  outputs: string[];
  initializers: Map<string, number>;
  sparseInitializers: Map<string, number>;
  producer: Map<string, number>;
  /** Per node: explicit inputs plus names its subgraphs take from the enclosing graph; empty names dropped. */
  nodeInputs: string[][];
  consumers: Map<string, number[]>;
  constantNode: boolean[];
  /** Tensors computed from weights alone: initializers and outputs of constant nodes. */
  constantTensors: Set<string>;
  /** Data-dependent node indices in execution order. */
  dataNodes: number[];
  /** True when the file's node order had to be sorted. */
  sorted: boolean;
}

/** Names a subgraph reads from enclosing scopes (recursively through nested subgraphs). */
export function outerReferences(g: GraphProto): Set<string> {
  const defined = new Set<string>();
  for (const i of g.input ?? []) if (i.name) defined.add(i.name);
  for (const t of g.initializer ?? []) if (t.name) defined.add(t.name);
  for (const s of g.sparseInitializer ?? []) if (s.values?.name) defined.add(s.values.name);
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) defined.add(o);
  const refs = new Set<string>();
  for (const n of g.node ?? []) {
    for (const name of nodeReads(n)) if (!defined.has(name)) refs.add(name);
  }
  for (const o of g.output ?? []) if (o.name && !defined.has(o.name)) refs.add(o.name);
  return refs;
}

function nodeReads(n: NodeProto): string[] {
  const names = (n.input ?? []).filter((s) => s !== '');
  for (const a of n.attribute ?? []) {
    const graphs = a.g ? [a.g, ...(a.graphs ?? [])] : (a.graphs ?? []);
    for (const g of graphs) for (const r of outerReferences(g)) names.push(r);
  }
  return [...new Set(names)];
}

function nodeLabel(nodes: NodeProto[], i: number): string {
  const n = nodes[i]!;
  return n.name ? `'${n.name}' (${n.opType})` : `#${i} (${n.opType})`;
}

export function indexGraph(graph: GraphProto, label = 'model'): GraphIndex {
  const nodes = graph.node ?? [];
  if (nodes.length === 0) throw new GraphError(`${label}: the graph has no nodes`);
  if ((graph.output ?? []).length === 0) throw new GraphError(`${label}: the graph has no outputs`);
  const initializers = new Map<string, number>();
  (graph.initializer ?? []).forEach((t, i) => initializers.set(t.name ?? '', i));
  const sparseInitializers = new Map<string, number>();
  (graph.sparseInitializer ?? []).forEach((s, i) => sparseInitializers.set(s.values?.name ?? '', i));
  const inputs = (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n) && !sparseInitializers.has(n));
  const outputs = (graph.output ?? []).map((v) => v.name ?? '');

  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (!o) continue;
      if (producer.has(o)) throw new GraphError(`${label}: tensor '${o}' is produced by two nodes, ${nodeLabel(nodes, producer.get(o)!)} and ${nodeLabel(nodes, i)}`);
      producer.set(o, i);
    }
  });
  const available = (name: string) => producer.has(name) || initializers.has(name) || sparseInitializers.has(name) || inputs.includes(name);
  const inputSet = new Set(inputs);
  const nodeInputs = nodes.map((n, i) => {
    const reads = nodeReads(n);
    for (const r of reads) {
      if (!producer.has(r) && !initializers.has(r) && !sparseInitializers.has(r) && !inputSet.has(r)) {
        throw new GraphError(`${label}: node ${nodeLabel(nodes, i)} reads tensor '${r}', which no node, input or initializer provides`);
      }
    }
    return reads;
  });
  for (const o of outputs) {
    if (!available(o)) throw new GraphError(`${label}: graph output '${o}' is not produced by any node`);
  }
  const consumers = new Map<string, number[]>();
  nodeInputs.forEach((reads, i) => {
    for (const r of reads) {
      let list = consumers.get(r);
      if (!list) consumers.set(r, (list = []));
      list.push(i);
    }
  });

  const { order, sorted } = topologicalOrder(nodes, nodeInputs, producer, label);
  const position = new Int32Array(nodes.length);
  order.forEach((n, p) => (position[n] = p));

  const constantTensors = new Set<string>([...initializers.keys(), ...sparseInitializers.keys()]);
  const constantNode = new Array<boolean>(nodes.length).fill(false);
  const dataNodes: number[] = [];
  for (const i of order) {
    const n = nodes[i]!;
    const reads = nodeInputs[i]!;
    const isConst =
      !NONDETERMINISTIC.has(n.opType ?? '') &&
      (reads.length > 0 ? reads.every((r) => constantTensors.has(r)) : n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx'));
    constantNode[i] = isConst;
    if (isConst) {
      for (const o of n.output ?? []) if (o) constantTensors.add(o);
    } else {
      dataNodes.push(i);
    }
  }
  return {
    nodes,
    order,
    position,
    inputs,
    outputs,
    initializers,
    sparseInitializers,
    producer,
    nodeInputs,
    consumers,
    constantNode,
    constantTensors,
    dataNodes,
    sorted,
  };
}

function topologicalOrder(
  nodes: NodeProto[],
  nodeInputs: string[][],
  producer: Map<string, number>,
  label: string,
): { order: number[]; sorted: boolean } {
  // Fast path: the file is already in execution order.
  let inOrder = true;
  outer: for (let i = 0; i < nodes.length; i++) {
    for (const r of nodeInputs[i]!) {
      const p = producer.get(r);
      if (p !== undefined && p >= i) {
        inOrder = false;
        break outer;
      }
    }
  }
  if (inOrder) return { order: nodes.map((_, i) => i), sorted: false };

  // Kahn's algorithm, always taking the ready node that comes first in the file.
  const indegree = new Int32Array(nodes.length);
  const dependents: number[][] = nodes.map(() => []);
  nodeInputs.forEach((reads, i) => {
    const preds = new Set<number>();
    for (const r of reads) {
      const p = producer.get(r);
      if (p !== undefined) preds.add(p);
    }
    indegree[i] = preds.size;
    for (const p of preds) dependents[p]!.push(i);
  });
  const heap = new MinHeap();
  indegree.forEach((d, i) => d === 0 && heap.push(i));
  const order: number[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(i);
    for (const d of dependents[i]!) if (--indegree[d]! === 0) heap.push(d);
  }
  if (order.length < nodes.length) {
    const stuck = nodes.map((_, i) => i).filter((i) => indegree[i]! > 0);
    const names = stuck.slice(0, 5).map((i) => nodeLabel(nodes, i));
    throw new GraphError(`${label}: the graph has a cycle through ${names.join(', ')}${stuck.length > 5 ? ` and ${stuck.length - 5} more` : ''}`);
  }
  return { order, sorted: true };
}

class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
