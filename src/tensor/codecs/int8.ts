/**
 * int8: affine quantisation of a float32 tensor to one byte per element, per tensor:
 * x ~ (q - zeroPoint) * scale with q in 0..255, the range [min(x, 0), max(x, 0)] mapped onto
 * 0..255 (so 0 stays exact). The error is at most scale/2. A tensor holding NaN or +-Inf has no
 * such range: it is sent raw.
 */
import { elementCount } from '../../onnx/dtypes.js';
import type { HostTensor } from '../../runtime/session.js';
import { CodecError, expectBodyBytes, type CodedBody, type TensorCodec } from './types.js';

/** The scale and zero point mapping [lo, hi] (lo <= 0 <= hi, finite) onto 0..255 with 0 exact. */
export function quantiseRange(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: zeroPointFor(lo, scale) };
}

/** The quantised value that stands for 0 when the range starts at `lo` with step `scale`. */
export function zeroPointFor(lo: number, scale: number): number {
  return Math.min(255, Math.max(0, Math.round(-lo / scale)));
}

export const int8: TensorCodec = {
  name: 'int8',
  lossless: false,
  async encode(t: HostTensor): Promise<CodedBody | undefined> {
    if (t.type !== 'float32') return undefined;
    const x = t.data as Float32Array;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      else if (v > hi) hi = v;
      else if (v !== v) return undefined; // NaN
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return undefined;
    const { scale, zeroPoint } = quantiseRange(lo, hi);
    const inv = 1 / scale;
    const offset = zeroPoint + 0.5;
    const q = new Uint8Array(x.length);
    for (let i = 0; i < x.length; i++) {
      // Rounded half up by truncation (v >= -1 here): still within scale/2.
      const v = (x[i]! * inv + offset) | 0;
      q[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return { codec: 'int8', scale, zeroPoint, body: q };
  },
  async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
    const { scale, zeroPoint } = coded;
    if (scale === undefined || !Number.isFinite(scale) || !(scale > 0)) throw new CodecError(`int8 scale must be a positive finite number, got ${String(scale)}`);
    if (zeroPoint === undefined || !Number.isInteger(zeroPoint) || zeroPoint < 0 || zeroPoint > 255) {
      throw new CodecError(`int8 zero point must be an integer in 0..255, got ${String(zeroPoint)}`);
    }
    const n = elementCount(dims);
    expectBodyBytes(coded, n, dims);
    const q = coded.body;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (q[i]! - zeroPoint) * scale;
    return { type, dims: [...dims], data: out };
  },
};
