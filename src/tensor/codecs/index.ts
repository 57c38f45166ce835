/**
 * Tensor codecs: the cut tensors sent in fewer bytes (--tensor_codec). Lossy casts of float32
 * (fp16, bf16), affine int8 per tensor or per channel (int8:axis=N), and lossless compression (deflate, zstd). Each encoded
 * tensor is marked in the payload with its codec and parameters (schema/payload.proto,
 * Tensor.encoding); a tensor without the mark is raw, so payloads without codecs are unchanged.
 */
export { bf16 } from './bf16.js';
export { deflate } from './deflate.js';
export { fp16, halfBits } from './fp16.js';
export { int8 } from './int8.js';
export { zstd } from './zstd.js';
export { int8Channel, int8ChannelAxis } from './int8-channel.js';
export { isTensorCodecName, receivedCodec, TENSOR_CODEC_CHOICES, TENSOR_CODECS, tensorCodec, type TensorCodecName } from './registry.js';
export { decodeTensors, encodeCodedPayload, encodeTensors, type EncodedTensors } from './tensors.js';
export { CodecError, type CodedBody, type PlannedBody, type TensorCodec } from './types.js';
