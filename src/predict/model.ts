/**
 * Compute per split point from a per-layer profile: a side's part costs the medians of its nodes
 * on that side, plus the side's fixed costs (one run() call, the MB it is fed and the MB it
 * returns): its hot time; in a sweep's cycle a part takes the side's `cycle_ms` + `cycle_scale` x
 * that; the edge-only split, whose cycles run back to back with only the sweep's own work between
 * them (no wait), `edge_only_scale` x its hot time where the profile measured it. And the edge's memory: its weights' bytes plus the largest set of activations alive
 * at once while the edge part runs.
 */
import { UsageError } from '../errors.js';
import { cycleMs, cycleScale, edgeOnlyScale, type FixedCost, type LayerProfile, type Side } from '../profile/layer-profile.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { cutSets, type SplitPoint } from '../split/points.js';
import { edgeOutputs } from './payload-size.js';

/** The name a node goes by in a profile: its name in the model, else its first output. */
export function profileNodeKey(node: { name?: string | null; output?: (string | null)[] | null }): string {
  return node.name || (node.output ?? []).find((o) => o) || '';
}

export interface SideCompute {
  ms: number;
  /** Bytes fed to the part and fetched from it. */
  feedBytes: number;
  fetchBytes: number;
}

export interface SplitCompute {
  edge: SideCompute;
  cloud: SideCompute;
}

function tensorBytes(a: ModelAnalysis, names: Iterable<string>): number {
  let n = 0;
  for (const t of names) n += a.shapes.get(t)?.bytes ?? 0;
  return n;
}

/**
 * Refuses a profile of another model, or one missing a node of this model on either side; `label`
 * names the profile file in the message.
 */
export function checkProfile(a: ModelAnalysis, p: LayerProfile, label: string): void {
  if (p.modelSha256 !== a.model.sha256) {
    throw new UsageError(`${label} is a profile of another model (model_sha256 ${p.modelSha256.slice(0, 12)}…, ${a.model.label} is ${a.model.sha256.slice(0, 12)}…)`);
  }
  for (const side of ['edge', 'cloud'] as const) {
    const have = new Set(p.nodes.filter((n) => n.side === side).map((n) => n.node));
    const missing = a.index.dataNodes.map((i) => profileNodeKey(a.index.nodes[i]!)).filter((k) => !have.has(k));
    if (missing.length) throw new UsageError(`${label} has no ${side} time for ${missing.length} node(s) of ${a.model.label}, e.g. '${missing[0]}'`);
  }
}

/** Per data node (in execution order), its median ms on each side. */
function nodeMs(a: ModelAnalysis, p: LayerProfile): Record<Side, Float64Array> {
  const out = { edge: new Float64Array(a.index.dataNodes.length), cloud: new Float64Array(a.index.dataNodes.length) };
  const by = new Map(p.nodes.map((n) => [`${n.side}\u0000${n.node}`, n.medianMs]));
  a.index.dataNodes.forEach((i, j) => {
    const key = profileNodeKey(a.index.nodes[i]!);
    out.edge[j] = by.get(`edge\u0000${key}`) ?? 0;
    out.cloud[j] = by.get(`cloud\u0000${key}`) ?? 0;
  });
  return out;
}

/** Bytes each side's part is fed and returns at every split point. */
export function partBytes(a: ModelAnalysis, point: SplitPoint): { edgeFeed: number; edgeFetch: number; cloudFeed: number; cloudFetch: number } {
  const k = point.position;
  const m = a.index.dataNodes.length;
  const edgeNodes = a.index.dataNodes.slice(0, k);
  const inputsRead = new Set<string>();
  for (const n of edgeNodes) for (const t of a.index.nodeInputs[n]!) if (a.index.inputs.includes(t)) inputsRead.add(t);
  const onEdge = edgeOutputs(a, k);
  const cutFromEdge = point.cutTensors.filter((t) => !a.index.inputs.includes(t.name)).map((t) => t.name);
  const edgeFetch = new Set([...cutFromEdge, ...[...onEdge].filter((o) => !a.index.inputs.includes(o))]);
  return {
    edgeFeed: k > 0 ? tensorBytes(a, inputsRead) : 0,
    edgeFetch: k > 0 ? tensorBytes(a, edgeFetch) : 0,
    cloudFeed: k < m ? point.transferBytes : 0,
    cloudFetch: k < m ? tensorBytes(a, a.index.outputs.filter((o) => !onEdge.has(o))) : 0,
  };
}

/** Predicted inference time of both parts at every split point. */
export function predictCompute(a: ModelAnalysis, p: LayerProfile): SplitCompute[] {
  const t = nodeMs(a, p);
  const m = a.index.dataNodes.length;
  const prefix = new Float64Array(m + 1);
  const suffix = new Float64Array(m + 1);
  for (let k = 1; k <= m; k++) prefix[k] = prefix[k - 1]! + t.edge[k - 1]!;
  for (let k = m - 1; k >= 0; k--) suffix[k] = suffix[k + 1]! + t.cloud[k]!;
  const fixed = (side: Side, name: FixedCost) => p.fixed[side][name].medianMs;
  const edgeOnly = edgeOnlyScale(p);
  const side = (s: Side, kernels: number, feed: number, fetch: number, present: boolean, alone = false): SideCompute => {
    if (!present) return { ms: 0, feedBytes: 0, fetchBytes: 0 };
    const hot = kernels + fixed(s, 'run_call') + (fixed(s, 'feed_per_mb') * feed) / 1e6 + (fixed(s, 'fetch_per_mb') * fetch) / 1e6;
    const ms = alone && edgeOnly !== undefined ? edgeOnly * hot : cycleMs(p, s) + cycleScale(p, s) * hot;
    return { ms, feedBytes: feed, fetchBytes: fetch };
  };
  return a.splitPoints.map((point) => {
    const b = partBytes(a, point);
    const k = point.position;
    return { edge: side('edge', prefix[k]!, b.edgeFeed, b.edgeFetch, k > 0, k === m), cloud: side('cloud', suffix[k]!, b.cloudFeed, b.cloudFetch, k < m) };
  });
}

export interface EdgeMemory {
  /** Bytes of the weights the edge part holds. */
  paramsBytes: number;
  /** The most activation bytes alive at once while the edge part runs. */
  peakActivationBytes: number;
  /** Their sum in MB (1e6 bytes). */
  mb: number;
}

/**
 * The edge's memory at every split point: the bytes of the weights its nodes read (each weight
 * once), plus the peak over its steps of the activations alive at that step (the tensors already
 * computed that a later node still reads, with the step's own outputs). onnxruntime's arena,
 * its workspaces and the runtime itself come on top.
 */
export function edgeMemory(a: ModelAnalysis): EdgeMemory[] {
  const sets = cutSets(a.index);
  const m = a.index.dataNodes.length;
  const params = new Float64Array(m + 1);
  const peak = new Float64Array(m + 1);
  const seen = new Set<string>();
  let bytes = 0;
  let top = 0;
  for (let k = 1; k <= m; k++) {
    const n = a.index.dataNodes[k - 1]!;
    for (const w of a.costs.weights[n]!) {
      if (seen.has(w)) continue;
      seen.add(w);
      bytes += a.shapes.get(w)?.bytes ?? 4 * (a.costs.weightElements.get(w) ?? 0);
    }
    const outs = (a.index.nodes[n]!.output ?? []).filter((o): o is string => !!o && !sets[k - 1]!.includes(o));
    top = Math.max(top, tensorBytes(a, sets[k - 1]!) + tensorBytes(a, outs), tensorBytes(a, sets[k]!));
    params[k] = bytes;
    peak[k] = top;
  }
  return a.splitPoints.map((p) => {
    const k = p.position;
    return { paramsBytes: params[k]!, peakActivationBytes: peak[k]!, mb: (params[k]! + peak[k]!) / 1e6 };
  });
}
