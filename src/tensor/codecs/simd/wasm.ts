/**
 * The few pieces of the WebAssembly binary format the codec kernels need (sections, LEB128,
 * opcodes), so that the kernels are built here from this project's own source at first use:
 * no toolchain, no downloaded binary.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Core opcodes used by the kernels. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Shl: [0x74],
  i32ShrU: [0x76],
};

/** SIMD opcodes (prefix 0xfd), by the names of the WebAssembly SIMD proposal. */
const SIMD: Record<string, number> = {
  'v128.load': 0x00,
  'v128.store': 0x0b,
  'i8x16.shuffle': 0x0d,
  'i32x4.splat': 0x11,
  'f32x4.splat': 0x13,
  'f64x2.splat': 0x14,
  'i32x4.lt_s': 0x39,
  'i32x4.gt_s': 0x3b,
  'i32x4.ge_s': 0x3f,
  'v128.and': 0x4e,
  'v128.or': 0x50,
  'v128.xor': 0x51,
  'v128.bitselect': 0x52,
  'f32x4.demote_f64x2_zero': 0x5e,
  'f64x2.promote_low_f32x4': 0x5f,
  'i8x16.narrow_i16x8_u': 0x66,
  'f64x2.trunc': 0x7a,
  'i16x8.narrow_i32x4_u': 0x86,
  'i16x8.extend_low_i8x16_u': 0x89,
  'i16x8.extend_high_i8x16_u': 0x8a,
  'i32x4.extend_low_i16x8_u': 0xa9,
  'i32x4.extend_high_i16x8_u': 0xaa,
  'i32x4.shl': 0xab,
  'i32x4.shr_u': 0xad,
  'i32x4.add': 0xae,
  'i32x4.sub': 0xb1,
  'i32x4.min_u': 0xb7,
  'i32x4.max_u': 0xb9,
  'f32x4.add': 0xe4,
  'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6,
  'f32x4.min': 0xe8,
  'f32x4.max': 0xe9,
  'f32x4.pmin': 0xea,
  'f32x4.pmax': 0xeb,
  'f64x2.add': 0xf0,
  'f64x2.sub': 0xf1,
  'f64x2.mul': 0xf2,
  'i32x4.trunc_sat_f64x2_s_zero': 0xfc,
  'f32x4.convert_i32x4_s': 0xfa,
  'f64x2.convert_low_i32x4_s': 0xfe,
};

/** A SIMD instruction; loads and stores take a memory offset (alignment hint 16 bytes). */
export function simd(name: string, offset?: number): number[] {
  const code = SIMD[name];
  if (code === undefined) throw new Error(`wasm: unknown SIMD instruction ${name} (bug)`);
  const memarg = name === 'v128.load' || name === 'v128.store' ? [4, ...uleb(offset ?? 0)] : [];
  return [0xfd, ...uleb(code), ...memarg];
}

/** v128.const of four 32-bit lanes, lowest first. */
export function const32x4(lanes: readonly [number, number, number, number]): number[] {
  const b: number[] = [];
  for (const v of lanes) for (let k = 0; k < 4; k++) b.push((v >>> (8 * k)) & 0xff);
  return [0xfd, 0x0c, ...b];
}

/** v128.const of four equal 32-bit lanes. */
export function splat32(v: number): number[] {
  return const32x4([v, v, v, v]);
}

/** i8x16.shuffle with lane indices `lanes` (0..31). */
export function shuffle(lanes: readonly number[]): number[] {
  return [...simd('i8x16.shuffle'), ...lanes];
}

export interface WasmFunction {
  name: string;
  params: readonly number[];
  /** Local variable types after the parameters. */
  locals: readonly number[];
  body: readonly number[];
}

const vec = (items: readonly number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
const name = (s: string): number[] => vec([...Buffer.from(s)].map((c) => [c]));

/** A module of `fns` (no results) and one exported memory "m" of `pages` 64 KiB pages at first (it may grow). */
export function wasmModule(fns: readonly WasmFunction[], pages: number): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0]);
  const code = fns.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(7, vec([[...name('m'), 0x02, 0], ...fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(code)),
  ]);
}
