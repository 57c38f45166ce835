/**
 * The fp16, bf16 and int8 kernels as WebAssembly SIMD, eight to sixteen elements per step, without
 * a branch per element. Each computes exactly what the element-by-element definitions do:
 *
 * - f2h: float32 bits -> half bits, round to nearest even: the normal range by adding 0xfff plus
 *   the lowest kept bit (clamped to Inf above it), subnormals and zero by a float32 addition of
 *   0.5 (whose rounding is the half's), the smaller of the two taken (each is at least the other
 *   outside its own range), NaN kept NaN with its top mantissa bits (as halfBits);
 * - h2f: half bits -> float32 bits: exponent rebiased, subnormals by a float32 subtraction of
 *   2^-14 (exact), again the smaller of the two, then Inf/NaN widened;
 * - f2b, b2f: float32 bits <-> bfloat16 bits, rounded to nearest even by adding 0x7fff plus the
 *   lowest kept bit, NaN kept NaN (quiet bit set), as bf16.ts;
 * - range: min(x, 0) and max(x, 0) in float32 lanes, and the largest magnitude's bits (at least
 *   0x7f800000 when a value is NaN or +-Inf, so the caller sees it);
 * - quant: trunc(x * inv + off) in float64 as the JavaScript does, saturated to 0..255;
 * - dequant: (q - zeroPoint) * scale in float64, rounded once to float32;
 * - dequant32: the same for a scale that is a float32 value, in float32 lanes: (q - zeroPoint)
 *   has at most 9 significant bits and the scale 24, so their float64 product is exact and its
 *   rounding to float32 is the float32 product.
 *
 * Each kernel takes the byte addresses of its input, the input's end and (but range) its output:
 * the input streamed in chunks goes to IN (at most CHUNK elements a call), its output to OUT;
 * range leaves its results at RES; the constants live at CONSTS; from STAGE on, the memory holds
 * whole arrays (grown as needed, see stageBytes). A call may read and write up to 64 bytes past
 * its elements.
 */
import { F32, F64, I32, op, shuffle, simd, V128, wasmModule, type WasmFunction } from './wasm.js';

/** Elements per call: 128 KiB of float32 in and 64 KiB out (or the reverse), in L2 with room to spare. */
export const CHUNK = 32768;
export const IN = 0;
export const OUT = 4 * CHUNK + 256;
export const RES = OUT + 4 * CHUNK + 256;
/** The constants table (Consts). */
const CONSTS = RES + 64;
/** 64 KiB pages for the input, output, results and constants (the table's 4 KiB at most). */
const PAGES = Math.ceil((CONSTS + 4096) / 65536);
/** Where whole arrays go (stageBytes): after the constants, page aligned. */
export const STAGE = PAGES * 65536;

/**
 * The kernels' v128 constants, held in memory at CONSTS (written once after instantiation) and
 * loaded into locals at each kernel's entry. A v128.const, even one set once into a local before
 * a loop, is rebuilt from immediates (three instructions) at every use inside it; a value loaded
 * from memory stays in a register or is reloaded in one.
 */
class Consts {
  readonly slots = new Map<string, number>();
  readonly lanes: number[] = [];

  /** The byte offset of the constant `lanes` in the table. */
  at(lanes: readonly [number, number, number, number]): number {
    const key = lanes.map((l) => l >>> 0).join(',');
    let at = this.slots.get(key);
    if (at === undefined) {
      at = 4 * this.lanes.length;
      this.slots.set(key, at);
      this.lanes.push(...lanes);
    }
    return at;
  }
}

/** A kernel under construction: parameters, then v128 constants and working locals. */
class Fn {
  private readonly locals: number[] = [];
  private readonly init: number[] = [];
  private readonly consts = new Map<number, number>();
  constructor(
    private readonly params: readonly number[],
    private readonly table: Consts,
  ) {}

  /** A new local of `type`; its index. */
  local(type: number): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  /** The value of a v128 constant (four 32-bit lanes, or one repeated), from its local. */
  c(v: number | readonly [number, number, number, number]): number[] {
    const at = this.table.at(typeof v === 'number' ? [v, v, v, v] : v);
    let local = this.consts.get(at);
    if (local === undefined) {
      local = this.local(V128);
      this.consts.set(at, local);
      this.init.push(...op.i32(0), ...simd('v128.load', CONSTS + at), ...op.set(local));
    }
    return op.get(local);
  }

  /** A v128 local set at entry to parameter `param` in every lane (`splat`: f64x2.splat or i32x4.splat). */
  splat(param: number, splat: string): number {
    const at = this.local(V128);
    this.init.push(...op.get(param), ...simd(splat), ...op.set(at));
    return at;
  }

  build(name: string, body: readonly number[]): WasmFunction {
    return { name, params: this.params, locals: this.locals, body: [...this.init, ...body] };
  }
}

/** Parameters every kernel starts with: the input's address (a pointer the loop moves), its end, and the output's address (moved too). */
const SRC = 0;
const END = 1;
const DST = 2;

/** A loop over the input [param SRC, param END) in steps of `step` bytes, the output pointer (param DST) moving by `outStep` (0: none). */
function loop(step: number, outStep: number, body: number[]): number[] {
  const next = (p: number, by: number): number[] => (by === 0 ? [] : [...op.get(p), ...op.i32(by), ...op.i32Add, ...op.set(p)]);
  return [...op.block, ...op.loop, ...op.get(SRC), ...op.get(END), ...op.i32GeU, ...op.brIf(1), ...body, ...next(SRC, step), ...next(DST, outStep), ...op.br(0), ...op.end, ...op.end];
}

const SWAP = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
/** The low 32 bits of each float64 lane of two vectors: four int32 lanes. */
const LOW_WORDS = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const i32x4 = (name: string, shift: number): number[] => [...op.i32(shift), ...simd(`i32x4.${name}`)];
/** 2^52 in both float64 lanes: an integer-valued double t in [0, 2^32) plus this holds t in its low 32 bits. */
const TWO_52: readonly [number, number, number, number] = [0, 0x43300000, 0, 0x43300000];

const at = (p: number, off: number): number[] => [...op.get(p), ...simd('v128.load', off)];

function f2h(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32], table);
  const [v, a, n, t] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const half = (off: number): number[] => [
    ...at(SRC, off), ...op.tee(v), ...f.c(0x7fffffff), ...simd('v128.and'), ...op.tee(a),
    // subnormal or zero: bits(a + 0.5f) - bits(0.5f) (for normal a it is at least the normal result)
    ...f.c(0x3f000000), ...simd('f32x4.add'), ...f.c(0x3f000000), ...simd('i32x4.sub'),
    // normal, from max(a, 2^-14) (0x400 below it, at least the subnormal result): (a - 0x38000000 + 0xfff + lowest kept bit) >> 13
    ...op.get(a), ...f.c(0x38800000), ...simd('i32x4.max_u'), ...op.tee(n), ...i32x4('shr_u', 13), ...op.set(t),
    ...op.get(n), ...f.c(0xfff - 0x38000000), ...simd('i32x4.add'), ...op.get(t), ...f.c(1), ...simd('v128.and'), ...simd('i32x4.add'), ...i32x4('shr_u', 13),
    // the smaller of the two, at most Inf
    ...simd('i32x4.min_u'), ...f.c(0x7c00), ...simd('i32x4.min_u'),
    // NaN: 0x7c00 | 0x200 | top mantissa bits, from (a >> 13 | 0x200) - 0x38000 over the 0x7c00 above
    ...op.get(t), ...f.c(0x200), ...simd('v128.or'), ...f.c(0x38000), ...simd('i32x4.sub'), ...op.get(a), ...f.c(0x7f800000), ...simd('i32x4.gt_s'), ...simd('v128.and'), ...simd('v128.or'),
    ...op.get(v), ...op.get(a), ...simd('v128.xor'), ...i32x4('shr_u', 16), ...simd('v128.or'),
  ];
  const eight = (off: number): number[] => [...op.get(DST), ...half(off), ...half(off + 16), ...simd('i16x8.narrow_i32x4_u'), ...simd('v128.store', off / 2)];
  return f.build('f2h', loop(64, 32, [...eight(0), ...eight(32)]));
}

function h2f(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32], table);
  const [w, x, em] = [f.local(V128), f.local(V128), f.local(V128)];
  const float = (extend: string, off: number): number[] => [
    ...op.get(DST),
    ...op.get(w), ...simd(extend), ...op.tee(x), ...i32x4('shl', 17), ...i32x4('shr_u', 4), ...op.tee(em),
    // subnormal or zero: bits(em + 2^-14 bits) - 2^-14, exact (for a normal half, at least the normal result)
    ...f.c(0x38800000), ...simd('i32x4.add'), ...f.c(0x38800000), ...simd('f32x4.sub'),
    // normal: rebiased (for a subnormal half of mantissa m, 2^-15 (1 + m/1024) is above m 2^-24)
    ...op.get(em), ...f.c(0x38000000), ...simd('i32x4.add'), ...simd('i32x4.min_u'),
    // Inf and NaN: rebiased again
    ...op.get(em), ...f.c(0x0f7fffff), ...simd('i32x4.gt_s'), ...f.c(0x38000000), ...simd('v128.and'), ...simd('i32x4.add'),
    ...op.get(x), ...i32x4('shl', 16), ...f.c(0x80000000), ...simd('v128.and'), ...simd('v128.or'),
    ...simd('v128.store', off),
  ];
  const eight = (off: number): number[] => [...at(SRC, off), ...op.set(w), ...float('i32x4.extend_low_i16x8_u', 2 * off), ...float('i32x4.extend_high_i16x8_u', 2 * off + 16)];
  return f.build('h2f', loop(32, 64, [...eight(0), ...eight(16)]));
}

function f2b(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32], table);
  const [v, t] = [f.local(V128), f.local(V128)];
  const four = (off: number): number[] => [
    ...at(SRC, off), ...op.tee(v), ...i32x4('shr_u', 16), ...op.tee(t), ...f.c(0x40), ...simd('v128.or'),
    ...op.get(v), ...f.c(0x7fff), ...simd('i32x4.add'), ...op.get(t), ...f.c(1), ...simd('v128.and'), ...simd('i32x4.add'), ...i32x4('shr_u', 16),
    ...op.get(v), ...f.c(0x7fffffff), ...simd('v128.and'), ...f.c(0x7f800000), ...simd('i32x4.gt_s'), ...simd('v128.bitselect'),
  ];
  const eight = (off: number): number[] => [...op.get(DST), ...four(off), ...four(off + 16), ...simd('i16x8.narrow_i32x4_u'), ...simd('v128.store', off / 2)];
  return f.build('f2b', loop(64, 32, [...eight(0), ...eight(32)]));
}

function b2f(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32], table);
  const w = f.local(V128);
  const four = (extend: string, off: number): number[] => [...op.get(DST), ...op.get(w), ...simd(extend), ...i32x4('shl', 16), ...simd('v128.store', off)];
  const eight = (off: number): number[] => [...at(SRC, off), ...op.set(w), ...four('i32x4.extend_low_i16x8_u', 2 * off), ...four('i32x4.extend_high_i16x8_u', 2 * off + 16)];
  return f.build('b2f', loop(32, 64, [...eight(0), ...eight(16)]));
}

function range(table: Consts): WasmFunction {
  const f = new Fn([I32, I32], table);
  const acc = [0, 1].map(() => ({ lo: f.local(V128), hi: f.local(V128), mag: f.local(V128) }));
  const x = f.local(V128);
  const step = (a: { lo: number; hi: number; mag: number }, off: number): number[] => [
    ...at(SRC, off), ...op.set(x),
    ...op.get(a.lo), ...op.get(x), ...simd('f32x4.pmin'), ...op.set(a.lo),
    ...op.get(a.hi), ...op.get(x), ...simd('f32x4.pmax'), ...op.set(a.hi),
    ...op.get(a.mag), ...op.get(x), ...f.c(0x7fffffff), ...simd('v128.and'), ...simd('i32x4.max_u'), ...op.set(a.mag),
  ];
  const store = (k: 'lo' | 'hi' | 'mag', name: string, at: number): number[] => [...op.i32(0), ...op.get(acc[0]![k]), ...op.get(acc[1]![k]), ...simd(name), ...simd('v128.store', at)];
  return f.build('range', [
    ...loop(32, 0, [...step(acc[0]!, 0), ...step(acc[1]!, 16)]),
    ...store('lo', 'f32x4.pmin', RES), ...store('hi', 'f32x4.pmax', RES + 16), ...store('mag', 'i32x4.max_u', RES + 32),
  ]);
}

function quant(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32, F64, F64], table);
  const v = f.local(V128);
  const [inv, off] = [f.splat(3, 'f64x2.splat'), f.splat(4, 'f64x2.splat')];
  // trunc(x * inv + off) as float64 (in (-1, 256] for x in the range), whose low 32 bits after adding 2^52 are the integer.
  const two = (): number[] => [...simd('f64x2.promote_low_f32x4'), ...op.get(inv), ...simd('f64x2.mul'), ...op.get(off), ...simd('f64x2.add'), ...simd('f64x2.trunc'), ...f.c(TWO_52), ...simd('f64x2.add')];
  const four = (o: number): number[] => [...at(SRC, o), ...op.tee(v), ...two(), ...op.get(v), ...op.get(v), ...shuffle(SWAP), ...two(), ...shuffle(LOW_WORDS)];
  const sixteen = [
    ...op.get(DST),
    ...four(0), ...four(16), ...simd('i16x8.narrow_i32x4_u'), ...four(32), ...four(48), ...simd('i16x8.narrow_i32x4_u'), ...simd('i8x16.narrow_i16x8_u'),
    ...simd('v128.store', 0),
  ];
  return f.build('quant', loop(64, 16, sixteen));
}

function dequant(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32, I32, F64], table);
  const [w, x] = [f.local(V128), f.local(V128)];
  const [zp, sc] = [f.splat(3, 'i32x4.splat'), f.splat(4, 'f64x2.splat')];
  // (q - zeroPoint) in int32 lanes (exact), then float64: the same as float64(q) - zeroPoint.
  const d = (): number[] => [...simd('f64x2.convert_low_i32x4_s'), ...op.get(sc), ...simd('f64x2.mul'), ...simd('f32x4.demote_f64x2_zero')];
  const four = (e16: string, e32: string, o: number): number[] => [
    ...op.get(DST),
    ...op.get(w), ...simd(e16), ...simd(e32), ...op.get(zp), ...simd('i32x4.sub'), ...op.tee(x), ...d(), ...op.get(x), ...op.get(x), ...shuffle(SWAP), ...d(), ...shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]),
    ...simd('v128.store', o),
  ];
  const [l16, h16, l32, h32] = ['i16x8.extend_low_i8x16_u', 'i16x8.extend_high_i8x16_u', 'i32x4.extend_low_i16x8_u', 'i32x4.extend_high_i16x8_u'];
  const body = [...at(SRC, 0), ...op.set(w), ...four(l16, l32, 0), ...four(l16, h32, 16), ...four(h16, l32, 32), ...four(h16, h32, 48)];
  return f.build('dequant', loop(16, 64, body));
}

/** A kernel's input [src, end) and output address (bytes of the kernels' memory). */
type Cast = (src: number, end: number, dst: number) => void;

function dequant32(table: Consts): WasmFunction {
  const f = new Fn([I32, I32, I32, I32, F32], table);
  const w = f.local(V128);
  const [zp, sc] = [f.splat(3, 'i32x4.splat'), f.splat(4, 'f32x4.splat')];
  const four = (e16: string, e32: string, o: number): number[] => [
    ...op.get(DST),
    ...op.get(w), ...simd(e16), ...simd(e32), ...op.get(zp), ...simd('i32x4.sub'), ...simd('f32x4.convert_i32x4_s'), ...op.get(sc), ...simd('f32x4.mul'),
    ...simd('v128.store', o),
  ];
  const [l16, h16, l32, h32] = ['i16x8.extend_low_i8x16_u', 'i16x8.extend_high_i8x16_u', 'i32x4.extend_low_i16x8_u', 'i32x4.extend_high_i16x8_u'];
  const body = [...at(SRC, 0), ...op.set(w), ...four(l16, l32, 0), ...four(l16, h32, 16), ...four(h16, l32, 32), ...four(h16, h32, 48)];
  return f.build('dequant32', loop(16, 64, body));
}

export interface Kernels {
  /** The kernels' memory (a new view after stageBytes grows it). */
  memory: Uint8Array;
  f2h: Cast;
  h2f: Cast;
  f2b: Cast;
  b2f: Cast;
  range(src: number, end: number): void;
  quant(src: number, end: number, dst: number, inv: number, off: number): void;
  dequant(src: number, end: number, dst: number, zeroPoint: number, scale: number): void;
  /** dequant for a scale that is a float32 value. */
  dequant32(src: number, end: number, dst: number, zeroPoint: number, scale: number): void;
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
  const table = new Consts();
  const bytes = wasmModule([f2h(table), h2f(table), f2b(table), b2f(table), range(table), quant(table), dequant(table), dequant32(table)], PAGES);
  if (!wasm || !wasm.validate(bytes)) return (kernels = null);
  const e = new wasm.Instance(new wasm.Module(bytes)).exports as unknown as Omit<Kernels, 'memory'> & { m: WasmMemory };
  memoryObject = e.m;
  new Uint32Array(e.m.buffer, CONSTS, table.lanes.length).set(table.lanes);
  return (kernels = { memory: new Uint8Array(e.m.buffer), f2h: e.f2h, h2f: e.h2f, f2b: e.f2b, b2f: e.b2f, range: e.range, quant: e.quant, dequant: e.dequant, dequant32: e.dequant32 });
}

interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

let memoryObject: WasmMemory | undefined;

/**
 * Makes room for `bytes` bytes at STAGE (plus 64 past them, which kernels may touch), growing the
 * memory if needed (k.memory is then a new view); false when it cannot grow that far.
 */
export function stageBytes(k: Kernels, bytes: number): boolean {
  const want = STAGE + bytes + 64;
  if (want <= k.memory.byteLength) return true;
  try {
    memoryObject!.grow(Math.ceil((want - k.memory.byteLength) / 65536));
  } catch {
    return false;
  }
  k.memory = new Uint8Array(memoryObject!.buffer);
  return true;
}
