/**
 * bf16: float32 tensors sent as bfloat16 (the upper 16 bits), rounded to nearest even. The
 * range is float32's; NaN stays NaN (quiet), +-Inf stays +-Inf, the relative error is at most 2^-8.
 */
import { cast16Codec } from './cast16.js';

export const bf16 = cast16Codec(
  'bf16',
  (bits, out) => {
    const n = bits.length;
    for (let i = 0; i < n; i++) {
      const f = bits[i]!;
      // NaN: keep it NaN (rounding could carry its mantissa into Inf).
      if ((f & 0x7fffffff) > 0x7f800000) out[i] = (f >>> 16) | 0x40;
      else {
        // Round to nearest even on the 16 bits dropped, in small integers (no int32 overflow).
        const hi = f >>> 16;
        out[i] = hi + (((f & 0xffff) + 0x7fff + (hi & 1)) >>> 16);
      }
    }
  },
  (halves, out) => {
    const n = halves.length;
    for (let i = 0; i < n; i++) out[i] = halves[i]! << 16;
  },
);
