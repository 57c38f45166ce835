/**
 * fp16: float32 tensors sent as IEEE 754 half precision, rounded to nearest even. NaN stays
 * NaN, +-Inf stays +-Inf, finite values beyond +-65504 become +-Inf and values below 2^-24
 * lose precision (subnormals). In the normal range the relative error is at most 2^-11.
 * Arrays of SIMD_MIN elements or more go through the WebAssembly SIMD kernels (./simd/), which
 * give the same bits as the definitions below.
 */
import { cast16Codec } from './cast16.js';
import { SIMD_MIN, simdFloats, simdHalves } from './simd/index.js';

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

let table: Int32Array | undefined;

/** float32 bits of every half-precision value, built on first use (256 KiB; Int32Array: loads stay int32). */
function halfTable(): Int32Array {
  if (table) return table;
  table = new Int32Array(65536);
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
    table[h] = bits | 0;
  }
  return table;
}

/** Half-precision bits of float32 bits `f`: the common cases inline, the rest through halfBits. */
function half(f: number): number {
  const a = f & 0x7fffffff;
  const sign = (f >>> 16) & 0x8000;
  // Zero and values that round to zero (below 2^-25, as halfBits) need no rounding; normal
  // results inline (round to nearest even by adding 0xfff plus the lowest kept bit);
  // subnormals, overflow, Inf and NaN through halfBits.
  if (a < 0x33000000) return sign;
  if (a >= 0x38800000 && a < 0x47800000) return sign | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
  return halfBits(f);
}

export const fp16 = cast16Codec(
  'fp16',
  (bits, out, crc) => {
    const n = bits.length;
    if (n >= SIMD_MIN && simdHalves(bits, out, crc)) return true;
    let i = 0;
    // Two halves per 32-bit store where the output is aligned for it.
    if (out.byteOffset % 4 === 0) {
      const pairs = n >> 1;
      const out32 = new Int32Array(out.buffer, out.byteOffset, pairs);
      for (let j = 0; j < pairs; j++, i += 2) out32[j] = half(bits[i]!) | (half(bits[i + 1]!) << 16);
    }
    for (; i < n; i++) out[i] = half(bits[i]!);
    return false;
  },
  (halves, out) => {
    const n = halves.length;
    if (n >= SIMD_MIN && simdFloats(halves, out)) return;
    const lut = halfTable();
    let i = 0;
    // Two halves per 32-bit load where the input is aligned for it.
    if (halves.byteOffset % 4 === 0) {
      const pairs = n >> 1;
      const in32 = new Uint32Array(halves.buffer, halves.byteOffset, pairs);
      for (let j = 0; j < pairs; j++, i += 2) {
        const w = in32[j]!;
        out[i] = lut[w & 0xffff]!;
        out[i + 1] = lut[w >>> 16]!;
      }
    }
    for (; i < n; i++) out[i] = lut[halves[i]!]!;
  },
);
