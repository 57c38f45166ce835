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

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}


/**
 * A small message written field by field into one growing buffer. Strings are UTF-8 as
 * Buffer.from writes it (lone surrogates become U+FFFD).
 */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  /** Empties the writer, keeping its memory (what finish() returned before is overwritten). */
  reset(): this {
    this.pos = 0;
    return this;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  private varint(v: number): void {
    if (v < 0x80 && v >= 0 && Number.isInteger(v)) {
      this.reserve(1);
      this.buf[this.pos++] = v;
      return;
    }
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
    this.buf.writeUInt32LE(v % 2 ** 32, this.pos);
    this.buf.writeUInt32LE(Math.floor(v / 2 ** 32), this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** Field `field` as a little-endian double. */
  double(field: number, v: number): this {
    this.varint(keyOf(field, WIRE_I64));
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.pos);
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
    this.varint(keyOf(field, WIRE_LEN));
    if (s.length < 64 && isAscii(s)) {
      // Short ASCII strings (names, hashes): one byte per character, no call into Buffer.
      this.varint(s.length);
      this.reserve(s.length);
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
      this.pos = pos;
      return this;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.reserve(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  /** Field `field` as an embedded message. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** The bytes written so far (a Buffer viewing the writer's memory; copy it before writing more or resetting). */
  finish(): Buffer {
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
