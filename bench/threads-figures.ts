/**
 * The figures of threads-bench, from what it measured (pure: no timing here).
 *
 * A model is swept one middle split point at a time, each sweep with the two ends (the whole model
 * in the cloud alone and on the edge alone), and the whole model is timed in the bench's process
 * before and after each sweep (the baselines). Each sweep's ratios are taken against the mean of
 * the baselines just before and after it, and against its own ends: on a shared machine the load
 * changes from one minute to the next, and parts compared with a whole model timed in another
 * minute measure the load. Per split point, the median over its sweeps; the figure is the median
 * over split points.
 */
import { median } from '../src/profile/stats.js';

/** One timing of the whole model: the median of its runs. */
export interface Baseline {
  /** The sweep's edge settings, each run timed after a pause like a cycle's: the whole model as a deployment runs it. */
  pausedMs: number;
  /** The sweep's edge settings, runs back to back (what this bench compared with before). */
  busyMs: number;
  /** onnxruntime's defaults (its threads, spinning on), runs back to back. */
  defaultsMs: number;
}

/** One sweep over a middle split point and the two ends, between two timings of the whole model. */
export interface SweepParts {
  /** Per split point, median edge_ms + median cloud_ms; the first and the last are the ends (cloud only, edge only). */
  splits: { index: number; partsMs: number }[];
  before: Baseline;
  after: Baseline;
}

export type BaselineKind = keyof Baseline;

export interface SplitFigure {
  index: number;
  /** Median over its sweeps of partsMs. */
  partsMs: number;
  /** Median over its sweeps of partsMs / the mean of the baselines before and after the sweep, per kind of baseline. */
  ratio: Record<BaselineKind, number>;
  /** Median over its sweeps of partsMs / the mean of the same sweep's two ends (1 for the ends). */
  endsRatio: number;
}

export interface SweepSummary {
  /** Every split point swept, in index order. */
  splits: SplitFigure[];
  /** Median over the middle split points (the ends run the whole model on one side), per kind of baseline. */
  middleRatio: Record<BaselineKind, number>;
  /** The same over every split point, the ends included. */
  allRatio: Record<BaselineKind, number>;
  /** Median over the middle split points of their ratio to their sweeps' own ends. */
  endsRatio: number;
}

const KINDS: BaselineKind[] = ['pausedMs', 'busyMs', 'defaultsMs'];

function byKind(f: (k: BaselineKind) => number): Record<BaselineKind, number> {
  return Object.fromEntries(KINDS.map((k) => [k, f(k)])) as Record<BaselineKind, number>;
}

/** The figures of sweeps that each cover at least the two ends; a split point swept several times gets the median of its sweeps. */
export function summariseSweeps(sweeps: readonly SweepParts[]): SweepSummary {
  if (sweeps.length === 0) throw new Error('no sweeps to summarise');
  const ends = new Set<number>();
  for (const s of sweeps) {
    if (s.splits.length < 2) throw new Error('a sweep must cover both ends');
    ends.add(s.splits[0]!.index).add(s.splits.at(-1)!.index);
  }
  if (ends.size !== 2) throw new Error('every sweep must have the same two ends');
  const seen = new Map<number, { partsMs: number; ratio: Record<BaselineKind, number>; endsRatio: number }[]>();
  for (const s of sweeps) {
    const endsMs = (s.splits[0]!.partsMs + s.splits.at(-1)!.partsMs) / 2;
    for (const x of s.splits) {
      const list = seen.get(x.index) ?? [];
      list.push({ partsMs: x.partsMs, ratio: byKind((k) => x.partsMs / ((s.before[k] + s.after[k]) / 2)), endsRatio: ends.has(x.index) ? 1 : x.partsMs / endsMs });
      seen.set(x.index, list);
    }
  }
  const splits: SplitFigure[] = [...seen.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, list]) => ({
      index,
      partsMs: median(list.map((x) => x.partsMs)),
      ratio: byKind((k) => median(list.map((x) => x.ratio[k]))),
      endsRatio: median(list.map((x) => x.endsRatio)),
    }));
  const middle = splits.filter((x) => !ends.has(x.index));
  const of = (list: SplitFigure[]) => byKind((k) => median(list.map((x) => x.ratio[k])));
  return { splits, middleRatio: of(middle), allRatio: of(splits), endsRatio: median(middle.map((x) => x.endsRatio)) };
}
