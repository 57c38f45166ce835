/**
 * Protobuf wire-format scanning and writing. The split engine keeps nodes and weights as byte
 * ranges of the original file and assembles parts from them, so nothing is re-encoded or copied
 * until it is written, and every field (known or not) is carried over byte for byte.
 */
import { OnnxFormatError } from '../errors.js';

/** One field occurrence: the whole field is bytes [start, end); a length-delimited payload is [dataStart, end). */
export interface FieldRange {
  field: number;
  wireType: number;
  start: number;
  dataStart: number;
  end: number;
}

function readVarint(buf: Uint8Array, pos: number, end: number): [value: number, next: number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new RangeError(`truncated varint at byte ${pos}`);
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
  throw new RangeError(`malformed varint at byte ${pos}`);
}

/** Lists the fields of one message whose bytes are buf[start, end). Throws RangeError on malformed input. */
export function scanFields(buf: Uint8Array, start = 0, end = buf.length): FieldRange[] {
  const out: FieldRange[] = [];
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [key, afterKey] = readVarint(buf, pos, end);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (field === 0) throw new RangeError(`invalid field number 0 at byte ${fieldStart}`);
    pos = afterKey;
    let dataStart = pos;
    switch (wireType) {
      case 0:
        pos = readVarint(buf, pos, end)[1];
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const [len, afterLen] = readVarint(buf, pos, end);
        dataStart = afterLen;
        pos = afterLen + len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new RangeError(`unsupported wire type ${wireType} at byte ${fieldStart}`);
    }
    if (pos > end) throw new RangeError(`truncated field ${field} at byte ${fieldStart}`);
    out.push({ field, wireType, start: fieldStart, dataStart, end: pos });
  }
  return out;
}

export function varintBytes(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a varint`);
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}

/** The tag and length prefix of a length-delimited field of `length` payload bytes. */
export function lengthDelimitedHeader(field: number, length: number): Uint8Array {
  const tag = varintBytes(field * 8 + 2);
  const len = varintBytes(length);
  const out = new Uint8Array(tag.length + len.length);
  out.set(tag, 0);
  out.set(len, tag.length);
  return out;
}

/** A message as a list of byte chunks whose concatenation is its encoding. */
export class Chunks {
  readonly parts: Uint8Array[] = [];
  byteLength = 0;
  push(chunk: Uint8Array): this {
    if (chunk.length > 0) {
      this.parts.push(chunk);
      this.byteLength += chunk.length;
    }
    return this;
  }
  append(other: Chunks): this {
    for (const p of other.parts) this.push(p);
    return this;
  }
  /** Appends `payload` as length-delimited field `field`. */
  field(field: number, payload: Chunks | Uint8Array): this {
    const length = payload instanceof Chunks ? payload.byteLength : payload.length;
    this.push(lengthDelimitedHeader(field, length));
    return payload instanceof Chunks ? this.append(payload) : this.push(payload);
  }
  concat(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = Buffer.allocUnsafe(this.byteLength);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** Wraps a RangeError from scanning into the project's format error, naming the file. */
export function scanOrThrow(buf: Uint8Array, start: number, end: number, what: string, file?: string): FieldRange[] {
  try {
    return scanFields(buf, start, end);
  } catch (err) {
    const where = file ? `${file}: ` : '';
    throw new OnnxFormatError(`${where}not a valid ONNX model (${what}: ${(err as Error).message})`, { cause: err, file });
  }
}
