/**
 * The optimal edge/cloud cut over every cut of the DAG (every set of data-dependent nodes closed
 * under predecessors), not only the split points of one execution order, found by a minimum s-t
 * cut as DADS (Hu et al., INFOCOM 2019) does.
 *
 * Flow network: source = edge, sink = cloud. Node v has source -> v of capacity cloudMs[v] (cut
 * when v runs in the cloud) and v -> sink of capacity edgeMs[v] (cut when it runs on the edge).
 * Each data tensor t a data node reads gets an auxiliary vertex a_t with producer -> a_t of
 * capacity transferMs(bytes of t) and a_t -> reader of infinite capacity for every reader, so a
 * tensor the cloud reads is paid once however many cloud nodes read it; a model input's a_t hangs
 * from the source (inputs start on the edge). Infinite reader -> producer edges forbid a cloud
 * node feeding an edge node. Model outputs the cloud produces come back to the edge in the result:
 * each is charged transferMs(its bytes), added to its producer's cloud time, because the result
 * payload really carries them (a model with a large output, e.g. segmentation, pays for it).
 * The per-request cost (`fixedMs`: round trips, the store's per-request cost) is paid once when
 * the cloud runs anything; it is not a cut term, so the answer is the better of edge only and
 * the minimum cut plus fixedMs. Constant nodes (computed from weights alone) follow their
 * consumers, are copied into every part and never cross; they carry no cost here.
 *
 * Max-flow: Dinic's algorithm, written here (no maintained, small npm package for it exists).
 */
import type { GraphIndex } from '../onnx/graph.js';
import type { ModelAnalysis } from './analysis.js';
import { nodeCutTensors } from './node-cut.js';
import type { SplitPoint } from './points.js';

/** What a cut costs: per node, on each side, and per tensor that crosses. All in milliseconds. */
export interface CutCosts {
  /** Edge time of each node, indexed by node index (analysis.index.nodes); read for data-dependent nodes only. */
  edgeMs: ArrayLike<number>;
  /** Cloud time of each node, indexed like edgeMs. */
  cloudMs: ArrayLike<number>;
  /** Time to move tensor `tensor` of this many bytes over the link (either direction, unless returnMs is given). */
  transferMs: (bytes: number, tensor?: string) => number;
  /** Time to bring back a model output the cloud produced (default transferMs): the result payload, which no tensor codec codes. */
  returnMs?: (bytes: number, tensor?: string) => number;
  /** Paid once when anything runs in the cloud (request round trips, per-request store cost). Default 0. */
  fixedMs?: number;
  /** The edge-only cut's edge time, when it is not the sum of the nodes' (default: the sum). */
  edgeOnlyMs?: number;
}

/** A cut and its predicted cost. */
export interface CutEvaluation {
  /** Data-dependent node indices on the edge, in execution order. */
  edgeNodes: number[];
  /** Tensors that cross, edge -> cloud (model inputs and edge outputs a cloud node reads). */
  cutTensors: string[];
  /** Model outputs produced in the cloud (downloaded with the result). */
  returnedOutputs: string[];
  edgeMs: number;
  cloudMs: number;
  /** Upload of the cut tensors, download of the returned outputs, and fixedMs when the cloud runs anything. */
  transferMs: number;
  totalMs: number;
}

export interface OptimalCut {
  /** The best cut over all cuts of the DAG. */
  best: CutEvaluation;
  /** The best split point (cut in execution order) under the same costs, and its cost. */
  bestSplit: { point: SplitPoint; cost: CutEvaluation };
  /** bestSplit.cost.totalMs - best.totalMs (>= 0): what the DAG optimum saves. */
  savedMs: number;
  /** True when the optimum is itself a split point's cut (savedMs is then 0 up to rounding). */
  isSplitPoint: boolean;
}

function checkCosts(index: GraphIndex, costs: CutCosts): void {
  for (const n of index.dataNodes) {
    for (const [label, v] of [
      ['edgeMs', costs.edgeMs[n]],
      ['cloudMs', costs.cloudMs[n]],
    ] as const) {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`costs.${label}[${n}] must be a finite number >= 0, got ${v}`);
    }
  }
  const fixed = costs.fixedMs ?? 0;
  if (!(fixed >= 0) || !Number.isFinite(fixed)) throw new RangeError(`costs.fixedMs must be a finite number >= 0, got ${fixed}`);
}

function tensorBytes(a: ModelAnalysis, name: string): number {
  const info = a.shapes.get(name);
  if (!info) throw new RangeError(`${a.model.label}: no shape known for tensor '${name}'`);
  return info.bytes;
}

/** What tensor `name` costs crossing: as a cut tensor, or (`returned`) as a model output the cloud returns. */
function transferOf(a: ModelAnalysis, costs: CutCosts, name: string, returned = false): number {
  const f = returned ? (costs.returnMs ?? costs.transferMs) : costs.transferMs;
  const t = f(tensorBytes(a, name), name);
  if (!(t >= 0) || !Number.isFinite(t)) throw new RangeError(`costs.${returned && costs.returnMs ? 'returnMs' : 'transferMs'}(${tensorBytes(a, name)}) for '${name}' must be a finite number >= 0, got ${t}`);
  return t;
}

/** Model outputs produced by data nodes, with their producers. */
function dataOutputs(index: GraphIndex): { name: string; producer: number }[] {
  const out: { name: string; producer: number }[] = [];
  for (const name of new Set(index.outputs)) {
    const p = index.producer.get(name);
    if (p !== undefined && !index.constantNode[p]) out.push({ name, producer: p });
  }
  return out;
}

/** The cost of one cut (`edgeNodes`: data-node indices, assumed closed under predecessors). */
export function evaluateCut(a: ModelAnalysis, costs: CutCosts, edgeNodes: Iterable<number>): CutEvaluation {
  const { index } = a;
  const edge = new Set(edgeNodes);
  let edgeMs = 0;
  let cloudMs = 0;
  for (const n of index.dataNodes) {
    if (edge.has(n)) edgeMs += costs.edgeMs[n]!;
    else cloudMs += costs.cloudMs[n]!;
  }
  if (edge.size === index.dataNodes.length && costs.edgeOnlyMs !== undefined) edgeMs = costs.edgeOnlyMs;
  const cutTensors = nodeCutTensors(index, edge);
  const returnedOutputs = dataOutputs(index)
    .filter((o) => !edge.has(o.producer))
    .map((o) => o.name);
  let transferMs = 0;
  for (const t of cutTensors) transferMs += transferOf(a, costs, t);
  for (const t of returnedOutputs) transferMs += transferOf(a, costs, t, true);
  if (edge.size < index.dataNodes.length) transferMs += costs.fixedMs ?? 0;
  return {
    edgeNodes: index.dataNodes.filter((n) => edge.has(n)),
    cutTensors,
    returnedOutputs,
    edgeMs,
    cloudMs,
    transferMs,
    totalMs: edgeMs + cloudMs + transferMs,
  };
}

/** The edge nodes of a split point: its own node set, or the first `position` nodes in execution order. */
export function splitPointEdgeNodes(index: GraphIndex, point: SplitPoint): number[] {
  return point.edgeNodes ?? index.dataNodes.slice(0, point.position);
}

/** Dinic's maximum flow on a graph with float capacities (Infinity allowed on edges that cannot be cut). */
class FlowNetwork {
  private readonly head: number[];
  private readonly to: number[] = [];
  private readonly cap: number[] = [];
  private readonly next: number[] = [];

  constructor(readonly size: number) {
    this.head = new Array<number>(size).fill(-1);
  }

  addEdge(u: number, v: number, c: number): void {
    if (c <= 0) return;
    for (const [a, b, w] of [
      [u, v, c],
      [v, u, 0],
    ] as const) {
      this.to.push(b);
      this.cap.push(w);
      this.next.push(this.head[a]!);
      this.head[a] = this.to.length - 1;
    }
  }

  /** Runs max-flow from s to t; returns the vertices still reachable from s in the residual graph. */
  minCutSourceSide(s: number, t: number, eps: number): boolean[] {
    const level = new Int32Array(this.size);
    const iter = new Int32Array(this.size);
    const bfs = (): boolean => {
      level.fill(-1);
      level[s] = 0;
      const queue = [s];
      for (let q = 0; q < queue.length; q++) {
        const u = queue[q]!;
        for (let e = this.head[u]!; e >= 0; e = this.next[e]!) {
          const v = this.to[e]!;
          if (this.cap[e]! > eps && level[v]! < 0) {
            level[v] = level[u]! + 1;
            queue.push(v);
          }
        }
      }
      return level[t]! >= 0;
    };
    // Iterative blocking-flow search along level-increasing edges.
    const augment = (): number => {
      const path: number[] = [];
      let u = s;
      for (;;) {
        if (u === t) {
          let f = Infinity;
          for (const e of path) f = Math.min(f, this.cap[e]!);
          for (const e of path) {
            this.cap[e] = this.cap[e]! - f;
            this.cap[e ^ 1] = this.cap[e ^ 1]! + f;
          }
          return f;
        }
        let e = iter[u]!;
        while (e >= 0 && !(this.cap[e]! > eps && level[this.to[e]!] === level[u]! + 1)) e = this.next[e]!;
        iter[u] = e;
        if (e >= 0) {
          path.push(e);
          u = this.to[e]!;
          continue;
        }
        // Dead end: retreat and skip the edge that led here.
        level[u] = -1;
        const back = path.pop();
        if (back === undefined) return 0;
        u = this.to[back ^ 1]!;
        iter[u] = this.next[iter[u]!]!;
      }
    };
    while (bfs()) {
      for (let v = 0; v < this.size; v++) iter[v] = this.head[v]!;
      while (augment() > 0);
    }
    const seen = new Array<boolean>(this.size).fill(false);
    seen[s] = true;
    const stack = [s];
    while (stack.length > 0) {
      const u = stack.pop()!;
      for (let e = this.head[u]!; e >= 0; e = this.next[e]!) {
        const v = this.to[e]!;
        if (this.cap[e]! > eps && !seen[v]) (seen[v] = true), stack.push(v);
      }
    }
    return seen;
  }
}

/** The minimum cut of the DADS network, without the per-request cost: the edge nodes. */
function minimumCut(a: ModelAnalysis, costs: CutCosts): number[] {
  const { index } = a;
  const vertex = new Map<number, number>();
  index.dataNodes.forEach((n, i) => vertex.set(n, i + 2));
  const SOURCE = 0;
  const SINK = 1;
  // One auxiliary vertex per tensor a data node reads: model inputs and data-node outputs.
  const tensors: { name: string; from: number; readers: number[] }[] = [];
  const readersOf = (t: string) => (index.consumers.get(t) ?? []).filter((c) => !index.constantNode[c]);
  for (const name of new Set(index.inputs)) {
    const readers = readersOf(name);
    if (readers.length > 0) tensors.push({ name, from: SOURCE, readers });
  }
  for (const n of index.dataNodes) {
    for (const o of new Set(index.nodes[n]!.output ?? [])) {
      const readers = o ? readersOf(o) : [];
      if (readers.length > 0) tensors.push({ name: o, from: vertex.get(n)!, readers });
    }
  }
  const net = new FlowNetwork(2 + index.dataNodes.length + tensors.length);
  const returned = new Map<number, number>();
  for (const o of dataOutputs(index)) returned.set(o.producer, (returned.get(o.producer) ?? 0) + transferOf(a, costs, o.name, true));
  let scale = 0;
  for (const n of index.dataNodes) {
    const v = vertex.get(n)!;
    const cloud = costs.cloudMs[n]! + (returned.get(n) ?? 0);
    net.addEdge(SOURCE, v, cloud);
    net.addEdge(v, SINK, costs.edgeMs[n]!);
    scale += cloud + costs.edgeMs[n]!;
  }
  tensors.forEach((t, i) => {
    const aux = 2 + index.dataNodes.length + i;
    const c = transferOf(a, costs, t.name);
    scale += c;
    net.addEdge(t.from, aux, c);
    for (const r of t.readers) {
      net.addEdge(aux, vertex.get(r)!, Infinity);
      // A reader on the edge forces its producer onto the edge.
      if (t.from !== SOURCE) net.addEdge(vertex.get(r)!, t.from, Infinity);
    }
  });
  const side = net.minCutSourceSide(SOURCE, SINK, Math.max(scale, 1) * 1e-12);
  return index.dataNodes.filter((n) => side[vertex.get(n)!]);
}

/**
 * The best cut over every cut of the DAG under `costs`, compared with the best split point of
 * `analysis.splitPoints` under the same costs. See the module comment for the cost model.
 */
export function optimalCut(a: ModelAnalysis, costs: CutCosts): OptimalCut {
  const { index } = a;
  checkCosts(index, costs);
  const cut = evaluateCut(a, costs, minimumCut(a, costs));
  const edgeOnly = evaluateCut(a, costs, index.dataNodes);
  const best = edgeOnly.totalMs <= cut.totalMs ? edgeOnly : cut;
  let bestSplit: { point: SplitPoint; cost: CutEvaluation } | undefined;
  for (const point of a.splitPoints) {
    const cost = evaluateCut(a, costs, splitPointEdgeNodes(index, point));
    if (!bestSplit || cost.totalMs < bestSplit.cost.totalMs) bestSplit = { point, cost };
  }
  const isSplitPoint = best.edgeNodes.every((n, i) => n === index.dataNodes[i]);
  return { best, bestSplit: bestSplit!, savedMs: Math.max(0, bestSplit!.cost.totalMs - best.totalMs), isSplitPoint };
}

/**
 * The best cut with at least one node in the cloud: every such cut has a data node that no other
 * data node reads (a graph's last node) in the cloud, so this is the best over those nodes of the
 * minimum cut with that node held in the cloud (an edge time above any cut's cost), evaluated
 * with the real costs. The optimum over every cut is this or edge only (optimalCut).
 */
export function bestOffloadingCut(a: ModelAnalysis, costs: CutCosts): CutEvaluation {
  checkCosts(a.index, costs);
  const { index } = a;
  const data = new Set(index.dataNodes);
  const read = new Set(index.dataNodes.flatMap((n) => index.nodeInputs[n]!.map((t) => index.producer.get(t)).filter((q): q is number => q !== undefined && data.has(q))));
  // More than any cut costs: every node on its dearer side and every tensor crossing.
  const tensors = [...index.inputs, ...index.dataNodes.flatMap((n) => index.nodes[n]!.output ?? [])].filter(Boolean) as string[];
  let held = 1 + (costs.fixedMs ?? 0) + tensors.reduce((s, t) => s + transferOf(a, costs, t) + transferOf(a, costs, t, true), 0);
  for (const n of index.dataNodes) held += Math.max(costs.edgeMs[n]!, costs.cloudMs[n]!);
  let best: CutEvaluation | undefined;
  for (const last of index.dataNodes.filter((n) => !read.has(n))) {
    const edgeMs = Float64Array.from(costs.edgeMs);
    edgeMs[last] = 2 * held;
    const cut = evaluateCut(a, costs, minimumCut(a, { ...costs, edgeMs }));
    if (!best || cut.totalMs < best.totalMs) best = cut;
  }
  return best!;
}
