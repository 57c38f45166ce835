/**
 * bf16: float32 tensors sent as bfloat16 (the upper 16 bits), rounded to nearest even. The
 * range is float32's; NaN stays NaN (quiet), +-Inf stays +-Inf, the relative error is at most 2^-8.
 * Arrays of SIMD_MIN elements or more go through the WebAssembly SIMD kernels (./simd/), which
 * give the same bits as the definitions below.
 */
import { cast16Codec } from './cast16.js';
import { SIMD_MIN, simdBfloats, simdFromBfloats } from './simd/index.js';

export const bf16 = cast16Codec(
  'bf16',
  (signed, out, crc) => {
    if (signed.length >= SIMD_MIN && simdBfloats(signed, out, crc)) return true;
    // Unsigned bits here: f + 0x7fff stays exact in a double, and is quicker than splitting it.
    const bits = new Uint32Array(signed.buffer, signed.byteOffset, signed.length);
    const n = bits.length;
    for (let i = 0; i < n; i++) {
      const f = bits[i]!;
      // NaN: keep it NaN (rounding could carry its mantissa into Inf).
      if ((f & 0x7fffffff) > 0x7f800000) out[i] = (f >>> 16) | 0x40;
      else out[i] = (f + 0x7fff + ((f >>> 16) & 1)) >>> 16;
    }
    return false;
  },
  (halves, out) => {
    const n = halves.length;
    if (n >= SIMD_MIN && simdFromBfloats(halves, out)) return;
    for (let i = 0; i < n; i++) out[i] = halves[i]! << 16;
  },
);
