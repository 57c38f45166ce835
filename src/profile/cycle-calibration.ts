/**
 * What a part costs in a sweep's cycle against its hot time, per side, measured on a few real
 * cycles. A profile's node times and run() call are hot (back to back). In a sweep every part runs
 * after other work: after the cycle's wait (the edge waited for the previous result, the cloud
 * worker for its input), and even the edge-only split's cycles have the sweep's own work (the
 * row, the comparison with the full model, the CSV) between them. The thread onnxruntime-node
 * runs the session on has to be woken (on a busy machine, to wait for a core) and the caches
 * have cooled. Here that adds 0.1-0.3 ms to every run of mobilenet_v2_like's parts whatever
 * their size, and makes ppocr_mobile_v2_cls's parts (about 220 small nodes) 2-3
 * times slower than hot: a part of `hot` ms takes cycle_ms + cycle_scale x hot. Idling before
 * each profiled run stands in for that badly (5 ms of idle costs more than a cycle's wait, which
 * is busy with requests and decoding), so it is measured where it happens: the full cycle (edge
 * part, store, cloud worker, store, edge) runs CALIBRATION_REP times at the split points nearest
 * CALIBRATION_FRACTIONS of the model's nodes, and each side's line is fitted through the measured
 * medians against the hot predictions of the same parts (least squares, cycle_ms >= 0 and
 * cycle_scale >= 1: a cycle never makes a part faster).
 *
 * The edge-only split is the exception: its cycles have no wait (nothing is sent), so its part
 * runs nearly back to back, and the cycle line (fitted on parts that ran after a wait)
 * over-predicted it (mobilenet_v2_like: 0.42 ms predicted, 0.26 measured; the line's cycle_ms
 * alone is most of that). Its own cycles give the edge's edge_only_scale, its measured median
 * over its hot prediction: EDGE_ONLY_REP of them after the calibration points, as run_all runs
 * the edge-only split after the others (8 once met a burst of load and came out 3 times too
 * slow; spread as 10 after each point they came out twice too slow on the zoo model at load 15).
 */
import type { Row } from './columns.js';
import type { CostStat, CycleCost, LayerProfile, Side } from './layer-profile.js';

/** The cycle line's two costs (edge_only_scale is the edge-only split's own). */
type LineCost = 'cycle_ms' | 'cycle_scale';
import { predictCompute } from '../predict/model.js';
import { cycleTimes } from '../predict/predict.js';
import type { StoreCosts } from '../predict/store-costs.js';
import type { LinkShape } from '../storage/shaping-proxy.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { median } from './stats.js';

/** The split points calibrated on, as fractions of the model's data nodes: both sides run a share of it that grows on one side as it shrinks on the other. */
export const CALIBRATION_FRACTIONS = [1 / 4, 1 / 2, 3 / 4] as const;
/**
 * Recorded cycles per calibration point (after the run's warm-up cycles). Not fewer: with 4 after
 * one warm-up, a burst of load put mobilenet_v2_like's edge line at 8 times its hot time
 * (unshaped, compute error median 118%), and at 5 Mbit/s its cloud line came out twice too steep
 * in two runs of predict-bench (compute error median 29-33%, against 8-11% with 8 cycles).
 */
export const CALIBRATION_REP = 8;
/** Cycles of the edge-only split after the calibration points (each one a millisecond or so). */
export const EDGE_ONLY_REP = 30;
/** The same through a backend that starts a job per cycle (Kubernetes Jobs, OSCAR): each cycle costs a process start or a pod. */
export const JOB_CALIBRATION_REP = 3;

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

/** The edge-only split point (all data nodes on the edge), if the model has one. */
export function edgeOnlyPoint(a: ModelAnalysis): SplitPoint | undefined {
  return a.splitPoints.find((p) => p.position === a.index.dataNodes.length && p.position > 0);
}

/**
 * y = ms + scale x, least squares over the points, with ms >= 0 and scale >= 1: where the free fit
 * breaks one bound, the best fit on that bound (and on both, ms 0 and scale 1, if that breaks the other).
 */
export function fitCycle(xs: readonly number[], ys: readonly number[]): { ms: number; scale: number } {
  const n = xs.length;
  if (n === 0) return { ms: 0, scale: 1 };
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const sxy = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0);
  let scale = sxx > 1e-12 * Math.max(1, mx * mx) ? sxy / sxx : 1;
  let ms = my - scale * mx;
  if (scale >= 1 && ms >= 0) return { ms, scale };
  // On scale = 1: ms = mean(y - x). On ms = 0: scale = sum(xy) / sum(xx).
  const onScale = { ms: my - mx, scale: 1 };
  const sx2 = xs.reduce((s, x) => s + x * x, 0);
  const onMs = { ms: 0, scale: sx2 > 0 ? xs.reduce((s, x, i) => s + x * ys[i]!, 0) / sx2 : 1 };
  const sse = (f: { ms: number; scale: number }) => xs.reduce((s, x, i) => s + (ys[i]! - f.ms - f.scale * x) ** 2, 0);
  const feasible = [onScale, onMs].filter((f) => f.ms >= 0 && f.scale >= 1);
  if (feasible.length === 0) return { ms: 0, scale: 1 };
  ({ ms, scale } = feasible.reduce((b, f) => (sse(f) < sse(b) ? f : b)));
  return { ms, scale };
}

export interface CycleCalibration {
  /** Per side, the profile's cycle_ms and cycle_scale (a fit: p95_ms repeats the value, runs counts the cycles). */
  cost: Record<Side, Record<LineCost, CostStat> & Partial<Record<CycleCost, CostStat>>>;
  /** Per point: its index, the hot predictions and the measured medians (ms). */
  points: { split_index: number; predicted: Record<Side, number>; measured: Record<Side, number>; cycles: number }[];
  /** The edge-only split's hot prediction and measured median (ms), when its cycles were run. */
  edgeOnly?: { split_index: number; predicted: number; measured: number; cycles: number };
}

/**
 * The cloud's cycle_wait_ms: the median over the cycles that sent something of their wait_ms
 * less their cloud_ms and less the rest of the wait as predict has it (the cloud's fetch, decode,
 * encode and put at `store`'s costs, the store's notification and the link's half round trip),
 * at least 0. That rest is what the cloud side's own work does not explain: the trigger reaching
 * it, its requests costing more from its process than `store` measured from this one (woken
 * after an idle wait), the result's event arriving late.
 */
export function cycleWait(rows: readonly Row[], store: StoreCosts, link: LinkShape): { ms: number; cycles: number } {
  const beyond = rows
    .filter((r) => r.status === 'ok' && Number(r.transfer_bytes) > 0 && r.wait_ms !== '' && r.cloud_ms !== '')
    .map((r) => {
      const rest = cycleTimes({ edgeMs: 0, cloudMs: 0, inputBytes: Number(r.transfer_bytes), resultBytes: Number(r.result_bytes), edgeOnly: false }, store, link).wait_ms;
      return Number(r.wait_ms) - Number(r.cloud_ms) - rest;
    });
  return { ms: beyond.length ? Math.max(0, median(beyond)) : 0, cycles: beyond.length };
}

/**
 * The cycle costs from the rows of real cycles at calibration points (`rows`, any number per
 * point; only status 'ok' counts) against `hot`, a profile without cycle costs. Rows of the
 * edge-only split give edge_only_scale instead. With `store` (the store's costs measured beside
 * the cycles, and the link they ran behind), the cloud's cycle_wait_ms too (cycleWait).
 */
export function cycleCosts(a: ModelAnalysis, hot: LayerProfile, rows: readonly Row[], store?: { costs: StoreCosts; link: LinkShape }): CycleCalibration {
  const compute = predictCompute(a, hot);
  const byIndex = new Map(a.splitPoints.map((p, i) => [p.index, i]));
  const alone = edgeOnlyPoint(a)?.index;
  const indices = [...new Set(rows.map((r) => Number(r.split_index)))].filter((i) => i !== alone).sort((x, y) => x - y);
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
  const runs = usable.reduce((n, p) => n + p.cycles, 0);
  const stat = (v: number): CostStat => ({ medianMs: v, p95Ms: v, runs });
  const side = (s: Side): Record<LineCost, CostStat> & Partial<Record<CycleCost, CostStat>> => {
    const f = fitCycle(
      usable.map((p) => p.predicted[s]),
      usable.map((p) => p.measured[s]),
    );
    return { cycle_ms: stat(f.ms), cycle_scale: stat(f.scale) };
  };
  const cost: CycleCalibration['cost'] = { edge: side('edge'), cloud: side('cloud') };
  if (store) {
    const wait = cycleWait(rows, store.costs, store.link);
    if (wait.cycles > 0) cost.cloud.cycle_wait_ms = { medianMs: wait.ms, p95Ms: wait.ms, runs: wait.cycles };
  }
  const aloneRows = rows.filter((r) => alone !== undefined && Number(r.split_index) === alone && r.status === 'ok');
  if (aloneRows.length === 0) return { cost, points };
  const edgeOnly = { split_index: alone!, predicted: compute[byIndex.get(alone!)!]!.edge.ms, measured: median(aloneRows.map((r) => Number(r.edge_ms))), cycles: aloneRows.length };
  if (edgeOnly.predicted > 0) cost.edge.edge_only_scale = { medianMs: edgeOnly.measured / edgeOnly.predicted, p95Ms: edgeOnly.measured / edgeOnly.predicted, runs: edgeOnly.cycles };
  return { cost, points, edgeOnly };
}

/** `hot` with each side's cycle costs set. */
export function withCycleCosts(hot: LayerProfile, cost: Record<Side, Record<LineCost, CostStat> & Partial<Record<CycleCost, CostStat>>>): LayerProfile {
  return { ...hot, fixed: { edge: { ...hot.fixed.edge, ...cost.edge }, cloud: { ...hot.fixed.cloud, ...cost.cloud } } };
}
