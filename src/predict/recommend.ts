/**
 * The best split point (and tensor codec, when candidates carry several) for a link under
 * constraints, the Pareto set, and the crossover table
 * (the best split from 1 Mbit/s to 10 Gbit/s, with the exact bandwidths where the choice
 * changes). Candidates come from a profile (predicted, predict.ts) or from a run_all CSV
 * (measured compute and store costs, the link's part re-modelled for the asked link).
 */
import { UsageError } from '../errors.js';
import { decadeBandwidths, linkCycleMs, type Link } from './link.js';
import type { DagOptimum } from './dag.js';
import type { MeasuredSplit } from './measured.js';
import { paretoSet } from './pareto.js';
import { cycleOf, cycleTimes, type SplitFacts } from './predict.js';
import type { StoreCosts } from './store-costs.js';

export interface Breakdown {
  edge_ms: number;
  transfer_ms: number;
  cloud_ms: number;
  total_ms: number;
}

export interface Candidate {
  split_index: number;
  split_layer: string;
  transfer_bytes: number;
  result_bytes: number;
  /** Undefined when not known (a run_all CSV read without its model). */
  edge_memory_mb?: number;
  /** The codec the cut tensors are sent with (undefined or raw: none). */
  tensor_codec?: string;
  /** The cycle on a link. */
  at(link: Link): Breakdown;
}

export function predictedCandidates(facts: readonly SplitFacts[], store: StoreCosts): Candidate[] {
  return facts.map((f) => ({
    split_index: f.split_index,
    split_layer: f.split_layer,
    transfer_bytes: f.transfer_bytes,
    result_bytes: f.result_bytes,
    edge_memory_mb: f.edge_memory_mb,
    tensor_codec: f.tensor_codec,
    at: (link) => cycleTimes(cycleOf(f), store, link),
  }));
}

/**
 * Candidates from measured medians: compute, store and codec costs as measured; the link the
 * rows were measured on (their bandwidth_mbit and rtt_ms) taken out and the asked link put in.
 * A split point that moved no bytes (edge only) has no link part.
 */
export function measuredCandidates(measured: readonly MeasuredSplit[], memoryMb?: ReadonlyMap<number, number>): Candidate[] {
  return measured.map((m) => {
    const edgeOnly = m.transfer_bytes === 0;
    const old = linkCycleMs(m.transfer_bytes, m.result_bytes, { ...(m.bandwidthMbit !== undefined ? { bandwidthMbit: m.bandwidthMbit } : {}), rttMs: m.rttMs });
    const c: Candidate = {
      split_index: m.split_index,
      split_layer: m.split_layer,
      transfer_bytes: m.transfer_bytes,
      result_bytes: m.result_bytes,
      tensor_codec: m.tensor_codec,
      at: (link) => {
        if (edgeOnly) return { edge_ms: m.edge_ms, transfer_ms: 0, cloud_ms: m.cloud_ms, total_ms: m.total_ms };
        const now = linkCycleMs(m.transfer_bytes, m.result_bytes, link);
        const transfer = Math.max(0, m.transfer_ms - old.transferMs) + now.transferMs;
        const total = Math.max(0, m.total_ms - old.transferMs - old.notifyMs) + now.transferMs + now.notifyMs;
        return { edge_ms: m.edge_ms, transfer_ms: transfer, cloud_ms: m.cloud_ms, total_ms: total };
      },
    };
    const mb = memoryMb?.get(m.split_index);
    if (mb !== undefined) c.edge_memory_mb = mb;
    return c;
  });
}

export interface Constraints {
  maxEdgeMs?: number;
  maxTransferBytes?: number;
  maxEdgeMemoryMb?: number;
}

/** Whether a candidate meets the constraints on a link; the reason when it does not. */
export function violation(c: Candidate, b: Breakdown, k: Constraints): string | undefined {
  if (k.maxEdgeMs !== undefined && b.edge_ms > k.maxEdgeMs) return `edge_ms ${b.edge_ms.toFixed(2)} > ${k.maxEdgeMs}`;
  if (k.maxTransferBytes !== undefined && c.transfer_bytes > k.maxTransferBytes) return `transfer_bytes ${c.transfer_bytes} > ${k.maxTransferBytes}`;
  if (k.maxEdgeMemoryMb !== undefined) {
    if (c.edge_memory_mb === undefined) throw new UsageError('--max_edge_memory_mb needs the model (--onnx_file) to estimate the edge memory');
    if (c.edge_memory_mb > k.maxEdgeMemoryMb) return `edge memory ${c.edge_memory_mb.toFixed(2)} MB > ${k.maxEdgeMemoryMb}`;
  }
  return undefined;
}

export interface RankedSplit extends Breakdown {
  split_index: number;
  split_layer: string;
  tensor_codec?: string;
  transfer_bytes: number;
  edge_memory_mb?: number;
  feasible: boolean;
  /** Why not feasible. */
  reason?: string;
  pareto: boolean;
  best: boolean;
}

export interface CrossoverRow {
  bandwidth_mbit: number;
  split_index: number;
  split_layer: string;
  tensor_codec?: string;
  total_ms: number;
  /** The DAG optimum's total at this bandwidth (from a profile only). */
  dag_total_ms?: number;
}

export interface CrossoverChange {
  /** The bandwidth (Mbit/s) at which `to` becomes faster than `from`. */
  bandwidth_mbit: number;
  from: number;
  to: number;
  from_codec?: string;
  to_codec?: string;
}

export interface Recommendation {
  link: Link;
  constraints: Constraints;
  best: RankedSplit;
  splits: RankedSplit[];
  pareto: number[];
  crossover: CrossoverRow[];
  changes: CrossoverChange[];
  /** The best cut over all cuts of the DAG, by min-cut (from a profile only; constraints do not apply to it). */
  dag?: DagOptimum;
}

const codecOf = (c: Candidate): { tensor_codec?: string } => (c.tensor_codec !== undefined ? { tensor_codec: c.tensor_codec } : {});

/** The fastest of `cands` on a link (ties: the lower split index). */
function fastest(cands: readonly Candidate[], link: Link): { c: Candidate; b: Breakdown } {
  let best: { c: Candidate; b: Breakdown } | undefined;
  for (const c of cands) {
    const b = c.at(link);
    if (!best || b.total_ms < best.b.total_ms) best = { c, b };
  }
  return best!;
}

/**
 * Where the best choice changes between `fromMbit` and `toMbit`. On a link of rtt r, a
 * candidate's total is A + W / bandwidth (W: its bytes' serialisation at 1 Mbit/s), a line in
 * x = 1 / bandwidth; the best is the lower envelope of those lines, walked from the low
 * bandwidth end to the high one.
 */
export function crossoverChanges(cands: readonly Candidate[], rttMs: number, fromMbit = 1, toMbit = 10_000): CrossoverChange[] {
  const lines = cands.map((c) => {
    const a = c.at({ rttMs }).total_ms;
    return { c, a, w: c.at({ bandwidthMbit: 1, rttMs }).total_ms - a };
  });
  const changes: CrossoverChange[] = [];
  let x = 1 / fromMbit;
  const xEnd = 1 / toMbit;
  const value = (l: (typeof lines)[number], at: number) => l.a + l.w * at;
  let cur = lines.reduce((b, l) => (value(l, x) < value(b, x) ? l : b));
  for (;;) {
    // Going down in x, a line with more bytes (larger w) and a smaller A overtakes at x*.
    let next: { l: (typeof lines)[number]; at: number } | undefined;
    for (const l of lines) {
      if (l === cur || l.w <= cur.w || l.a >= cur.a) continue;
      const at = (cur.a - l.a) / (l.w - cur.w);
      if (at >= x || at < xEnd) continue;
      if (!next || at > next.at || (at === next.at && l.a < next.l.a)) next = { l, at };
    }
    if (!next) break;
    const change: CrossoverChange = { bandwidth_mbit: 1 / next.at, from: cur.c.split_index, to: next.l.c.split_index };
    if (cur.c.tensor_codec !== undefined) change.from_codec = cur.c.tensor_codec;
    if (next.l.c.tensor_codec !== undefined) change.to_codec = next.l.c.tensor_codec;
    changes.push(change);
    cur = next.l;
    x = next.at;
  }
  return changes;
}

export function recommend(cands: readonly Candidate[], link: Link, constraints: Constraints = {}): Recommendation {
  const ranked = cands.map((c) => {
    const b = c.at(link);
    const reason = violation(c, b, constraints);
    const r: RankedSplit = { split_index: c.split_index, split_layer: c.split_layer, ...codecOf(c), transfer_bytes: c.transfer_bytes, ...b, feasible: reason === undefined, pareto: false, best: false };
    if (c.edge_memory_mb !== undefined) r.edge_memory_mb = c.edge_memory_mb;
    if (reason) r.reason = reason;
    return r;
  });
  const feasible = cands.filter((_, i) => ranked[i]!.feasible);
  if (feasible.length === 0) {
    const first = ranked[0]!;
    throw new UsageError(`no split point meets the constraints (e.g. split ${first.split_index}: ${first.reason})`);
  }
  const feasibleRanked = ranked.filter((r) => r.feasible);
  // A split point whose rows tie on every objective (the edge-only split, repeated under each codec) is listed once.
  const seen = new Set<string>();
  const front = paretoSet(feasibleRanked, [(r) => r.edge_ms, (r) => r.transfer_bytes, (r) => r.total_ms])
    .map((i) => feasibleRanked[i]!)
    .filter((r) => {
      const key = `${r.split_index}/${r.edge_ms}/${r.transfer_bytes}/${r.total_ms}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  for (const r of front) r.pareto = true;
  const { c } = fastest(feasible, link);
  const best = ranked[cands.indexOf(c)]!;
  best.best = true;
  const crossover = decadeBandwidths().map((bw) => {
    const f = fastest(feasible, { bandwidthMbit: bw, rttMs: link.rttMs });
    return { bandwidth_mbit: bw, split_index: f.c.split_index, split_layer: f.c.split_layer, ...codecOf(f.c), total_ms: f.b.total_ms };
  });
  return { link, constraints, best, splits: ranked, pareto: front.map((r) => r.split_index), crossover, changes: crossoverChanges(feasible, link.rttMs) };
}
