/**
 * The SIMD kernels over whole arrays: each array goes through the kernels' memory in chunks that
 * stay in cache (copied in, converted, copied out). Every function returns false where this
 * runtime has no WebAssembly SIMD, and the caller then runs its element-by-element definition.
 */
import { crc32 } from '../../crc32.js';
import { CHUNK, IN, OUT, RES, simdKernels, STAGE, stageBytes, type Kernels } from './kernels.js';

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
function chunked(k: Kernels, src: ArrayBufferView, inSize: number, dst: ArrayBufferView | undefined, outSize: number, from: number, to: number, run: (end: number) => void, crc?: RunningCrc): void {
  const m = k.memory;
  for (let i = from; i < to; i += CHUNK) {
    const end = Math.min(to, i + CHUNK);
    const n = (end - i) * inSize;
    m.set(bytes(src, i, end, inSize), IN);
    // What range's last step reads past the elements is zero; the other kernels' results there are not copied out.
    if (!dst) m.fill(0, IN + n, IN + n + 64);
    run(IN + n);
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
    const run = k[kernel];
    chunked(k, src, inSize, out, outSize, 0, src.length, (end) => run(IN, end, OUT), crc);
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
  chunked(k, x, 4, undefined, 0, from, to, (end) => {
    k.range(IN, end);
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
  chunked(k, x, 4, q, 1, from, to, (end) => k.quant(IN, end, OUT, inv, zeroPoint + 0.5), crc);
  return true;
}

/** out[i] = (q[i] - zeroPoint) * scale for i in [from, to), as dequantise. */
export function simdDequantise(q: Uint8Array, out: Float32Array, zeroPoint: number, scale: number, from: number, to: number): boolean {
  const k = kernelsOn();
  if (!k) return false;
  const run = Math.fround(scale) === scale ? k.dequant32 : k.dequant;
  chunked(k, q, 1, out, 4, from, to, (end) => run(IN, end, OUT, zeroPoint, scale));
  return true;
}

/** Largest array (bytes) held whole in the kernels' memory; longer ones stream through it in chunks. */
export const STAGE_MAX = 16 << 20;

/**
 * A float32 array copied whole into the kernels' memory (at STAGE) by simdStage, for passes that
 * read it more than once (int8's range, then its quantisation): the copy is made once and used
 * while no other array has been staged since; after that it is made again from `x`.
 */
export interface Staged {
  readonly x: Float32Array;
}

/** The array whose copy is at STAGE now. */
let staged: Staged | undefined;

/** `x` staged (copied now), or null without SIMD or for arrays longer than STAGE_MAX. */
export function simdStage(x: Float32Array): Staged | null {
  const s = { x };
  return stagedKernels(s) ? s : null;
}

/** The kernels with `s` at STAGE (copied again if another array took its place) and room for x.length output bytes after it. */
function stagedKernels(s: Staged): Kernels | null {
  const k = kernelsOn();
  const x = s.x;
  if (!k || x.byteLength > STAGE_MAX || !stageBytes(k, x.byteLength + 64 + x.length)) return null;
  if (staged !== s) {
    k.memory.set(bytes(x, 0, x.length, 4), STAGE);
    staged = s;
  }
  return k;
}

/** Where simdQuantiseSpans writes the bytes of the staged x: after x's elements and 64 bytes. */
const quantAt = (x: Float32Array): number => STAGE + x.byteLength + 64;

/**
 * The ranges per channel of the staged array x, cut into spans of `len` elements (span s of
 * channel s % channels, as a tensor's elements along an axis with `len` elements inside it):
 * lo[c] = min(lo[c], x) and hi[c] = max(hi[c], x) over channel c's spans (start them at 0 for
 * finiteRange's min(x, 0) and max(x, 0)); false without SIMD, undefined when a value is NaN or
 * +-Inf (true: all found).
 */
export function simdSpanRanges(st: Staged, len: number, channels: number, lo: Float64Array, hi: Float64Array): boolean | undefined {
  const k = stagedKernels(st);
  if (!k) return false;
  const x = st.x;
  const res = new Float32Array(k.memory.buffer, RES, 8);
  const mag = new Uint32Array(k.memory.buffer, RES + 32, 4);
  // The kernel takes whole steps of 8 elements; the rest of each span goes element by element.
  const whole = len - (len % 8);
  for (let from = 0, c = 0; len > 0 && from < x.length; from += len, c = c + 1 === channels ? 0 : c + 1) {
    let l = lo[c]!;
    let h = hi[c]!;
    if (whole > 0) {
      k.range(STAGE + 4 * from, STAGE + 4 * (from + whole));
      // +0 makes a -0 (which the lanes may give) +0, as finiteRange has it.
      l = Math.min(l, res[0]!, res[1]!, res[2]!, res[3]!) + 0;
      h = Math.max(h, res[4]!, res[5]!, res[6]!, res[7]!);
      // The bits of the largest magnitude: 0x7f800000 and above for +-Inf and NaN.
      if (Math.max(mag[0]!, mag[1]!, mag[2]!, mag[3]!) >= 0x7f800000) return undefined;
    }
    let sum = 0;
    for (let i = from + whole; i < from + len; i++) {
      const v = x[i]!;
      l = v < l ? v : l;
      h = v > h ? v : h;
      sum += v;
    }
    if (!Number.isFinite(sum)) return undefined;
    lo[c] = l;
    hi[c] = h;
  }
  return true;
}

/**
 * quantiseInto's bytes of the staged array x, cut into spans of `len` elements (span s of
 * channel c = s % inv.length, quantised with inv[c] and zeroPoint[c]), written to q (x.length
 * bytes) with `crc` continued over q; false without SIMD.
 */
export function simdQuantiseSpans(st: Staged, len: number, inv: ArrayLike<number>, zeroPoint: ArrayLike<number>, q: Uint8Array, crc: RunningCrc): boolean {
  const k = stagedKernels(st);
  if (!k) return false;
  const x = st.x;
  const out = quantAt(x);
  const channels = inv.length;
  // In increasing order: a span's last step may write past its end, which the next span's overwrites.
  for (let from = 0, c = 0; len > 0 && from < x.length; from += len, c = c + 1 === channels ? 0 : c + 1) {
    k.quant(STAGE + 4 * from, STAGE + 4 * (from + len), out + from, inv[c]!, zeroPoint[c]! + 0.5);
  }
  copyOut(k, out, q, crc);
  return true;
}

/** q <- the kernels' memory at `at` (q.length bytes), in pieces, `crc` (when given) continued over each while in cache. */
function copyOut(k: Kernels, at: number, q: Uint8Array, crc?: RunningCrc): void {
  const m = k.memory;
  const PIECE = 65536;
  for (let i = 0; i < q.length; i += PIECE) {
    const end = Math.min(q.length, i + PIECE);
    const piece = q.subarray(i, end);
    piece.set(m.subarray(at + i, at + end));
    if (crc) crc.value = crc32(piece, crc.value);
  }
}

/**
 * dequantise's values of q cut into spans of `len` elements (span s of channel c = s %
 * scale.length, with zeroPoint[c] and scale[c]) into out (q.length float32s), q copied into the
 * kernels' memory once; false without SIMD or for a q longer than STAGE_MAX / 4.
 */
export function simdDequantiseSpans(q: Uint8Array, len: number, zeroPoint: ArrayLike<number>, scale: ArrayLike<number>, out: Float32Array): boolean {
  const k = kernelsOn();
  if (!k || out.byteLength > STAGE_MAX || !stageBytes(k, q.length + 64 + out.byteLength)) return false;
  // q takes the staged array's place.
  staged = undefined;
  k.memory.set(q, STAGE);
  const at = STAGE + q.length + 64;
  const channels = scale.length;
  for (let from = 0, c = 0; len > 0 && from < q.length; from += len, c = c + 1 === channels ? 0 : c + 1) {
    const s = scale[c]!;
    (Math.fround(s) === s ? k.dequant32 : k.dequant)(STAGE + from, STAGE + from + len, at + 4 * from, zeroPoint[c]!, s);
  }
  copyOut(k, at, bytes(out, 0, out.length, 4));
  return true;
}
