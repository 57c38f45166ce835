/**
 * Host tensors: the typed array of an element type, zero and deterministic random tensors,
 * and their byte sizes.
 */
import { elementCount, findDtypeByName, type TypedArrayCtor } from '../onnx/dtypes.js';
import type { HostTensor } from '../runtime/session.js';

/** The typed array that holds data of element type `type` (see ../onnx/dtypes.ts). */
export function typedArrayFor(type: string): TypedArrayCtor {
  const c = findDtypeByName(type)?.array;
  if (!c) throw new TypeError(`no host array type for element type '${type}'`);
  return c;
}

export function zeroTensor(type: string, dims: readonly number[]): HostTensor {
  const n = elementCount(dims);
  if (type === 'string') return { type, dims: [...dims], data: new Array<string>(n).fill('') };
  return { type, dims: [...dims], data: new (typedArrayFor(type))(n) };
}

/** A small, fast, seeded generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A deterministic random tensor: floats uniform in [-1, 1), integers in [0, intRange),
 * booleans 0/1. The same seed always gives the same tensor.
 */
export function randomTensor(type: string, dims: readonly number[], seed = 1, intRange = 10): HostTensor {
  const n = elementCount(dims);
  const rand = seededRandom(seed);
  if (type === 'string') return { type, dims: [...dims], data: Array.from({ length: n }, () => String(Math.floor(rand() * intRange))) };
  const data = new (typedArrayFor(type))(n);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) data[i] = BigInt(Math.floor(rand() * intRange));
  } else if (type === 'float32' || type === 'float64') {
    for (let i = 0; i < n; i++) data[i] = rand() * 2 - 1;
  } else if (type === 'float16') {
    // Half-precision values in [-1, 1): sign, exponent 0..14, random mantissa.
    for (let i = 0; i < n; i++) data[i] = ((rand() < 0.5 ? 1 : 0) << 15) | (Math.floor(rand() * 15) << 10) | Math.floor(rand() * 1024);
  } else if (type === 'bool') {
    for (let i = 0; i < n; i++) data[i] = rand() < 0.5 ? 0 : 1;
  } else {
    for (let i = 0; i < n; i++) data[i] = Math.floor(rand() * intRange);
  }
  return { type, dims: [...dims], data };
}

/** Bytes of a tensor's data as stored (strings: UTF-8 lengths summed). */
export function hostTensorBytes(t: HostTensor): number {
  if (ArrayBuffer.isView(t.data)) return t.data.byteLength;
  let n = 0;
  for (const s of t.data as readonly string[]) n += Buffer.byteLength(s, 'utf8');
  return n;
}
