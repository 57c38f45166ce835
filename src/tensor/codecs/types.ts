/** What every tensor codec shares: the encoded form of one tensor and the codec interface. */
import { OnnxManagerError } from '../../errors.js';
import type { HostTensor } from '../../runtime/session.js';

/** A tensor's encoded body cannot be decoded (corrupted, truncated, or parameters out of range). */
export class CodecError extends OnnxManagerError {}

/** How one tensor was encoded: the codec, its parameters, and the body that replaces raw_data. */
export interface CodedBody {
  codec: string;
  /** int8: the step between two quantised values. */
  scale?: number;
  /** int8: the quantised value that stands for 0. */
  zeroPoint?: number;
  body: Uint8Array;
}

/** A tensor's encoding decided, its body not written yet: the body's size and `write`, which fills all of a body of that size. */
export interface PlannedBody extends Omit<CodedBody, 'body'> {
  bytes: number;
  /** Returns the body's CRC-32 where the writer took it as it wrote (else nothing). */
  write(body: Uint8Array): number | void;
}

export interface TensorCodec {
  readonly name: string;
  /** Lossless codecs give back the same bits; lossy ones stay within their documented bound. */
  readonly lossless: boolean;
  /** The encoded tensor, or undefined when this codec leaves the tensor as it is (sent raw). */
  encode(t: HostTensor): Promise<CodedBody | undefined>;
  /**
   * Codecs whose body size is known before it is written: encode's answer with the body still
   * to be written (where the caller wants it, e.g. in its place in a payload); undefined as encode's.
   * A new object each call: the caller may add to it.
   */
  plan?(t: HostTensor): PlannedBody | undefined;
  /** Restores the tensor of `type` and `dims` from `coded`; throws CodecError for a body that does not fit. */
  decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor>;
}

/** encode through `plan`: the body written into a buffer of its own. */
export function writtenBody(planned: PlannedBody | undefined): CodedBody | undefined {
  if (planned === undefined) return undefined;
  const { bytes, write, ...params } = planned;
  const body = unfilled(Uint8Array, bytes);
  write(body);
  return { ...params, body };
}

/** The bytes of a typed array's elements (a view, no copy). */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * `n` elements of `Ctor` in memory that is not zeroed first (as Buffer.allocUnsafeSlow), in an
 * ArrayBuffer of their own: only for outputs whose every element is then written.
 */
export function unfilled<T extends Float32Array | Uint16Array | Int32Array | Uint8Array>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  return new Ctor(Buffer.allocUnsafeSlow(n * Ctor.BYTES_PER_ELEMENT).buffer as ArrayBuffer, 0, n);
}

/** A Float32Array or Uint16Array over `bytes`, copied only when `bytes` is not aligned for it. */
export function alignedView<T extends Float32Array | Uint16Array | Uint32Array>(bytes: Uint8Array, Ctor: { new (b: ArrayBuffer, o: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number }): T {
  const n = bytes.byteLength / Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
  const copy = new Ctor(n);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** `write` into `body` as 16-bit elements: in place where `body` is aligned for them, else through a copy. */
export function writeHalves(body: Uint8Array, write: (out: Uint16Array) => void): void {
  const n = body.byteLength >> 1;
  if (body.byteOffset % 2 === 0) return write(new Uint16Array(body.buffer, body.byteOffset, n));
  const out = unfilled(Uint16Array, n);
  write(out);
  body.set(new Uint8Array(out.buffer, 0, body.byteLength));
}

export function expectBodyBytes(coded: CodedBody, want: number, dims: readonly number[]): void {
  if (coded.body.byteLength !== want) {
    throw new CodecError(`${coded.codec} body of a [${dims.join(', ')}] tensor must be ${want} bytes, got ${coded.body.byteLength} (truncated or corrupted)`);
  }
}
