/**
 * bf16: float32 tensors sent as bfloat16 (the upper 16 bits), rounded to nearest even. The
 * range is float32's; NaN stays NaN (quiet), +-Inf stays +-Inf, the relative error is at most 2^-8.
 */
import { elementCount } from '../../onnx/dtypes.js';
import type { HostTensor } from '../../runtime/session.js';
import { alignedView, bytesOf, expectBodyBytes, type CodedBody, type TensorCodec } from './types.js';

export const bf16: TensorCodec = {
  name: 'bf16',
  lossless: false,
  async encode(t: HostTensor): Promise<CodedBody | undefined> {
    if (t.type !== 'float32') return undefined;
    const src = t.data as Float32Array;
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const out = new Uint16Array(src.length);
    for (let i = 0; i < bits.length; i++) {
      const f = bits[i]!;
      // NaN: keep it NaN (rounding could carry its mantissa into Inf).
      if ((f & 0x7fffffff) > 0x7f800000) out[i] = (f >>> 16) | 0x40;
      else out[i] = (f + 0x7fff + ((f >>> 16) & 1)) >>> 16;
    }
    return { codec: 'bf16', body: bytesOf(out) };
  },
  async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
    const n = elementCount(dims);
    expectBodyBytes(coded, n * 2, dims);
    const halves = alignedView(coded.body, Uint16Array);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = halves[i]! << 16;
    return { type, dims: [...dims], data: new Float32Array(out.buffer) };
  },
};
