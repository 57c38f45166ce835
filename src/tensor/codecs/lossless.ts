/** What the lossless codecs share: which tensors they take, and the checks on what they give back. */
import { elementCount } from '../../onnx/dtypes.js';
import type { HostTensor } from '../../runtime/session.js';
import { typedArrayFor } from '../host.js';
import { bytesOf, CodecError } from './types.js';

/** The bytes of a numeric tensor's elements, or undefined for string tensors (sent raw). */
export function numericBytes(t: HostTensor): Uint8Array | undefined {
  return ArrayBuffer.isView(t.data) ? bytesOf(t.data) : undefined;
}

/** Bytes a decoded numeric tensor of `type` and `dims` must have. */
export function expectedBytes(type: string, dims: readonly number[]): number {
  return elementCount(dims) * typedArrayFor(type).BYTES_PER_ELEMENT;
}

/** The tensor whose elements are `bytes` (checked against type and dims). */
export function tensorFromBytes(codec: string, bytes: Uint8Array, type: string, dims: readonly number[]): HostTensor {
  const want = expectedBytes(type, dims);
  if (bytes.byteLength !== want) {
    throw new CodecError(`${codec} body of a [${dims.join(', ')}] ${type} tensor decompresses to ${bytes.byteLength} bytes, expected ${want} (corrupted)`);
  }
  const Ctor = typedArrayFor(type);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % size === 0) return { type, dims: [...dims], data: new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, want / size) };
  const copy = new Ctor(want / size);
  new Uint8Array(copy.buffer).set(bytes);
  return { type, dims: [...dims], data: copy };
}
