/**
 * Field numbers of schema/payload.proto (onnx_manager.Payload, Tensor, Timing), checked against
 * the compiled schema by test/tensor/payload-schema.test.ts, and the element types a payload carries.
 */
import { DTYPES, findDtypeByName, findDtypeByOnnx, type DTypeInfo } from '../../onnx/dtypes.js';

export const P_VERSION = 1;
export const P_MESSAGE_BYTES = 2;
export const P_KIND = 3;
export const P_RUN_ID = 4;
export const P_SPLIT_INDEX = 5;
export const P_REP = 6;
export const P_NEXT_MODELS = 7;
export const P_TIMINGS = 8;
export const P_ERROR = 9;
export const P_HOST = 10;
export const P_OUTPUTS = 11;
export const P_TENSORS = 15;
export const T_DIMS = 1;
export const T_DATA_TYPE = 2;
export const T_STRING_DATA = 6;
export const T_NAME = 8;
export const T_RAW_DATA = 9;
export const T_PADDING = 1000;
export const TIMING_NAME = 1;
export const TIMING_MS = 2;
export const KIND_INPUT = 1;
export const KIND_OUTPUT = 2;

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
