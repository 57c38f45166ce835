/**
 * ONNX element types: their numbers in TensorProto.DataType, the names onnxruntime-node uses,
 * and their sizes in bits.
 */
import { UsageError } from '../errors.js';

export interface DTypeInfo {
  /** TensorProto.DataType value. */
  onnx: number;
  /** Name as onnxruntime-node's Tensor types use it (or the ONNX name lower-cased where it has none). */
  name: string;
  /** Bits per element; 0 for strings (variable length). */
  bits: number;
}

const TABLE: DTypeInfo[] = [
  { onnx: 1, name: 'float32', bits: 32 },
  { onnx: 2, name: 'uint8', bits: 8 },
  { onnx: 3, name: 'int8', bits: 8 },
  { onnx: 4, name: 'uint16', bits: 16 },
  { onnx: 5, name: 'int16', bits: 16 },
  { onnx: 6, name: 'int32', bits: 32 },
  { onnx: 7, name: 'int64', bits: 64 },
  { onnx: 8, name: 'string', bits: 0 },
  { onnx: 9, name: 'bool', bits: 8 },
  { onnx: 10, name: 'float16', bits: 16 },
  { onnx: 11, name: 'float64', bits: 64 },
  { onnx: 12, name: 'uint32', bits: 32 },
  { onnx: 13, name: 'uint64', bits: 64 },
  { onnx: 14, name: 'complex64', bits: 64 },
  { onnx: 15, name: 'complex128', bits: 128 },
  { onnx: 16, name: 'bfloat16', bits: 16 },
  { onnx: 17, name: 'float8e4m3fn', bits: 8 },
  { onnx: 18, name: 'float8e4m3fnuz', bits: 8 },
  { onnx: 19, name: 'float8e5m2', bits: 8 },
  { onnx: 20, name: 'float8e5m2fnuz', bits: 8 },
  { onnx: 21, name: 'uint4', bits: 4 },
  { onnx: 22, name: 'int4', bits: 4 },
  { onnx: 23, name: 'float4e2m1', bits: 4 },
  { onnx: 24, name: 'float8e8m0', bits: 8 },
  { onnx: 25, name: 'uint2', bits: 2 },
  { onnx: 26, name: 'int2', bits: 2 },
];

const BY_ONNX = new Map(TABLE.map((t) => [t.onnx, t]));
const BY_NAME = new Map(TABLE.map((t) => [t.name, t]));

export function dtypeFromOnnx(elemType: number): DTypeInfo {
  const info = BY_ONNX.get(elemType);
  if (!info) throw new UsageError(`unknown ONNX element type ${elemType}`);
  return info;
}

export function dtypeFromName(name: string): DTypeInfo {
  const info = BY_NAME.get(name);
  if (!info) throw new UsageError(`unknown element type '${name}' (known: ${TABLE.map((t) => t.name).join(', ')})`);
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
