/**
 * int8: affine quantisation of a float32 tensor to one byte per element, per tensor:
 * x ~ (q - zeroPoint) * scale with q in 0..255, the range [min(x, 0), max(x, 0)] mapped onto
 * 0..255 (so 0 stays exact), the scale a float32 value (rounded up, so the range still fits) so
 * that decoding can multiply in float32 lanes with the bits of float64 arithmetic. The error is at
 * most scale/2. A tensor holding NaN or +-Inf has no such range: it is sent raw.
 */
import { elementCount } from '../../onnx/dtypes.js';
import type { HostTensor } from '../../runtime/session.js';
import { SIMD_MIN, simdDequantise, simdQuantise, simdQuantiseSpans, simdRange, simdSpanRanges, simdStage, type RunningCrc, type Staged } from './simd/index.js';
import { CodecError, expectBodyBytes, unfilled, writtenBody, type CodedBody, type PlannedBody, type TensorCodec } from './types.js';

/**
 * min(x, 0) and max(x, 0) over x[from..to), in one pass with four pairs of accumulators (no
 * chain of dependent compares); undefined when a value is NaN or +-Inf (their float64 sum,
 * which finite float32 values cannot overflow, is then not finite).
 */
export function finiteRangeScalar(x: Float32Array, from: number, to: number): { lo: number; hi: number } | undefined {
  let lo0 = 0;
  let hi0 = 0;
  let lo1 = 0;
  let hi1 = 0;
  let lo2 = 0;
  let hi2 = 0;
  let lo3 = 0;
  let hi3 = 0;
  let sum = 0;
  let i = from;
  for (; i + 3 < to; i += 4) {
    const a = x[i]!;
    const b = x[i + 1]!;
    const c = x[i + 2]!;
    const d = x[i + 3]!;
    lo0 = a < lo0 ? a : lo0;
    hi0 = a > hi0 ? a : hi0;
    lo1 = b < lo1 ? b : lo1;
    hi1 = b > hi1 ? b : hi1;
    lo2 = c < lo2 ? c : lo2;
    hi2 = c > hi2 ? c : hi2;
    lo3 = d < lo3 ? d : lo3;
    hi3 = d > hi3 ? d : hi3;
    sum += a + b + c + d;
  }
  for (; i < to; i++) {
    const v = x[i]!;
    lo0 = v < lo0 ? v : lo0;
    hi0 = v > hi0 ? v : hi0;
    sum += v;
  }
  if (!Number.isFinite(sum)) return undefined;
  return { lo: Math.min(lo0, lo1, lo2, lo3), hi: Math.max(hi0, hi1, hi2, hi3) };
}

/**
 * q[i] = round half up(x[i] / scale) + zeroPoint for x[from..to) (all within the range the
 * scale and zero point were made for): within scale/2. Rounded by truncating x / scale +
 * zeroPoint + 0.5, which is > -1 there (so truncation never goes below 0), clamped at 255;
 * four bytes are written at a time where `q` is aligned for it.
 */
export function quantiseScalar(x: Float32Array, from: number, to: number, q: Uint8Array, inv: number, zeroPoint: number): void {
  const off = zeroPoint + 0.5;
  const byte = (v: number): number => {
    const t = (v * inv + off) | 0;
    return t > 255 ? 255 : t;
  };
  let i = from;
  if ((q.byteOffset + i) % 4 === 0) {
    const words = (to - i) >> 2;
    const q32 = new Int32Array(q.buffer, q.byteOffset + i, words);
    for (let j = 0; j < words; j++, i += 4) q32[j] = byte(x[i]!) | (byte(x[i + 1]!) << 8) | (byte(x[i + 2]!) << 16) | (byte(x[i + 3]!) << 24);
  }
  for (; i < to; i++) q[i] = byte(x[i]!);
}

/** out[i] = (q[i] - zeroPoint) x scale for all of q; four bytes read at a time where q is aligned for it. */
export function dequantiseScalar(q: Uint8Array, out: Float32Array, zeroPoint: number, scale: number, from = 0, to = q.length): void {
  let i = from;
  if ((q.byteOffset + i) % 4 === 0) {
    const words = (to - i) >> 2;
    const q32 = new Uint32Array(q.buffer, q.byteOffset + i, words);
    for (let j = 0; j < words; j++, i += 4) {
      const w = q32[j]!;
      out[i] = ((w & 255) - zeroPoint) * scale;
      out[i + 1] = (((w >>> 8) & 255) - zeroPoint) * scale;
      out[i + 2] = (((w >>> 16) & 255) - zeroPoint) * scale;
      out[i + 3] = ((w >>> 24) - zeroPoint) * scale;
    }
  }
  for (; i < to; i++) out[i] = (q[i]! - zeroPoint) * scale;
}

/** finiteRangeScalar's answer, through the SIMD kernels for long spans. */
export function finiteRange(x: Float32Array, from: number, to: number): { lo: number; hi: number } | undefined {
  if (to - from >= SIMD_MIN) {
    const r = simdRange(x, from, to);
    if (r !== false) return r;
  }
  return finiteRangeScalar(x, from, to);
}

/**
 * quantiseScalar's bytes, through the SIMD kernels for long spans; `crc`, when given, continued
 * over q[from..to) as the kernels write it (true: it was; false: the caller takes it).
 */
export function quantiseInto(x: Float32Array, from: number, to: number, q: Uint8Array, inv: number, zeroPoint: number, crc?: RunningCrc): boolean {
  if (to - from >= SIMD_MIN && simdQuantise(x, from, to, q, inv, zeroPoint, crc)) return crc !== undefined;
  quantiseScalar(x, from, to, q, inv, zeroPoint);
  return false;
}

/** dequantiseScalar's values, through the SIMD kernels for long spans. */
export function dequantise(q: Uint8Array, out: Float32Array, zeroPoint: number, scale: number, from = 0, to = q.length): void {
  if (to - from < SIMD_MIN || !simdDequantise(q, out, zeroPoint, scale, from, to)) dequantiseScalar(q, out, zeroPoint, scale, from, to);
}

/** The scale and zero point mapping [lo, hi] (lo <= 0 <= hi, finite) onto 0..255 with 0 exact. */
export function quantiseRange(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: zeroPointFor(lo, scale) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest float32 >= v (v > 0, finite). */
export function float32AtLeast(v: number): number {
  f32[0] = v;
  if (f32[0]! < v) u32[0] = u32[0]! + 1;
  return f32[0]!;
}

/** quantiseRange with the scale as sent: the smallest float32 at least its step, and the zero point for that scale. */
export function quantiseRange32(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const scale = float32AtLeast(quantiseRange(lo, hi).scale);
  return { scale, zeroPoint: zeroPointFor(lo, scale) };
}

/** The quantised value that stands for 0 when the range starts at `lo` with step `scale`. */
export function zeroPointFor(lo: number, scale: number): number {
  return Math.min(255, Math.max(0, Math.round(-lo / scale)));
}

/**
 * int8's plan: the range found (one pass), the quantisation still to be written. Long tensors are
 * copied into the SIMD kernels' memory once for both passes (simdStage), not once for each.
 */
function planInt8(t: HostTensor): PlannedBody | undefined {
  if (t.type !== 'float32') return undefined;
  const x = t.data as Float32Array;
  const staged = x.length >= SIMD_MIN ? simdStage(x) : null;
  const range = staged ? stagedRange(staged) : finiteRange(x, 0, x.length);
  if (range === undefined) return undefined;
  const { scale, zeroPoint } = quantiseRange32(range.lo, range.hi);
  const write = (q: Uint8Array): number | undefined => {
    const crc = { value: 0 };
    if (staged && simdQuantiseSpans(staged, x.length, [1 / scale], [zeroPoint], q, crc)) return crc.value;
    return quantiseInto(x, 0, x.length, q, 1 / scale, zeroPoint, crc) ? crc.value : undefined;
  };
  return { codec: 'int8', scale, zeroPoint, bytes: x.length, write };
}

/** finiteRange of a whole staged array. */
function stagedRange(staged: Staged): { lo: number; hi: number } | undefined {
  const lo = new Float64Array(1);
  const hi = new Float64Array(1);
  const found = simdSpanRanges(staged, staged.x.length, 1, lo, hi);
  if (found === false) return finiteRange(staged.x, 0, staged.x.length);
  return found ? { lo: lo[0]!, hi: hi[0]! } : undefined;
}

export const int8: TensorCodec = {
  name: 'int8',
  lossless: false,
  async encode(t: HostTensor): Promise<CodedBody | undefined> {
    return writtenBody(planInt8(t));
  },
  plan: planInt8,
  async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
    const { scale, zeroPoint } = coded;
    if (scale === undefined || !Number.isFinite(scale) || !(scale > 0)) throw new CodecError(`int8 scale must be a positive finite number, got ${String(scale)}`);
    if (zeroPoint === undefined || !Number.isInteger(zeroPoint) || zeroPoint < 0 || zeroPoint > 255) {
      throw new CodecError(`int8 zero point must be an integer in 0..255, got ${String(zeroPoint)}`);
    }
    const n = elementCount(dims);
    expectBodyBytes(coded, n, dims);
    const out = unfilled(Float32Array, n);
    dequantise(coded.body, out, zeroPoint, scale);
    return { type, dims: [...dims], data: out };
  },
};
