/**
 * ONNX element types, the one table: their numbers in TensorProto.DataType, the names
 * onnxruntime-node uses, their sizes, and the typed arrays that hold their data on the host.
 */
import { UsageError } from '../errors.js';

export type TypedArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export interface DTypeInfo {
  /** TensorProto.DataType value. */
  onnx: number;
  /** Name as onnxruntime-node's Tensor types use it (or the ONNX name lower-cased where it has none). */
  name: string;
  /** Bits per element; 0 for strings (variable length). */
  bits: number;
  /** Whole bytes per element; 0 for strings and for packed sub-byte types (see bits). */
  bytes: number;
  /**
   * The typed array that holds the data on the host, as onnxruntime-node's Tensor does (bool as
   * Uint8Array, float16 as Uint16Array bit patterns); undefined for strings (string[]) and for
   * types that have none here. Exactly these types, and strings, travel in payloads.
   */
  array?: TypedArrayCtor;
}

function dtype(onnx: number, name: string, bits: number, array?: TypedArrayCtor): DTypeInfo {
  // Every entry has the same properties (array: undefined where there is none): one object shape.
  return { onnx, name, bits, bytes: bits % 8 === 0 ? bits / 8 : 0, array };
}

/** Every element type, in TensorProto.DataType order. */
export const DTYPES: readonly DTypeInfo[] = [
  dtype(1, 'float32', 32, Float32Array),
  dtype(2, 'uint8', 8, Uint8Array),
  dtype(3, 'int8', 8, Int8Array),
  dtype(4, 'uint16', 16, Uint16Array),
  dtype(5, 'int16', 16, Int16Array),
  dtype(6, 'int32', 32, Int32Array),
  dtype(7, 'int64', 64, BigInt64Array),
  dtype(8, 'string', 0),
  dtype(9, 'bool', 8, Uint8Array),
  dtype(10, 'float16', 16, Uint16Array),
  dtype(11, 'float64', 64, Float64Array),
  dtype(12, 'uint32', 32, Uint32Array),
  dtype(13, 'uint64', 64, BigUint64Array),
  dtype(14, 'complex64', 64),
  dtype(15, 'complex128', 128),
  dtype(16, 'bfloat16', 16),
  dtype(17, 'float8e4m3fn', 8),
  dtype(18, 'float8e4m3fnuz', 8),
  dtype(19, 'float8e5m2', 8),
  dtype(20, 'float8e5m2fnuz', 8),
  dtype(21, 'uint4', 4),
  dtype(22, 'int4', 4),
  dtype(23, 'float4e2m1', 4),
  dtype(24, 'float8e8m0', 8),
  dtype(25, 'uint2', 2),
  dtype(26, 'int2', 2),
];

const BY_ONNX = new Map(DTYPES.map((t) => [t.onnx, t]));
const BY_NAME = new Map(DTYPES.map((t) => [t.name, t]));

export function dtypeFromOnnx(elemType: number): DTypeInfo {
  const info = BY_ONNX.get(elemType);
  if (!info) throw new UsageError(`unknown ONNX element type ${elemType}`);
  return info;
}

/** The entry for ONNX element type `elemType`, or undefined. */
export function findDtypeByOnnx(elemType: number): DTypeInfo | undefined {
  return BY_ONNX.get(elemType);
}

/** The entry named `name` (onnxruntime-node's name), or undefined. */
export function findDtypeByName(name: string): DTypeInfo | undefined {
  return BY_NAME.get(name);
}

export function dtypeFromName(name: string): DTypeInfo {
  const info = BY_NAME.get(name);
  if (!info) throw new UsageError(`unknown element type '${name}' (known: ${DTYPES.map((t) => t.name).join(', ')})`);
  return info;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes of a dense tensor of this type and shape (sub-byte types packed, rounded up). Strings: -1. */
export function tensorBytes(elemType: number, dims: readonly number[]): number {
  const { bits } = dtypeFromOnnx(elemType);
  if (bits === 0) return -1;
  return Math.ceil((elementCount(dims) * bits) / 8);
}
