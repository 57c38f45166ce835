/**
 * Small DAGs for the cut tests (random graphs, an Inception-like block, a residual block) and
 * node sets on them, computed from the graph apart from the split engine.
 */
import { encodeModel } from '../../src/onnx/codec.js';
import type { GraphIndex } from '../../src/onnx/graph.js';
import { modelFromBytes } from '../../src/onnx/model.js';
import type { ModelProto } from '../../src/onnx/types.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import type { CutCosts } from '../../src/split/min-cut.js';
import type { TestSubject } from '../helpers.js';
import { GraphBuilder, Rng, type Value } from '../models/builder.js';

export function subjectOf(model: ModelProto): TestSubject {
  const g = model.graph!;
  const inputs = (g.input ?? []).map((v) => ({ name: v.name!, dims: v.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue)) }));
  return { name: g.name!, model: modelFromBytes(encodeModel(model), { file: `${g.name}.onnx` }), inputs };
}

/**
 * A random DAG of `count` nodes over one or two inputs of random widths: Gemm (some with weights
 * in Constant nodes), Relu, Add of two tensors of the same width, Concat of two tensors. Every
 * tensor no node reads is a model output.
 */
export function randomDag(seed: number, count: number): ModelProto {
  const g = new GraphBuilder(`dag_${seed}`, seed);
  const rng = g.rng;
  const int = (n: number) => Math.floor(rng.next() * n);
  const pool: Value[] = [g.input('x', [1, 1 + int(6)])];
  if (rng.next() < 0.4) pool.push(g.input('y', [1, 1 + int(6)]));
  const used = new Set<string>();
  const pick = (from: Value[] = pool) => {
    const v = from[int(from.length)]!;
    used.add(v.name);
    return v;
  };
  for (let i = 0; i < count; i++) {
    const r = rng.next();
    let v: Value;
    if (r < 0.3) v = g.gemm(pick(), 1 + int(8), { constantWeights: rng.next() < 0.3 });
    else if (r < 0.5) v = g.relu(pick());
    else if (r < 0.75) {
      const a = pick();
      v = g.add(a, pick(pool.filter((p) => p.shape[1] === a.shape[1])));
    } else v = g.concat([pick(), pick()], 1);
    pool.push(v);
  }
  for (const v of pool.slice(1)) if (!used.has(v.name) && v.name !== 'y') g.output(v);
  return g.build();
}

export interface InceptionBlock {
  model: ModelProto;
  /** Output tensor of each branch's last node. */
  branches: string[];
}

/** Four branches (1x1; 1x1 then 3x3; 1x1 then 5x5; max pool then 1x1) joined by Concat, in branch order. */
export function inceptionBlock(): InceptionBlock {
  const g = new GraphBuilder('inception_block', 11);
  const x = g.input('input', [1, 4, 6, 6]);
  const b1 = g.relu(g.conv(x, 3, 1));
  const b2 = g.relu(g.conv(g.relu(g.conv(x, 2, 1)), 3, 3));
  const b3 = g.relu(g.conv(g.relu(g.conv(x, 2, 1)), 3, 5));
  const b4 = g.relu(g.conv(g.maxPool(x, 3, { stride: 1, pad: 1 }), 3, 1));
  const branches = [b1.name, b2.name, b3.name, b4.name];
  g.output(g.concat([b1, b2, b3, b4], 1), 'output');
  return { model: g.build(), branches };
}

/** Two residual blocks: conv, relu, conv, add of the block's input, relu. */
export function residualBlocks(): ModelProto {
  const g = new GraphBuilder('residual_blocks', 12);
  let x = g.input('input', [1, 4, 6, 6]);
  for (let b = 0; b < 2; b++) x = g.relu(g.add(g.conv(g.relu(g.conv(x, 4, 3)), 4, 3), x));
  g.output(x, 'output');
  return g.build();
}

/** Data nodes `seeds` and every data node they depend on (their ancestors), from the graph itself. */
export function ancestors(index: GraphIndex, seeds: Iterable<number>): Set<number> {
  const producerOf = new Map<string, number>();
  index.nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producerOf.set(o, i)));
  const out = new Set<number>();
  const stack = [...seeds];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (out.has(n) || index.constantNode[n]) continue;
    out.add(n);
    for (const r of index.nodes[n]!.input ?? []) {
      const p = producerOf.get(r);
      if (p !== undefined) stack.push(p);
    }
  }
  return out;
}

/** A random set of data nodes closed under predecessors. */
export function randomClosedSet(index: GraphIndex, rng: Rng, p = 0.3): Set<number> {
  return ancestors(index, index.dataNodes.filter(() => rng.next() < p));
}

/** True when no node of `edge` reads a tensor a data node outside it produces. */
export function isClosed(index: GraphIndex, edge: ReadonlySet<number>): boolean {
  return [...edge].every((n) => [...ancestors(index, [n])].every((m) => edge.has(m)));
}

/** Every predecessor-closed set of data nodes (the graph must be small). */
export function closedSets(a: ModelAnalysis): Set<number>[] {
  const nodes = a.index.dataNodes;
  if (nodes.length > 14) throw new Error(`${nodes.length} data nodes is too many to enumerate`);
  const out: Set<number>[] = [];
  for (let mask = 0; mask < 1 << nodes.length; mask++) {
    const s = new Set(nodes.filter((_, j) => mask & (1 << j)));
    if (isClosed(a.index, s)) out.push(s);
  }
  return out;
}

/**
 * The cost of a cut straight from the definition, apart from the min-cut: each side's node times,
 * each tensor available on the edge that a cloud node reads once (transferMs, by its bytes and
 * name), each model output a cloud node produces once (returnMs, else transferMs), the fixed cost
 * when the cloud runs anything.
 */
export function costByDefinition(a: ModelAnalysis, costs: CutCosts, edge: ReadonlySet<number>): number {
  const { index } = a;
  const g = a.model.proto.graph!;
  const data = new Set(index.dataNodes);
  const producerOf = new Map<string, number>();
  g.node!.forEach((n, i) => (n.output ?? []).forEach((o) => producerOf.set(o, i)));
  let total = 0;
  const crossing = new Set<string>();
  const returned = new Set<string>();
  for (const i of index.dataNodes) {
    const n = g.node![i]!;
    if (edge.has(i)) {
      total += costs.edgeMs[i]!;
      continue;
    }
    total += costs.cloudMs[i]!;
    for (const r of n.input ?? []) {
      const p = producerOf.get(r);
      if (p === undefined ? index.inputs.includes(r) : data.has(p) && edge.has(p)) crossing.add(r);
    }
    for (const o of n.output ?? []) if (index.outputs.includes(o)) returned.add(o);
  }
  const bytes = (t: string) => a.shapes.get(t)!.bytes;
  for (const t of crossing) total += costs.transferMs(bytes(t), t);
  for (const t of returned) total += (costs.returnMs ?? costs.transferMs)(bytes(t), t);
  if (edge.size < index.dataNodes.length) total += costs.fixedMs ?? 0;
  return total;
}
