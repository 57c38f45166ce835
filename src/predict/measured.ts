/**
 * A run_all CSV as per-split medians, and predictions compared with them: the absolute
 * percentage error per split point, its median and 90th percentile for compute (edge + cloud)
 * and for total_ms, and whether the predicted best split is the measured best.
 */
import { readUserFile } from '../files.js';
import { FileError } from '../errors.js';
import { readRows } from '../profile/csv.js';
import { median, percentile } from '../profile/stats.js';

export interface MeasuredSplit {
  split_index: number;
  split_layer: string;
  transfer_bytes: number;
  result_bytes: number;
  edge_ms: number;
  cloud_ms: number;
  transfer_ms: number;
  total_ms: number;
  /** The link the rows were measured on (bandwidth_mbit, rtt_ms columns; none: unshaped). */
  bandwidthMbit?: number;
  rttMs: number;
  reps: number;
}

const NEEDED = ['split_index', 'split_layer', 'transfer_bytes', 'edge_ms', 'cloud_ms', 'transfer_ms', 'total_ms', 'status'];

/** Medians of the rows with status ok, per split point, in index order. */
export async function readMeasured(file: string): Promise<MeasuredSplit[]> {
  await readUserFile(file); // a missing or unreadable file is named as such, not as 'no rows'
  const rows = await readRows(file);
  if (rows.length === 0) throw new FileError(`${file}: no rows (not a run_all results file?)`, { file });
  const missing = NEEDED.filter((c) => !(c in rows[0]!));
  if (missing.length) throw new FileError(`${file}: not a run_all results file (no column ${missing.join(', ')})`, { file });
  const by = new Map<number, Record<string, string>[]>();
  for (const r of rows) {
    if (r.status !== 'ok') continue;
    const i = Number(r.split_index);
    if (!Number.isInteger(i) || i < 0) throw new FileError(`${file}: split_index '${r.split_index}' is not an index`, { file });
    by.set(i, [...(by.get(i) ?? []), r]);
  }
  if (by.size === 0) throw new FileError(`${file}: no row with status ok`, { file });
  const med = (rs: Record<string, string>[], c: string): number => {
    const v = rs.map((r) => Number(r[c])).filter((x) => Number.isFinite(x) && x >= 0);
    return v.length ? median(v) : 0;
  };
  return [...by.keys()]
    .sort((x, y) => x - y)
    .map((i) => {
      const rs = by.get(i)!;
      const bw = Number(rs[0]!.bandwidth_mbit);
      const rtt = Number(rs[0]!.rtt_ms);
      const m: MeasuredSplit = {
        split_index: i,
        split_layer: rs[0]!.split_layer!,
        transfer_bytes: Math.max(...rs.map((r) => Number(r.transfer_bytes) || 0)),
        result_bytes: Math.max(...rs.map((r) => Number(r.result_bytes) || 0)),
        edge_ms: med(rs, 'edge_ms'),
        cloud_ms: med(rs, 'cloud_ms'),
        transfer_ms: med(rs, 'transfer_ms'),
        total_ms: med(rs, 'total_ms'),
        rttMs: rs[0]!.rtt_ms && Number.isFinite(rtt) ? rtt : 0,
        reps: rs.length,
      };
      if (rs[0]!.bandwidth_mbit && Number.isFinite(bw) && bw > 0) m.bandwidthMbit = bw;
      return m;
    });
}

/** |predicted - measured| / measured, in percent (0 when both are 0). */
export function ape(predicted: number, measured: number): number {
  if (measured === 0) return predicted === 0 ? 0 : Infinity;
  return (Math.abs(predicted - measured) / measured) * 100;
}

export interface Comparison {
  /** Split points present in both. */
  splits: number;
  compute: { medianApe: number; p90Ape: number };
  total: { medianApe: number; p90Ape: number };
  predictedBest: number;
  measuredBest: number;
  /** How much slower (percent) the measured total of the predicted best is than the measured best. */
  slowerPct: number;
}

export function compare(predicted: readonly { split_index: number; edge_ms: number; cloud_ms: number; total_ms: number }[], measured: readonly MeasuredSplit[]): Comparison {
  const meas = new Map(measured.map((m) => [m.split_index, m]));
  const both = predicted.filter((p) => meas.has(p.split_index));
  const computeApe = both.map((p) => ape(p.edge_ms + p.cloud_ms, meas.get(p.split_index)!.edge_ms + meas.get(p.split_index)!.cloud_ms));
  const totalApe = both.map((p) => ape(p.total_ms, meas.get(p.split_index)!.total_ms));
  const argmin = <T>(xs: readonly T[], f: (x: T) => number): T => xs.reduce((b, x) => (f(x) < f(b) ? x : b));
  const pb = argmin(both, (p) => p.total_ms).split_index;
  const mb = argmin(measured.filter((m) => both.some((p) => p.split_index === m.split_index)), (m) => m.total_ms);
  return {
    splits: both.length,
    compute: { medianApe: median(computeApe), p90Ape: percentile(computeApe, 0.9) },
    total: { medianApe: median(totalApe), p90Ape: percentile(totalApe, 0.9) },
    predictedBest: pb,
    measuredBest: mb.split_index,
    slowerPct: ((meas.get(pb)!.total_ms - mb.total_ms) / mb.total_ms) * 100,
  };
}
