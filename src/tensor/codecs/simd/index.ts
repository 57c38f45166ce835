/**
 * The SIMD kernels over whole arrays: each array goes through the kernels' memory in chunks that
 * stay in cache (copied in, converted, copied out). Every function returns false where this
 * runtime has no WebAssembly SIMD, and the caller then runs its element-by-element definition.
 */
import { crc32 } from '../../crc32.js';
import { CHUNK, IN, OUT, RES, simdKernels, type Kernels } from './kernels.js';

/** A CRC-32 taken piece by piece as the output is written (value: of the bytes so far). */
export interface RunningCrc {
  value: number;
}

/** Spans shorter than this go element by element (a kernel call costs more than it saves). */
export const SIMD_MIN = 256;

let enabled = true;

/** Turns the kernels off (false) or back on: the element-by-element definitions then run everywhere (for comparisons). */
export function useSimd(on: boolean): void {
  enabled = on;
}

const kernelsOn = (): Kernels | null => (enabled ? simdKernels() : null);

const bytes = (a: ArrayBufferView, from: number, to: number, size: number): Uint8Array => new Uint8Array(a.buffer, a.byteOffset + from * size, (to - from) * size);

/**
 * Elements [from, to) of `src` (`inSize` bytes each) through `run`, whose results (`outSize`
 * bytes each) go to elements [from, to) of `dst`; `crc`, when given, continued over each piece
 * of `dst` as it is written.
 */
function chunked(k: Kernels, src: ArrayBufferView, inSize: number, dst: ArrayBufferView | undefined, outSize: number, from: number, to: number, run: (bytes: number) => void, crc?: RunningCrc): void {
  const m = k.memory;
  for (let i = from; i < to; i += CHUNK) {
    const end = Math.min(to, i + CHUNK);
    const n = (end - i) * inSize;
    m.set(bytes(src, i, end, inSize), IN);
    // What range's last step reads past the elements is zero; the other kernels' results there are not copied out.
    if (!dst) m.fill(0, IN + n, IN + n + 64);
    run(n);
    if (dst) {
      const piece = bytes(dst, i, end, outSize);
      piece.set(m.subarray(OUT, OUT + (end - i) * outSize));
      if (crc) crc.value = crc32(piece, crc.value);
    }
  }
}

/** A conversion of whole arrays through `kernel`, `inSize` bytes in and `outSize` bytes out per element. */
function cast<I extends Int32Array | Uint16Array, O extends Int32Array | Uint16Array>(kernel: 'f2h' | 'h2f' | 'f2b' | 'b2f', inSize: number, outSize: number): (src: I, out: O, crc?: RunningCrc) => boolean {
  return (src, out, crc) => {
    const k = kernelsOn();
    if (!k) return false;
    chunked(k, src, inSize, out, outSize, 0, src.length, k[kernel], crc);
    return true;
  };
}

/** out[i] = half bits of float32 bits[i] (halfBits). */
export const simdHalves = cast<Int32Array, Uint16Array>('f2h', 4, 2);
/** out[i] = float32 bits of half halves[i]. */
export const simdFloats = cast<Uint16Array, Int32Array>('h2f', 2, 4);
/** out[i] = bfloat16 bits of float32 bits[i], as bf16's narrowing. */
export const simdBfloats = cast<Int32Array, Uint16Array>('f2b', 4, 2);
/** out[i] = float32 bits of bfloat16 b[i] (b[i] << 16). */
export const simdFromBfloats = cast<Uint16Array, Int32Array>('b2f', 2, 4);

/** min(x, 0) and max(x, 0) over x[from..to) as finiteRange; false without SIMD. */
export function simdRange(x: Float32Array, from: number, to: number): { lo: number; hi: number } | undefined | false {
  const k = kernelsOn();
  if (!k) return false;
  let lo = 0;
  let hi = 0;
  let finite = true;
  const res = new Float32Array(k.memory.buffer, RES, 8);
  const mag = new Uint32Array(k.memory.buffer, RES + 32, 4);
  chunked(k, x, 4, undefined, 0, from, to, (n) => {
    k.range(n);
    // +0 makes a -0 (which the lanes may give) +0, as finiteRange has it.
    lo = Math.min(lo, res[0]!, res[1]!, res[2]!, res[3]!) + 0;
    hi = Math.max(hi, res[4]!, res[5]!, res[6]!, res[7]!);
    // The bits of the largest magnitude: 0x7f800000 and above for +-Inf and NaN.
    if (Math.max(mag[0]!, mag[1]!, mag[2]!, mag[3]!) >= 0x7f800000) finite = false;
  });
  return finite ? { lo, hi } : undefined;
}

/** q[i] = min(255, trunc(x[i] * inv + zeroPoint + 0.5)) for i in [from, to), as quantiseInto; `crc` continued over q[from..to). */
export function simdQuantise(x: Float32Array, from: number, to: number, q: Uint8Array, inv: number, zeroPoint: number, crc?: RunningCrc): boolean {
  const k = kernelsOn();
  if (!k) return false;
  chunked(k, x, 4, q, 1, from, to, (n) => k.quant(n, inv, zeroPoint + 0.5), crc);
  return true;
}

/** out[i] = (q[i] - zeroPoint) * scale for i in [from, to), as dequantise. */
export function simdDequantise(q: Uint8Array, out: Float32Array, zeroPoint: number, scale: number, from: number, to: number): boolean {
  const k = kernelsOn();
  if (!k) return false;
  chunked(k, q, 1, out, 4, from, to, (n) => k.dequant(n, zeroPoint, scale));
  return true;
}
