/**
 * Field numbers of schema/payload.proto (onnx_manager.Payload, Tensor, Timing), checked against
 * the compiled schema by test/tensor/payload-schema.test.ts, and the element types a payload carries.
 */
import { DTYPES, findDtypeByName, findDtypeByOnnx, type DTypeInfo } from '../../onnx/dtypes.js';

export const PAYLOAD_FIELD = {
  version: 1,
  messageBytes: 2,
  kind: 3,
  runId: 4,
  splitIndex: 5,
  rep: 6,
  nextModels: 7,
  timings: 8,
  error: 9,
  host: 10,
  outputs: 11,
  profileRep: 12,
  profileWarmup: 13,
  profileJson: 14,
  tensors: 15,
  storeRetryMs: 16,
} as const;

export const TENSOR_FIELD = { dims: 1, dataType: 2, stringData: 6, name: 8, rawData: 9, alignmentPadding: 1000, encoding: 1001 } as const;

export const ENCODING_FIELD = { codec: 1, scale: 2, zeroPoint: 3, crc32: 4 } as const;

export const TIMING_FIELD = { name: 1, ms: 2 } as const;

/** onnx_manager.PayloadKind values. */
export const KIND = { input: 1, output: 2 } as const;

/** onnx.TensorProto fields that hold data elsewhere than raw_data/string_data: refused. */
export const TENSOR_FOREIGN_DATA: Readonly<Record<number, string>> = {
  3: 'segment',
  4: 'float_data',
  5: 'int32_data',
  7: 'int64_data',
  10: 'double_data',
  11: 'uint64_data',
  13: 'external_data',
  14: 'data_location',
};

/** A payload carries strings and every type with a host typed array. */
const carried = (d: DTypeInfo | undefined): d is DTypeInfo => d !== undefined && (d.array !== undefined || d.bits === 0);

/** Element type names (onnxruntime-node's) a payload can carry. */
export const PAYLOAD_DTYPES: readonly string[] = DTYPES.filter(carried).map((d) => d.name);

/** The element type named `name` if a payload carries it. */
export function payloadDtypeByName(name: string): DTypeInfo | undefined {
  const d = findDtypeByName(name);
  return carried(d) ? d : undefined;
}

/** The element type of onnx data_type `onnx` if a payload carries it. */
export function payloadDtypeByOnnx(onnx: number): DTypeInfo | undefined {
  const d = findDtypeByOnnx(onnx);
  return carried(d) ? d : undefined;
}
