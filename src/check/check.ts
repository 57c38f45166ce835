/**
 * Conformity of split points with a serverless platform's limits (limits.ts), as the ONNX
 * decomposer checks each piece for AWS Lambda: for every split point, the exact input and result
 * payloads of its cycle (the payload codec's bytes), the size of each part's files as split_model
 * writes them (external data included), and each part's peak memory while running (measure.ts,
 * the runtime's baseline added back, since the platform's memory limit covers the whole process).
 *
 * `sides: 'both'` holds every part to the limits (each part could be a function); `'cloud'` only
 * the cloud part (the edge is a device of its own), and the edge-only split then has nothing on
 * the platform and neither passes nor fails.
 */
import { OnnxManagerError, UsageError } from '../errors.js';
import { dtypeFromOnnx } from '../onnx/dtypes.js';
import { wireBytes } from '../predict/payload-size.js';
import type { SessionOptions } from '../runtime/session.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { buildPointParts, type BuiltPart } from '../split/split.js';
import { encodedBytes, MB, type CheckSides, type Limits } from './limits.js';
import { measurePeaks, type PartToMeasure, type Peaks } from './measure.js';

/** No split point meets the limits. */
export class LimitsError extends OnnxManagerError {}

export interface CheckOptions {
  /** Only these split indexes (default: every split point). */
  points?: readonly number[];
  sides?: CheckSides;
  /** The sessions' settings (provider, threads, graph optimisation) while measuring memory. */
  session?: SessionOptions;
  /** Seed of the random inputs (default 1). */
  seed?: number;
  /** Processes measuring at once (default 1). */
  jobs?: number;
  onPart?: (done: number, total: number) => void;
  /** Stops the memory measurement (every process it started). */
  signal?: AbortSignal;
}

/** One limit a split point breaks. */
export interface Failure {
  limit: 'memory_mb' | 'package_mb' | 'payload_bytes' | 'response_bytes';
  side?: 'edge' | 'cloud';
  /** The figure compared (as the limit counts it) and the limit. */
  value: number;
  max: number;
  text: string;
}

export interface CheckRow {
  split_index: number;
  split_layer: string;
  payload_bytes: number;
  response_bytes: number;
  edge_part_bytes?: number;
  cloud_part_bytes?: number;
  /** Peak memory beyond the runtime's baseline, MB (measured only against a memory limit). */
  edge_peak_mb?: number;
  cloud_peak_mb?: number;
  /** null: nothing of this split point runs on the platform (the edge-only split with sides 'cloud'). */
  pass: boolean | null;
  failures: Failure[];
}

export interface CheckResult {
  limits: Limits;
  sides: CheckSides;
  rows: CheckRow[];
  /** Memory measurement, when the limits name memory. */
  memory?: Omit<Peaks, 'parts'>;
}

interface PointParts {
  point: SplitPoint;
  edge?: { built: BuiltPart; key: string; bytes: number };
  cloud?: { built: BuiltPart; key: string; bytes: number };
}

function partBytes(p: BuiltPart): number {
  return p.part.model.byteLength + (p.part.external?.byteLength ?? 0);
}

/**
 * What a part computes: its nodes, inputs and outputs. Parts alike in these differ at most in their
 * graph's name (the cloud part of split 0 and the edge part of the last split are the whole model)
 * and are measured once.
 */
function partKey(p: BuiltPart): string {
  const { nodes, inputs, outputs } = p.plan;
  return `${nodes.join(',')}|${inputs.join(',')}|${outputs.join(',')}`;
}

function selectPoints(a: ModelAnalysis, points: readonly number[] | undefined): SplitPoint[] {
  if (!points) return a.splitPoints;
  const last = a.splitPoints.length - 1;
  return [...new Set(points)].sort((x, y) => x - y).map((i) => {
    const p = a.splitPoints[i];
    if (!p) throw new UsageError(`--points ${i}: ${a.model.label} has split points 0..${last}`);
    return p;
  });
}

const mb = (bytes: number): string => (bytes / MB).toFixed(2);

function inputsOf(a: ModelAnalysis, p: BuiltPart): PartToMeasure['inputs'] {
  return p.plan.inputs.map((name) => {
    const info = a.shapes.get(name)!;
    return { name, dtype: dtypeFromOnnx(info.elemType).name, dims: [...info.dims] };
  });
}

/** Checks the split points of `a` against `limits`. */
export async function checkSplits(a: ModelAnalysis, limits: Limits, o: CheckOptions = {}): Promise<CheckResult> {
  const sides = o.sides ?? 'both';
  const points: PointParts[] = selectPoints(a, o.points).map((point) => {
    const pp: PointParts = { point };
    for (const built of buildPointParts(a, point)) {
      const side = built.plan.number === 1 ? 'edge' : 'cloud';
      pp[side] = { built, key: partKey(built), bytes: partBytes(built) };
    }
    return pp;
  });
  const held = (side: 'edge' | 'cloud') => sides === 'both' || side === 'cloud';

  let peaks: Peaks | undefined;
  if (limits.memory_mb !== undefined) {
    const distinct = new Map<string, PartToMeasure>();
    for (const pp of points) {
      for (const side of ['edge', 'cloud'] as const) {
        const p = pp[side];
        if (p && held(side) && !distinct.has(p.key)) distinct.set(p.key, { part: p.built.part, inputs: inputsOf(a, p.built), label: `the ${side} part of split ${pp.point.index}` });
      }
    }
    const mo: Parameters<typeof measurePeaks>[1] = { session: o.session ?? {}, seed: o.seed ?? 1, jobs: o.jobs ?? 1 };
    if (o.onPart) mo.onPart = o.onPart;
    if (o.signal) mo.signal = o.signal;
    peaks = await measurePeaks(distinct, mo);
  }

  const rows = points.map((pp): CheckRow => {
    const { point } = pp;
    const wire = wireBytes(a, point);
    const row: CheckRow = { split_index: point.index, split_layer: point.splitLayer, payload_bytes: wire.input, response_bytes: wire.result, pass: true, failures: [] };
    const fail = (f: Failure) => row.failures.push(f);
    for (const side of ['edge', 'cloud'] as const) {
      const p = pp[side];
      if (!p) continue;
      row[`${side}_part_bytes`] = p.bytes;
      if (!held(side)) continue;
      if (limits.package_mb !== undefined && p.bytes > limits.package_mb * MB) {
        fail({ limit: 'package_mb', side, value: p.bytes / MB, max: limits.package_mb, text: `${side} part ${mb(p.bytes)} MB > package ${limits.package_mb} MB` });
      }
      const peak = peaks?.parts.get(p.key);
      if (peak && limits.memory_mb !== undefined) {
        row[`${side}_peak_mb`] = peak.peak_mb;
        const total = peak.peak_mb + peaks!.baseline_mb;
        if (peak.run_error) {
          fail({ limit: 'memory_mb', side, value: total, max: limits.memory_mb, text: `${side} part not measured: it failed on a random input (${peak.run_error})` });
        } else if (total > limits.memory_mb) {
          fail({ limit: 'memory_mb', side, value: total, max: limits.memory_mb, text: `${side} part ${peak.peak_mb.toFixed(1)} MB + runtime ${peaks!.baseline_mb.toFixed(1)} MB > memory ${limits.memory_mb} MB` });
        }
      }
    }
    if (pp.cloud) {
      const enc = limits.payload_encoding;
      const as = enc === 'base64' ? ' as base64' : '';
      const sent = encodedBytes(wire.input, enc);
      const back = encodedBytes(wire.result, enc);
      if (limits.payload_bytes !== undefined && sent > limits.payload_bytes) {
        fail({ limit: 'payload_bytes', value: sent, max: limits.payload_bytes, text: `payload ${sent} bytes${as} > ${limits.payload_bytes}` });
      }
      if (limits.response_bytes !== undefined && back > limits.response_bytes) {
        fail({ limit: 'response_bytes', value: back, max: limits.response_bytes, text: `response ${back} bytes${as} > ${limits.response_bytes}` });
      }
    }
    row.pass = !pp.cloud && sides === 'cloud' ? null : row.failures.length === 0;
    return row;
  });
  const result: CheckResult = { limits, sides, rows };
  if (peaks) result.memory = { baseline_mb: peaks.baseline_mb, processes: peaks.processes, seconds: peaks.seconds, source: peaks.source };
  return result;
}
