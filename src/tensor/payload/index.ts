/**
 * The payload format: cut tensors from the edge to the cloud (kind 'input') and results back
 * (kind 'output'), as one protobuf message of schema/payload.proto (onnx_manager.Payload).
 * It replaces the original tool's pickle files: decoding never executes anything, every
 * field is checked, and the work done is bounded by the input size and the limits.
 *
 * Encoding (./encode.ts): header fields, then each tensor's metadata and an unused
 * `alignment_padding` field so that raw_data starts at a multiple of 8 bytes from the start of
 * the message; the data is a view of the tensor's typed array (no copy).
 * Decoding (./decode.ts): a strict, bounded wire-format reader; aligned tensor data is viewed
 * in place. Little-endian hosts only (raw_data is little-endian, as in ONNX).
 */
export type { CodedTensor, DecodeOptions, Payload } from './types.js';
export { PayloadError } from './errors.js';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_TENSORS, MAX_LIST_ENTRIES, MAX_RANK, MAX_RUN_ID_LENGTH, PAYLOAD_VERSION } from './limits.js';
export { PAYLOAD_DTYPES } from './fields.js';
export { encodePayload, encodePayloadPlanned, payloadTensorBytes } from './encode.js';
export { decodePayload } from './decode.js';
