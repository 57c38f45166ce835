/**
 * The DAG optimum from a profile: the best cut over every set of nodes closed under predecessors
 * (split points are the cuts of one execution order), found by min-cut (src/split/min-cut.ts) with
 * costs taken from the same prediction recommend ranks split points with:
 *
 * - a node's edge and cloud time are its profile medians times the side's cycle scale (a part in a
 *   cycle takes cycle_ms + cycle_scale x its hot time), and so are the fixed costs below; a model output it produces costs the
 *   edge's fetch per MB when it runs there; the data nodes that read only model inputs carry the
 *   edge's cycle_ms, its run() call and the feeding of the inputs (paid once the edge runs anything: exact when
 *   one node starts the graph, counted once per such node otherwise);
 * - a tensor that crosses (either way) costs the payload's per-byte costs (encode, PUT, GET,
 *   decode, the link's rate) on its bytes plus a per-tensor envelope fitted on the split points'
 *   exact payload sizes, plus the cloud's feed and the edge's fetch per MB; sent with a tensor
 *   codec, a tensor it codes pays the per-byte costs on its coded bytes, plus the codec's encode
 *   and decode time (dag-codec.ts), and the optimum is found for each codec asked for (the best
 *   cut x codec);
 * - once the cloud runs anything: the cloud's cycle_ms and run() call, the store's per-request
 *   costs, the link's round trips and the notification, and the payloads' fixed envelope (fixedMs).
 *
 * Tensor costs are by bytes only, so a split point's total here differs from predict's by the
 * envelope's fit (alignment padding, name lengths) and by the fetch and feed per MB of the
 * direction the bytes did not take (model inputs are not fetched from the edge part; the outputs
 * the cloud returns are fetched from the cloud part, not fed to it); test/predict/dag.test.ts
 * checks that difference exactly at every split point.
 */
import { cycleMs, cycleScale, edgeOnlyScale, type LayerProfile } from '../profile/layer-profile.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { evaluateCut, optimalCut, splitPointEdgeNodes, type CutCosts, type CutEvaluation } from '../split/min-cut.js';
import { edgeNodeNames } from '../split/node-cut.js';
import { tensorCodecCost } from './dag-codec.js';
import { wireMs, type Link } from './link.js';
import { predictCompute, profileNodeKey } from './model.js';
import { cycleTimes } from './predict.js';
import { wireBytes } from './payload-size.js';
import type { StoreCosts } from './store-costs.js';

/** Per-byte ms of a tensor in a payload: encode, PUT, GET, decode, and the link's rate. */
function payloadPerByteMs(store: StoreCosts, link: Link): number {
  return (store.encode.perMbMs + store.put.perMbMs + store.get.perMbMs + store.decode.perMbMs) / 1e6 + wireMs(1, link);
}

/** The payloads' envelope: fixed bytes per cycle and bytes per tensor carried, fitted on the split points' exact sizes. */
export function payloadEnvelope(a: ModelAnalysis): { fixedBytes: number; perTensorBytes: number } {
  const m = a.index.dataNodes.length;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const p of a.splitPoints) {
    if (p.position === m) continue;
    const cut = evaluateCut(a, ZERO_COSTS(a), splitPointEdgeNodes(a.index, p));
    const tensors = [...cut.cutTensors, ...cut.returnedOutputs];
    const raw = tensors.reduce((s, t) => s + (a.shapes.get(t)?.bytes ?? 0), 0);
    const w = wireBytes(a, p);
    xs.push(tensors.length);
    ys.push(w.input + w.result - raw);
  }
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const slope = sxx > 0 ? Math.max(0, xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / sxx) : 0;
  return { fixedBytes: Math.max(0, my - slope * mx), perTensorBytes: slope };
}

const ZERO_COSTS = (a: ModelAnalysis): CutCosts => ({ edgeMs: new Float64Array(a.index.nodes.length), cloudMs: new Float64Array(a.index.nodes.length), transferMs: () => 0 });

/**
 * Min-cut costs from the prediction model: a profile, the store's costs and a link; with a tensor
 * `codec`, a cut tensor it codes costs the payload's per-byte costs on its coded bytes plus the
 * codec's encode and decode time (dag-codec.ts), while the cloud's feed, the edge's fetch and
 * the model outputs the cloud returns stay raw.
 */
export function dagCutCosts(a: ModelAnalysis, p: LayerProfile, store: StoreCosts, link: Link, envelope = payloadEnvelope(a), codec = 'raw'): CutCosts {
  const { index } = a;
  // Every part in a cycle takes cycle_ms + cycle_scale x its hot time: hot costs are scaled here, each side's cycle_ms goes with its run() call.
  const fixed = (side: 'edge' | 'cloud', name: 'run_call' | 'feed_per_mb' | 'fetch_per_mb') => cycleScale(p, side) * p.fixed[side][name].medianMs;
  const by = new Map(p.nodes.map((n) => [`${n.side}\u0000${n.node}`, n.medianMs]));
  const edgeMs = new Float64Array(index.nodes.length);
  const cloudMs = new Float64Array(index.nodes.length);
  const bytes = (t: string) => a.shapes.get(t)?.bytes ?? 0;
  const inputBytes = index.inputs.reduce((s, t) => s + bytes(t), 0);
  const outputs = new Set(index.outputs);
  for (const n of index.dataNodes) {
    const key = profileNodeKey(index.nodes[n]!);
    edgeMs[n] = cycleScale(p, 'edge') * (by.get(`edge\u0000${key}`) ?? 0);
    cloudMs[n] = cycleScale(p, 'cloud') * (by.get(`cloud\u0000${key}`) ?? 0);
    for (const o of new Set(index.nodes[n]!.output ?? [])) if (o && outputs.has(o)) edgeMs[n] += (fixed('edge', 'fetch_per_mb') * bytes(o)) / 1e6;
    const startsGraph = index.nodeInputs[n]!.every((t) => {
      const q = index.producer.get(t);
      return q === undefined || index.constantNode[q];
    });
    if (startsGraph) edgeMs[n] += cycleMs(p, 'edge') + fixed('edge', 'run_call') + (fixed('edge', 'feed_per_mb') * inputBytes) / 1e6;
  }
  const perByte = payloadPerByteMs(store, link);
  const perMb = (fixed('cloud', 'feed_per_mb') + fixed('edge', 'fetch_per_mb')) / 1e6;
  const cycle = cycleTimes({ edgeMs: 0, cloudMs: 0, inputBytes: 0, resultBytes: 0, edgeOnly: false }, store, link).total_ms;
  // The edge-only cut as predict has it (its own scale, not the cycle line), where the profile measured one.
  const alone = edgeOnlyScale(p) === undefined ? -1 : a.splitPoints.findIndex((sp) => sp.position === index.dataNodes.length);
  const raw = (b: number) => perByte * (b + envelope.perTensorBytes) + perMb * b;
  const coded = codec === 'raw' ? undefined : tensorCodecCost(a, p, codec);
  const transferMs = (b: number, t?: string): number => {
    const c = t === undefined ? undefined : coded?.codedBytes(t);
    return c === undefined ? raw(b) : perByte * (c + envelope.perTensorBytes) + perMb * b + coded!.codecMs(b);
  };
  return {
    edgeMs,
    cloudMs,
    transferMs,
    returnMs: raw,
    fixedMs: cycleMs(p, 'cloud') + fixed('cloud', 'run_call') + cycle + perByte * envelope.fixedBytes,
    ...(alone >= 0 ? { edgeOnlyMs: predictCompute(a, p)[alone]!.edge.ms } : {}),
  };
}

export interface DagOptimum {
  total_ms: number;
  edge_nodes: number;
  /** Names of the edge nodes, as a cut file lists them. */
  edge_node_names: string[];
  cut_tensors: string[];
  /** Raw bytes of the cut tensors. */
  cut_bytes: number;
  /** The codec the cut tensors are sent with (raw: none), and their bytes as it sends them (bodies only). */
  tensor_codec: string;
  cut_wire_bytes: number;
  /** The best split point under the same costs, and its codec, over the codecs asked for. */
  best_split_index: number;
  best_split_codec: string;
  best_split_total_ms: number;
  /** What the optimum saves over the best split point, in ms and in % of the split point's total. */
  saved_ms: number;
  saved_pct: number;
  /** The optimum is a split point's cut. */
  is_split_point: boolean;
}

/** Savings below this (ms) are rounding: the best split point is then optimal. */
const TIE_MS = 1e-9;

function describeOptimum(a: ModelAnalysis, best: CutEvaluation, codec: { name: string; bytes: (t: string) => number }, split: { index: number; codec: string; totalMs: number }): DagOptimum {
  const saved = split.totalMs - best.totalMs > TIE_MS ? split.totalMs - best.totalMs : 0;
  return {
    total_ms: saved === 0 ? split.totalMs : best.totalMs,
    edge_nodes: best.edgeNodes.length,
    edge_node_names: edgeNodeNames(a.index, best.edgeNodes),
    cut_tensors: best.cutTensors,
    cut_bytes: best.cutTensors.reduce((s, t) => s + (a.shapes.get(t)?.bytes ?? 0), 0),
    tensor_codec: codec.name,
    cut_wire_bytes: Math.round(best.cutTensors.reduce((s, t) => s + codec.bytes(t), 0)),
    best_split_index: split.index,
    best_split_codec: split.codec,
    best_split_total_ms: split.totalMs,
    saved_ms: saved,
    saved_pct: split.totalMs > 0 ? (100 * saved) / split.totalMs : 0,
    is_split_point: saved === 0,
  };
}

/**
 * The DAG optimum on a link over the tensor codecs asked for (the best cut x codec), against the
 * best split point x codec under the same costs (no constraints apply).
 */
export function dagOptimum(a: ModelAnalysis, p: LayerProfile, store: StoreCosts, link: Link, envelope = payloadEnvelope(a), codecs: readonly string[] = ['raw']): DagOptimum {
  let best: { codec: string; cut: CutEvaluation } | undefined;
  let split: { codec: string; index: number; cut: CutEvaluation } | undefined;
  for (const codec of codecs.length ? codecs : ['raw']) {
    const r = optimalCut(a, dagCutCosts(a, p, store, link, envelope, codec));
    if (!best || r.best.totalMs < best.cut.totalMs) best = { codec, cut: r.best };
    if (!split || r.bestSplit.cost.totalMs < split.cut.totalMs) split = { codec, index: r.bestSplit.point.index, cut: r.bestSplit.cost };
  }
  // When the optimum ties the best split point, that split point (and its codec) is the answer (and the cut written).
  const answer = split!.cut.totalMs - best!.cut.totalMs <= TIE_MS ? { codec: split!.codec, cut: split!.cut } : best!;
  const coded = answer.codec === 'raw' ? undefined : tensorCodecCost(a, p, answer.codec);
  const bytes = (t: string) => coded?.codedBytes(t) ?? a.shapes.get(t)?.bytes ?? 0;
  return describeOptimum(a, answer.cut, { name: answer.codec, bytes }, { index: split!.index, codec: split!.codec, totalMs: split!.cut.totalMs });
}
