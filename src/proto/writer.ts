/**
 * The protobuf wire-format writer: varints and keys, small messages built field by field
 * (ProtoWriter), and messages kept as lists of byte chunks (Chunks) so that large payloads
 * (weights, tensor data) are framed without being copied. Used by the split engine to
 * assemble parts from byte ranges of the original file and by the payload encoder.
 *
 * Varints take non-negative safe integers (below 2^53); that covers every length, field key,
 * count and dimension written here.
 */
import { WIRE_I64, WIRE_LEN, WIRE_VARINT } from './reader.js';

/** Bytes of the varint encoding of `v` (a non-negative safe integer). */
export function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the varint `v` at out[pos]; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function checkVarint(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a varint`);
}

export function varintBytes(value: number): Uint8Array {
  checkVarint(value);
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}

/** The key of field `field` with wire type `wire`. */
export function keyOf(field: number, wire: number): number {
  return field * 8 + wire;
}

/** The key and length prefix of a length-delimited field of `length` payload bytes. */
export function lengthDelimitedHeader(field: number, length: number): Uint8Array {
  const key = keyOf(field, WIRE_LEN);
  checkVarint(key);
  checkVarint(length);
  const out = new Uint8Array(varintLength(key) + varintLength(length));
  writeVarint(out, writeVarint(out, 0, key), length);
  return out;
}

/**
 * A small message written field by field into one growing buffer. Strings are UTF-8 as
 * Buffer.from writes it (lone surrogates become U+FFFD).
 */
export class ProtoWriter {
  private buf: Uint8Array = Buffer.allocUnsafe(64);
  private pos = 0;

  get length(): number {
    return this.pos;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  private varint(v: number): void {
    checkVarint(v);
    this.reserve(10);
    this.pos = writeVarint(this.buf, this.pos, v);
  }

  /** Field `field` as a varint (uint32, uint64, int64 of non-negative values, enums). */
  uint(field: number, v: number): this {
    this.varint(keyOf(field, WIRE_VARINT));
    this.varint(v);
    return this;
  }

  /** Field `field` as a little-endian unsigned fixed64 (a safe integer). */
  fixed64(field: number, v: number): this {
    checkVarint(v);
    this.varint(keyOf(field, WIRE_I64));
    this.reserve(8);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    view.setUint32(0, v % 2 ** 32, true);
    view.setUint32(4, Math.floor(v / 2 ** 32), true);
    this.pos += 8;
    return this;
  }

  /** Field `field` as a little-endian double. */
  double(field: number, v: number): this {
    this.varint(keyOf(field, WIRE_I64));
    this.reserve(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).setFloat64(0, v, true);
    this.pos += 8;
    return this;
  }

  /** Field `field` as length-delimited bytes. */
  bytes(field: number, data: Uint8Array): this {
    this.varint(keyOf(field, WIRE_LEN));
    this.varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** Field `field` as a UTF-8 string. */
  string(field: number, s: string): this {
    return this.bytes(field, s.length === 0 ? new Uint8Array(0) : Buffer.from(s, 'utf8'));
  }

  /** Field `field` as an embedded message. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** The bytes written so far (a Buffer viewing the writer's memory; copy it before writing more). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
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
