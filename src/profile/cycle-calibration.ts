/**
 * What a part costs in a sweep's cycle beyond its hot time, per side, measured on a few real
 * cycles. A profile's node times and run() call are hot (back to back), and the edge-only split
 * meets them as they are: its cycles run back to back. Every other part runs after the cycle's
 * wait (the edge after waiting for the previous result, the cloud worker after waiting for its
 * input): the thread onnxruntime-node runs it on has to be woken and the caches have cooled, which
 * costs about 0.1-0.3 ms per run here whatever the part's size, as much as a small part itself.
 * Idling before each profiled run stands in for that badly (5 ms of idle costs more than a cycle's
 * wait, which is busy with requests and decoding), so it is measured where it happens: the full
 * cycle (edge part, store, cloud worker, store, edge) runs at CALIBRATION_POINTS split points of
 * the model, and each side's cost is the median over them of the measured part time less the hot
 * prediction of that part. This is the profile's `cycle_ms` fixed cost.
 */
import type { Row } from './columns.js';
import { CYCLE_COST, type CostStat, type LayerProfile, type Side } from './layer-profile.js';
import { predictCompute } from '../predict/model.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { median } from './stats.js';

/** The split points calibrated on, as fractions of the model's data nodes: both sides run a real share of it. */
export const CALIBRATION_FRACTIONS = [1 / 3, 2 / 3] as const;
/** Recorded cycles per calibration point (after the run's warm-up cycles). */
export const CALIBRATION_REP = 8;

/**
 * The split points nearest CALIBRATION_FRACTIONS of the data nodes, each with nodes on both sides;
 * fewer when the model has fewer such points (none for a one-node model).
 */
export function calibrationPoints(a: ModelAnalysis): SplitPoint[] {
  const m = a.index.dataNodes.length;
  const inner = a.splitPoints.filter((p) => p.position > 0 && p.position < m);
  const chosen = new Map<number, SplitPoint>();
  for (const f of CALIBRATION_FRACTIONS) {
    const rest = inner.filter((p) => !chosen.has(p.index));
    if (rest.length === 0) break;
    const best = rest.reduce((b, p) => (Math.abs(p.position - f * m) < Math.abs(b.position - f * m) ? p : b));
    chosen.set(best.index, best);
  }
  return [...chosen.values()].sort((x, y) => x.index - y.index);
}

export interface CycleCalibration {
  /** Per side, the profile's cycle_ms: median over the points of (measured part ms - hot prediction), at least 0. */
  cost: Record<Side, CostStat>;
  /** Per point: its index, the hot predictions and the measured medians (ms). */
  points: { split_index: number; predicted: Record<Side, number>; measured: Record<Side, number>; cycles: number }[];
}

/**
 * The cycle costs from the rows of real cycles at calibration points (`rows`, any number per
 * point; only status 'ok' counts) against `hot`, a profile without cycle costs.
 */
export function cycleCosts(a: ModelAnalysis, hot: LayerProfile, rows: readonly Row[]): CycleCalibration {
  const compute = predictCompute(a, hot);
  const byIndex = new Map(a.splitPoints.map((p, i) => [p.index, i]));
  const indices = [...new Set(rows.map((r) => Number(r.split_index)))].sort((x, y) => x - y);
  const points = indices.map((split_index) => {
    const ok = rows.filter((r) => Number(r.split_index) === split_index && r.status === 'ok');
    const c = compute[byIndex.get(split_index)!]!;
    return {
      split_index,
      predicted: { edge: c.edge.ms, cloud: c.cloud.ms },
      measured: { edge: median(ok.map((r) => Number(r.edge_ms))), cloud: median(ok.map((r) => Number(r.cloud_ms))) },
      cycles: ok.length,
    };
  });
  const usable = points.filter((p) => p.cycles > 0);
  const side = (s: Side): CostStat => {
    const extra = usable.map((p) => Math.max(0, p.measured[s] - p.predicted[s]));
    return extra.length ? { medianMs: median(extra), p95Ms: Math.max(...extra), runs: usable.reduce((n, p) => n + p.cycles, 0) } : { medianMs: 0, p95Ms: 0, runs: 0 };
  };
  return { cost: { edge: side('edge'), cloud: side('cloud') }, points };
}

/** `hot` with each side's cycle cost set. */
export function withCycleCosts(hot: LayerProfile, cost: Record<Side, CostStat>): LayerProfile {
  return { ...hot, fixed: { edge: { ...hot.fixed.edge, [CYCLE_COST]: cost.edge }, cloud: { ...hot.fixed.cloud, [CYCLE_COST]: cost.cloud } } };
}
