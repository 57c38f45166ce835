/**
 * Affine 8-bit quantisation of weight tensors, per tensor or per channel along one axis:
 * q = clamp(round(w / scale) + zero_point), w ~ (q - zero_point) * scale.
 *
 * - int8 is symmetric: zero point 0, scale = max|w| / 127, q in [-127, 127].
 * - uint8 is asymmetric: the range [min(w, 0), max(w, 0)] onto [0, 255] with its own zero
 *   point, or symmetric around 128 (q in [1, 255]) when one zero point must serve every
 *   channel (onnxruntime's ConvInteger takes only a scalar weight zero point).
 *
 * Rounding is half to even, as onnxruntime and numpy round.
 */

export type WeightType = 'int8' | 'uint8';

export interface WeightQuantOptions {
  type: WeightType;
  /** Channel axis for one scale per slice along it; undefined = one scale for the tensor. */
  axis?: number;
  /** uint8 only: zero point 128 for every channel instead of one fitted per channel. */
  symmetric?: boolean;
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

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

interface ChannelParams {
  scale: number;
  zeroPoint: number;
}

function channelParams(min: number, max: number, opts: WeightQuantOptions): ChannelParams {
  if (opts.type === 'int8' || opts.symmetric) {
    const amax = Math.max(Math.abs(min), Math.abs(max));
    const scale = Math.fround(amax > 0 ? amax / 127 : 1);
    return { scale, zeroPoint: opts.type === 'int8' ? 0 : 128 };
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
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
  const [lo, hi] = opts.type === 'int8' ? [-127, 127] : [0, 255];
  const data = opts.type === 'int8' ? new Int8Array(values.length) : new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    data[i] = clamp(roundHalfEven(values[i]! / scales[c]!) + zeroPoints[c]!, lo, hi);
  }
  const out: QuantisedWeight = { type: opts.type, dims: [...dims], data, scales, zeroPoints };
  if (axis !== undefined) out.axis = axis;
  return out;
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
