/**
 * Affine 8-bit quantisation of weight tensors, per tensor or per channel along one axis:
 * q = clamp(round(w / scale) + zero_point), w ~ (q - zero_point) * scale.
 *
 * - int8 is symmetric: zero point 0, scale = max|w| / 127, q in [-127, 127] (or 63 with reduceRange).
 * - uint8 is asymmetric: the range [min(w, 0), max(w, 0)] onto [0, 255] with its own zero
 *   point, or symmetric around 128 (q in [1, 255]) when one zero point must serve every
 *   channel (onnxruntime's ConvInteger takes only a scalar weight zero point).
 *
 * Rounding is half to even, as onnxruntime and numpy round. With `balancedRuns`, the roundings
 * within each run of that many consecutive elements (a Conv's spatial taps of one output and
 * input channel) are then balanced: the elements whose rounding went furthest in the direction
 * of the run's total error are rounded the other way until the run's sum is within half a step
 * of the original's. Each element stays within one step; the kernel's response to a flat input
 * (its sum) is what it was. Without this, a trained edge or difference filter (large taps of
 * opposite signs summing to nearly zero) can pick up a sum error of several steps, which every
 * flat region of an image (a page's background) turns into a bias of the whole channel.
 */
import { gptqRound, type RowLayout } from './gptq.js';
import { scaleAtLeast } from './packed.js';

export type WeightType = 'int8' | 'uint8';

export interface WeightQuantOptions {
  type: WeightType;
  /** Channel axis for one scale per slice along it; undefined = one scale for the tensor. */
  axis?: number;
  /**
   * int8 only: 7 bits, q in [-63, 63]. For weights of MatMulInteger and ConvInteger on an x86-64
   * CPU without VNNI, whose u8s8 kernels add pairs of uint8 x int8 products in 16 bits: with 8-bit
   * weights a pair reaches 2 x 255 x 127 = 64770 and saturates; with 7 bits it stays below 32767.
   */
  reduceRange?: boolean;
  /** uint8 only: zero point 128 for every channel instead of one fitted per channel. */
  symmetric?: boolean;
  /** Scales rounded up to 11 significant bits, to be stored in 16 bits (./packed.ts). */
  halfScales?: boolean;
  /** Balance the roundings within each run of this many consecutive elements (see above); runs must not cross a channel. */
  balancedRuns?: number;
  /** Round by calibration (./gptq.ts) instead: the weight's rows and the inverse factors of their inputs' moments. */
  calibrated?: { layout: RowLayout; factors: readonly Float64Array[] };
}

export interface QuantisedWeight {
  type: WeightType;
  dims: number[];
  data: Int8Array | Uint8Array;
  /** One per channel along `axis`, or one. */
  scales: Float32Array;
  zeroPoints: Int8Array | Uint8Array;
  axis?: number;
}

/** Round half to even (banker's rounding). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const int8Max = (opts: WeightQuantOptions): number => (opts.type === 'int8' && opts.reduceRange ? 63 : 127);

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

interface ChannelParams {
  scale: number;
  zeroPoint: number;
}

function channelParams(min: number, max: number, opts: WeightQuantOptions): ChannelParams {
  const round = (s: number) => (opts.halfScales ? scaleAtLeast(s) : Math.fround(s));
  if (opts.type === 'int8' || opts.symmetric) {
    const amax = Math.max(Math.abs(min), Math.abs(max));
    const scale = round(amax > 0 ? amax / int8Max(opts) : 1);
    return { scale, zeroPoint: opts.type === 'int8' ? 0 : 128 };
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = round(hi > lo ? (hi - lo) / 255 : 1);
  return { scale, zeroPoint: clamp(roundHalfEven(-lo / scale), 0, 255) };
}

/** Quantises float weights `values` of shape `dims`. */
export function quantiseWeight(values: Float32Array, dims: readonly number[], opts: WeightQuantOptions): QuantisedWeight {
  const axis = opts.axis;
  if (axis !== undefined && (axis < 0 || axis >= dims.length)) throw new RangeError(`axis ${axis} is outside a ${dims.length}-d weight`);
  const channels = axis === undefined ? 1 : dims[axis]!;
  // Elements of one channel slice come in runs of `inner`, `channels` runs per outer step.
  const inner = axis === undefined ? values.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const mins = new Float64Array(channels).fill(Infinity);
  const maxs = new Float64Array(channels).fill(-Infinity);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`weight has a non-finite value (${v}) at element ${i}`);
    if (v < mins[c]!) mins[c] = v;
    if (v > maxs[c]!) maxs[c] = v;
  }
  const scales = new Float32Array(channels);
  const zeroPoints = opts.type === 'int8' ? new Int8Array(channels) : new Uint8Array(channels);
  for (let c = 0; c < channels; c++) {
    const p = channelParams(mins[c] === Infinity ? 0 : mins[c]!, maxs[c] === -Infinity ? 0 : maxs[c]!, opts);
    scales[c] = p.scale;
    zeroPoints[c] = p.zeroPoint;
  }
  const [lo, hi]: [number, number] = opts.type === 'int8' ? [-int8Max(opts), int8Max(opts)] : [0, 255];
  const data = opts.type === 'int8' ? new Int8Array(values.length) : new Uint8Array(values.length);
  if (opts.calibrated) {
    const scaleOf = (i: number) => scales[channelOf(i)]!;
    const zeroPointOf = (i: number) => zeroPoints[channelOf(i)]!;
    gptqRound(values, data, opts.calibrated.layout, opts.calibrated.factors, scaleOf, zeroPointOf, lo, hi);
    return finish(opts, dims, data, scales, zeroPoints);
  }
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    data[i] = clamp(roundHalfEven(values[i]! / scales[c]!) + zeroPoints[c]!, lo, hi);
  }
  const run = opts.balancedRuns ?? 1;
  if (run > 1) {
    if (values.length % run !== 0 || (axis !== undefined && inner % run !== 0)) throw new RangeError(`runs of ${run} elements do not tile the weight's channels`);
    for (let start = 0; start < values.length; start += run) {
      const c = channelOf(start);
      balanceRun(values, data, start, run, scales[c]!, zeroPoints[c]!, lo, hi);
    }
  }
  return finish(opts, dims, data, scales, zeroPoints);
}

function finish(opts: WeightQuantOptions, dims: readonly number[], data: Int8Array | Uint8Array, scales: Float32Array, zeroPoints: Int8Array | Uint8Array): QuantisedWeight {
  const out: QuantisedWeight = { type: opts.type, dims: [...dims], data, scales, zeroPoints };
  if (opts.axis !== undefined) out.axis = opts.axis;
  return out;
}

/**
 * Rounds elements start..start+length of `data` the other way, the cheapest first, until their
 * summed rounding error (in steps) is at most 1/2. Each flip moves the sum by one step towards
 * zero and leaves that element less than one step from its value, so this ends after at most
 * length/2 flips.
 */
function balanceRun(values: Float32Array, data: Int8Array | Uint8Array, start: number, length: number, scale: number, zeroPoint: number, lo: number, hi: number): void {
  const exact = (i: number) => values[i]! / scale + zeroPoint;
  let error = 0;
  for (let i = start; i < start + length; i++) error += data[i]! - exact(i);
  while (Math.abs(error) > 0.5) {
    const dir = error > 0 ? -1 : 1;
    let best = -1;
    let bestCost = Infinity;
    for (let i = start; i < start + length; i++) {
      const q = data[i]! + dir;
      if (q < lo || q > hi) continue;
      const cost = Math.abs(q - exact(i)) - Math.abs(data[i]! - exact(i));
      if (cost < bestCost) {
        bestCost = cost;
        best = i;
      }
    }
    if (best < 0) return;
    data[best] = data[best]! + dir;
    error += dir;
  }
}

/** The float values a quantised weight stands for. */
export function dequantiseWeight(w: QuantisedWeight): Float32Array {
  const out = new Float32Array(w.data.length);
  const channels = w.scales.length;
  const inner = w.axis === undefined ? w.data.length : w.dims.slice(w.axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < out.length; i++) {
    const c = w.axis === undefined ? 0 : Math.floor(i / inner) % channels;
    out[i] = (w.data[i]! - w.zeroPoints[c]!) * w.scales[c]!;
  }
  return out;
}

/** A 2-d [rows, cols] matrix transposed (row-major in, row-major out). */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}
