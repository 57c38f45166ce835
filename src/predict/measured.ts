/**
 * A run_all CSV as per-split medians, and predictions compared with them: the absolute
 * percentage error per split point, its median and 90th percentile for compute (edge + cloud)
 * and for total_ms, and whether the predicted best split is the measured best.
 */
import { FileError } from '../errors.js';
import { perCodecRows, readResultsRows, sentBytes } from '../profile/csv.js';
import { median, percentile } from '../profile/stats.js';

export interface MeasuredSplit {
  split_index: number;
  split_layer: string;
  /** The codec of the cut tensors (rows from before codecs: raw; undefined: not known). */
  tensor_codec?: string;
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
  /** The model the rows were measured on (their model_sha256 column; undefined in files from before it). */
  modelSha256?: string;
}

/**
 * Medians of the rows with status ok, per split point and tensor codec, in index order (codecs in
 * the file's order); a split point that sends nothing, measured under one codec, is in each. A row
 * whose numbers cannot be a measurement is refused (readResultsRows; `flag` names the option the
 * file came from).
 */
export async function readMeasured(file: string, flag = '--measured'): Promise<MeasuredSplit[]> {
  const rows = await readResultsRows(file, flag);
  const by = new Map<string, Record<string, string>[]>();
  const codecs: string[] = [];
  for (const r of perCodecRows(rows)) {
    if (r.status !== 'ok') continue;
    const i = Number(r.split_index);
    if (!Number.isInteger(i) || i < 0) throw new FileError(`${file}: split_index '${r.split_index}' is not an index`, { file });
    const codec = r.tensor_codec || 'raw';
    if (!codecs.includes(codec)) codecs.push(codec);
    const k = joinKey(i, codec);
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  if (by.size === 0) throw new FileError(`${file}: no row with status ok`, { file });
  const med = (rs: Record<string, string>[], c: string): number => {
    const v = rs.map((r) => Number(r[c])).filter((x) => Number.isFinite(x) && x >= 0);
    return v.length ? median(v) : 0;
  };
  return [...by.values()]
    .sort((x, y) => Number(x[0]!.split_index) - Number(y[0]!.split_index) || codecs.indexOf(x[0]!.tensor_codec || 'raw') - codecs.indexOf(y[0]!.tensor_codec || 'raw'))
    .map((rs) => {
      const bw = Number(rs[0]!.bandwidth_mbit);
      const rtt = Number(rs[0]!.rtt_ms);
      const m: MeasuredSplit = {
        split_index: Number(rs[0]!.split_index),
        split_layer: rs[0]!.split_layer!,
        tensor_codec: rs[0]!.tensor_codec || 'raw',
        transfer_bytes: sentBytes(rs, 'transfer_bytes') ?? 0,
        result_bytes: sentBytes(rs, 'result_bytes') ?? 0,
        edge_ms: med(rs, 'edge_ms'),
        cloud_ms: med(rs, 'cloud_ms'),
        transfer_ms: med(rs, 'transfer_ms'),
        total_ms: med(rs, 'total_ms'),
        rttMs: rs[0]!.rtt_ms && Number.isFinite(rtt) ? rtt : 0,
        reps: rs.length,
      };
      if (rs[0]!.bandwidth_mbit && Number.isFinite(bw) && bw > 0) m.bandwidthMbit = bw;
      if (rs[0]!.model_sha256) m.modelSha256 = rs[0]!.model_sha256;
      return m;
    });
}

/** The key predicted and measured rows join on: (split_index, tensor_codec). */
export function joinKey(split: number, codec: string | undefined): string {
  return `${split}/${codec || 'raw'}`;
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
  /** The codecs of those two, when the predicted rows carry codecs. */
  predictedBestCodec?: string;
  measuredBestCodec?: string;
  /** How much slower (percent) the measured total of the predicted best is than the measured best. */
  slowerPct: number;
}

export function compare(predicted: readonly { split_index: number; tensor_codec?: string; edge_ms: number; cloud_ms: number; total_ms: number }[], measured: readonly MeasuredSplit[]): Comparison {
  const meas = new Map(measured.map((m) => [joinKey(m.split_index, m.tensor_codec), m]));
  const of = (p: { split_index: number; tensor_codec?: string }) => meas.get(joinKey(p.split_index, p.tensor_codec));
  const both = predicted.filter((p) => of(p) !== undefined);
  const computeApe = both.map((p) => ape(p.edge_ms + p.cloud_ms, of(p)!.edge_ms + of(p)!.cloud_ms));
  const totalApe = both.map((p) => ape(p.total_ms, of(p)!.total_ms));
  const argmin = <T>(xs: readonly T[], f: (x: T) => number): T => xs.reduce((b, x) => (f(x) < f(b) ? x : b));
  const pb = argmin(both, (p) => p.total_ms);
  const mb = argmin(both.map((p) => of(p)!), (m) => m.total_ms);
  return {
    splits: both.length,
    compute: { medianApe: median(computeApe), p90Ape: percentile(computeApe, 0.9) },
    total: { medianApe: median(totalApe), p90Ape: percentile(totalApe, 0.9) },
    predictedBest: pb.split_index,
    measuredBest: mb.split_index,
    ...(pb.tensor_codec !== undefined ? { predictedBestCodec: pb.tensor_codec, measuredBestCodec: mb.tensor_codec } : {}),
    slowerPct: ((of(pb)!.total_ms - mb.total_ms) / mb.total_ms) * 100,
  };
}
