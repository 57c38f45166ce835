/**
 * The fp16 and int8 kernels as WebAssembly SIMD, four or sixteen elements per step, without a
 * branch per element. Each computes exactly what the element-by-element definitions do:
 *
 * - f2h: float32 bits -> half bits, round to nearest even: the normal range by adding 0xfff plus
 *   the lowest kept bit, subnormals and zero by a float32 addition of 0.5 (whose rounding is the
 *   half's), overflow to Inf, NaN kept NaN with its top mantissa bits (as halfBits);
 * - h2f: half bits -> float32 bits: exponent rebiased, Inf/NaN widened, subnormals by a float32
 *   subtraction of 2^-14 (exact);
 * - range: min(x, 0) and max(x, 0) in float32 lanes (NaN propagates, so the caller sees it);
 * - quant: trunc(x * inv + off) in float64 as the JavaScript does, saturated to 0..255;
 * - dequant: (q - zeroPoint) * scale in float64, rounded once to float32.
 *
 * Memory: input at IN, output at OUT, range results at RES; a call takes at most CHUNK elements
 * and may read and write up to 64 bytes past its elements.
 */
import { F64, I32, op, shuffle, simd, splat32, V128, wasmModule, type WasmFunction } from './wasm.js';

export const CHUNK = 16384;
export const IN = 0;
export const OUT = 4 * CHUNK + 256;
export const RES = OUT + 4 * CHUNK + 256;
const PAGES = 3;

/** A loop over input bytes [0, param 0) in steps of `step`, pointer in local `p`. */
function loop(p: number, step: number, body: number[]): number[] {
  return [...op.block, ...op.loop, ...op.get(p), ...op.get(0), ...op.i32GeU, ...op.brIf(1), ...body, ...op.get(p), ...op.i32(step), ...op.i32Add, ...op.set(p), ...op.br(0), ...op.end, ...op.end];
}

const SWAP = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const LOW_PAIRS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const i32x4 = (name: string, shift: number): number[] => [...op.i32(shift), ...simd(`i32x4.${name}`)];

function f2h(): WasmFunction {
  const [p, v, a, r] = [1, 2, 3, 4];
  const half = (off: number): number[] => [
    ...op.get(p), ...simd('v128.load', IN + off), ...op.tee(v), ...splat32(0x7fffffff), ...simd('v128.and'), ...op.set(a),
    // subnormal or zero: bits(a + 0.5f) - bits(0.5f)
    ...op.get(a), ...splat32(0x3f000000), ...simd('f32x4.add'), ...splat32(0x3f000000), ...simd('i32x4.sub'),
    // normal: (a - 0x38000000 + 0xfff + lowest kept bit) >> 13
    ...op.get(a), ...splat32(0xfff - 0x38000000), ...simd('i32x4.add'), ...op.get(a), ...i32x4('shr_u', 13), ...splat32(1), ...simd('v128.and'), ...simd('i32x4.add'), ...i32x4('shr_u', 13),
    ...op.get(a), ...splat32(0x38800000), ...simd('i32x4.lt_s'), ...simd('v128.bitselect'), ...op.set(r),
    ...splat32(0x7c00), ...op.get(r), ...op.get(a), ...splat32(0x47800000), ...simd('i32x4.ge_s'), ...simd('v128.bitselect'), ...op.set(r),
    ...op.get(a), ...splat32(0x7fffff), ...simd('v128.and'), ...i32x4('shr_u', 13), ...splat32(0x7e00), ...simd('v128.or'),
    ...op.get(r), ...op.get(a), ...splat32(0x7f800000), ...simd('i32x4.gt_s'), ...simd('v128.bitselect'),
    ...op.get(v), ...i32x4('shr_u', 16), ...splat32(0x8000), ...simd('v128.and'), ...simd('v128.or'),
  ];
  const body = [...op.get(p), ...op.i32(1), ...op.i32ShrU, ...half(0), ...half(16), ...simd('i16x8.narrow_i32x4_u'), ...simd('v128.store', OUT)];
  return { name: 'f2h', params: [I32], locals: [I32, V128, V128, V128], body: loop(p, 32, body) };
}

function h2f(): WasmFunction {
  const [p, w, x, em] = [1, 2, 3, 4];
  const float = (extend: string, off: number): number[] => [
    ...op.get(p), ...op.i32(1), ...op.i32Shl,
    ...op.get(w), ...simd(extend), ...op.tee(x), ...splat32(0x7fff), ...simd('v128.and'), ...i32x4('shl', 13), ...op.set(em),
    ...op.get(em), ...splat32(0x38800000), ...simd('i32x4.add'), ...splat32(0x38800000), ...simd('f32x4.sub'),
    ...op.get(em), ...splat32(0x70000000), ...simd('i32x4.add'), ...op.get(em), ...splat32(0x38000000), ...simd('i32x4.add'),
    ...op.get(em), ...splat32(0x0f800000), ...simd('i32x4.ge_s'), ...simd('v128.bitselect'),
    ...op.get(em), ...splat32(0x00800000), ...simd('i32x4.lt_s'), ...simd('v128.bitselect'),
    ...op.get(x), ...splat32(0x8000), ...simd('v128.and'), ...i32x4('shl', 16), ...simd('v128.or'),
    ...simd('v128.store', OUT + off),
  ];
  const body = [...op.get(p), ...simd('v128.load', IN), ...op.set(w), ...float('i32x4.extend_low_i16x8_u', 0), ...float('i32x4.extend_high_i16x8_u', 16)];
  return { name: 'h2f', params: [I32], locals: [I32, V128, V128, V128], body: loop(p, 16, body) };
}

function range(): WasmFunction {
  const [p, lo, hi, lo2, hi2] = [1, 2, 3, 4, 5];
  const acc = (l: number, h: number, off: number): number[] => [
    ...op.get(l), ...op.get(p), ...simd('v128.load', IN + off), ...simd('f32x4.min'), ...op.set(l),
    ...op.get(h), ...op.get(p), ...simd('v128.load', IN + off), ...simd('f32x4.max'), ...op.set(h),
  ];
  const store = (l: number, l2: number, name: string, at: number): number[] => [...op.i32(0), ...op.get(l), ...op.get(l2), ...simd(name), ...simd('v128.store', at)];
  return {
    name: 'range',
    params: [I32],
    locals: [I32, V128, V128, V128, V128],
    body: [...loop(p, 32, [...acc(lo, hi, 0), ...acc(lo2, hi2, 16)]), ...store(lo, lo2, 'f32x4.min', RES), ...store(hi, hi2, 'f32x4.max', RES + 16)],
  };
}

function quant(): WasmFunction {
  const [p, inv, off, v] = [3, 4, 5, 6];
  const four = (at: number): number[] => {
    const q = (): number[] => [...simd('f64x2.promote_low_f32x4'), ...op.get(inv), ...simd('f64x2.mul'), ...op.get(off), ...simd('f64x2.add'), ...simd('i32x4.trunc_sat_f64x2_s_zero')];
    return [...op.get(p), ...simd('v128.load', IN + at), ...op.tee(v), ...q(), ...op.get(v), ...op.get(v), ...shuffle(SWAP), ...q(), ...shuffle(LOW_PAIRS)];
  };
  const body = [
    ...op.get(p), ...op.i32(2), ...op.i32ShrU,
    ...four(0), ...four(16), ...simd('i16x8.narrow_i32x4_u'), ...four(32), ...four(48), ...simd('i16x8.narrow_i32x4_u'), ...simd('i8x16.narrow_i16x8_u'),
    ...simd('v128.store', OUT),
  ];
  return { name: 'quant', params: [I32, F64, F64], locals: [I32, V128, V128, V128], body: [...op.get(1), ...simd('f64x2.splat'), ...op.set(inv), ...op.get(2), ...simd('f64x2.splat'), ...op.set(off), ...loop(p, 64, body)] };
}

function dequant(): WasmFunction {
  const [p, zp, sc, w, x] = [3, 4, 5, 6, 7];
  const d = (): number[] => [...simd('f64x2.convert_low_i32x4_s'), ...op.get(zp), ...simd('f64x2.sub'), ...op.get(sc), ...simd('f64x2.mul'), ...simd('f32x4.demote_f64x2_zero')];
  const four = (e16: string, e32: string, at: number): number[] => [
    ...op.get(p), ...op.i32(2), ...op.i32Shl,
    ...op.get(w), ...simd(e16), ...simd(e32), ...op.tee(x), ...d(), ...op.get(x), ...op.get(x), ...shuffle(SWAP), ...d(), ...shuffle(LOW_PAIRS),
    ...simd('v128.store', OUT + at),
  ];
  const [l16, h16, l32, h32] = ['i16x8.extend_low_i8x16_u', 'i16x8.extend_high_i8x16_u', 'i32x4.extend_low_i16x8_u', 'i32x4.extend_high_i16x8_u'];
  const body = [...op.get(p), ...simd('v128.load', IN), ...op.set(w), ...four(l16, l32, 0), ...four(l16, h32, 16), ...four(h16, l32, 32), ...four(h16, h32, 48)];
  return { name: 'dequant', params: [I32, F64, F64], locals: [I32, V128, V128, V128, V128], body: [...op.get(1), ...simd('f64x2.splat'), ...op.set(zp), ...op.get(2), ...simd('f64x2.splat'), ...op.set(sc), ...loop(p, 16, body)] };
}

export interface Kernels {
  memory: Uint8Array;
  f2h(bytes: number): void;
  h2f(bytes: number): void;
  range(bytes: number): void;
  quant(bytes: number, inv: number, off: number): void;
  dequant(bytes: number, zeroPoint: number, scale: number): void;
}

/** What the kernels need of the WebAssembly API (the project's TypeScript libraries do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

let kernels: Kernels | null | undefined;

/** The kernels, compiled on first use; null where this runtime has no WebAssembly SIMD. */
export function simdKernels(): Kernels | null {
  if (kernels !== undefined) return kernels;
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  const bytes = wasmModule([f2h(), h2f(), range(), quant(), dequant()], PAGES);
  if (!wasm || !wasm.validate(bytes)) return (kernels = null);
  const e = new wasm.Instance(new wasm.Module(bytes)).exports as unknown as Omit<Kernels, 'memory'> & { m: { buffer: ArrayBuffer } };
  return (kernels = { memory: new Uint8Array(e.m.buffer), f2h: e.f2h, h2f: e.h2f, range: e.range, quant: e.quant, dequant: e.dequant });
}
