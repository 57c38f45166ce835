/**
 * fp16: float32 tensors sent as IEEE 754 half precision, rounded to nearest even. NaN stays
 * NaN, +-Inf stays +-Inf, finite values beyond +-65504 become +-Inf and values below 2^-24
 * lose precision (subnormals). In the normal range the relative error is at most 2^-11.
 */
import { cast16Codec } from './cast16.js';

/** Half-precision bits of the float32 with bits `f`, rounded to nearest even. */
export function halfBits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  let mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa moves into the exponent: 65520 and above round to Inf.
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
  return sign | h;
}

let table: Uint32Array | undefined;

/** float32 bits of every half-precision value, built on first use (256 KiB). */
function halfTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let bits: number;
    if (exp === 0x1f) bits = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) bits = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant === 0) bits = sign;
    else {
      // Subnormal: normalise.
      let e = 113;
      let m = mant;
      while ((m & 0x400) === 0) {
        m <<= 1;
        e--;
      }
      bits = sign | (e << 23) | ((m & 0x3ff) << 13);
    }
    table[h] = bits >>> 0;
  }
  return table;
}

export const fp16 = cast16Codec(
  'fp16',
  (bits, out) => {
    for (let i = 0; i < bits.length; i++) {
      const f = bits[i]!;
      const a = f & 0x7fffffff;
      // Normal results inline (round to nearest even by adding 0xfff plus the lowest kept bit);
      // zero, subnormals, overflow, Inf and NaN through halfBits.
      if (a >= 0x38800000 && a < 0x47800000) out[i] = ((f >>> 16) & 0x8000) | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
      else out[i] = halfBits(f);
    }
  },
  (halves, out) => {
    const lut = halfTable();
    for (let i = 0; i < halves.length; i++) out[i] = lut[halves[i]!]!;
  },
);
