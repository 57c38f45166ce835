/**
 * The protobuf wire-format reader: a bounded cursor over bytes [start, end) that reads keys,
 * varints, fixed-width values and length-delimited ranges, and skips fields. Schema-free: the
 * ONNX codec's file check, the ONNX field scanner (../onnx/wire.ts) and the payload decoder
 * (../tensor/payload/) each give the fields their meaning.
 *
 * Every read is checked against `end`; malformed or truncated input throws WireError (a
 * RangeError) naming the byte. Varints are read as doubles: exact below 2^53; larger values
 * (up to 2^64 - 1, ten bytes, the tenth 0 or 1) are read without error and only compare
 * correctly, and their low 32 bits are in `low32` for int32 and enum fields.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const TWO_32 = 2 ** 32;
/** Doubles are read through this scratch array where the host is little-endian, as protobuf is. */
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Malformed or truncated protobuf. `truncated`: the bytes end inside a field (more data would fix it). */
export class WireError extends RangeError {
  override name = 'WireError';
  constructor(
    message: string,
    readonly truncated: boolean,
  ) {
    super(message);
  }
}

export class ProtoReader {
  pos: number;
  /** The low 32 bits of the last varint as a signed int32 (protobuf int32 and enum semantics). */
  low32 = 0;
  /** Wire type of the last key read. */
  wire = 0;
  /** Where the last key read starts: the field's first byte. */
  fieldStart = 0;

  /** `label` (e.g. "tensor 3") is added to error messages. */
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    readonly label?: string,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string, truncated = false): never {
    throw new WireError(this.label === undefined ? message : `${message} in ${this.label}`, truncated);
  }

  /** A varint as a double (exact below 2^53); sets low32. */
  varint(): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    if (pos < this.end && buf[pos]! < 0x80) {
      // One byte: most keys, lengths and small values.
      this.pos = pos + 1;
      return (this.low32 = buf[pos]!);
    }
    let value = 0;
    let mul = 1;
    let low = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) cutVarint(this, start);
      const b = buf[pos++]!;
      if (i === 9 && b > 1) break;
      if (i < 5) low |= (b & 0x7f) << (7 * i);
      value += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        this.low32 = low | 0;
        return value;
      }
      mul *= 128;
    }
    return this.fail(`malformed varint at byte ${start}`);
  }

  /** Reads a key; returns the field number and sets `wire` and `fieldStart`. */
  key(): number {
    const start = this.pos;
    const key = this.varint();
    if (key >= TWO_32) this.fail(`invalid field key at byte ${start}`);
    const field = Math.floor(key / 8);
    if (field === 0) this.fail(`invalid field number 0 at byte ${start}`);
    this.wire = key & 7;
    this.fieldStart = start;
    return field;
  }

  /** A length-delimited payload: returns where it starts; `pos` is then its end. */
  lengthDelimited(field: number): number {
    const len = this.varint();
    const left = this.end - this.pos;
    if (len > left) cutField(this, field, len);
    const start = this.pos;
    this.pos += len;
    return start;
  }

  /** Steps over `n` bytes of a fixed-width field. */
  private fixed(field: number, n: number): number {
    const at = this.pos;
    const left = this.end - at;
    if (left < n) cutField(this, field, n);
    this.pos = at + n;
    return at;
  }

  /** An unsigned fixed64 as a double (exact below 2^53). */
  fixed64(field: number): number {
    const b = this.buf;
    const p = this.fixed(field, 8);
    const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
    const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
    return hi * TWO_32 + lo;
  }

  /** A little-endian double. */
  double(field: number): number {
    const p = this.fixed(field, 8);
    if (!LITTLE_ENDIAN_HOST) return new DataView(this.buf.buffer, this.buf.byteOffset + p, 8).getFloat64(0, true);
    for (let i = 0; i < 8; i++) scratchBytes[i] = this.buf[p + i]!;
    return scratch[0]!;
  }

  /** Skips the value of the field whose key was just read (its number `field`, wire type `wire`). */
  skip(field: number): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.fixed(field, 8);
        return;
      case WIRE_LEN:
        this.lengthDelimited(field);
        return;
      case WIRE_I32:
        this.fixed(field, 4);
        return;
      default:
        this.fail(`unsupported wire type ${this.wire} of field ${field} at byte ${this.fieldStart}`);
    }
  }
}

// Messages are built out of line, so that the reading methods stay small enough to inline.
function cutVarint(r: ProtoReader, start: number): never {
  return r.fail(`truncated protobuf at byte ${r.end} (varint from byte ${start})`, true);
}

function cutField(r: ProtoReader, field: number, needs: number): never {
  return r.fail(`truncated protobuf at byte ${r.end}: field ${field} at byte ${r.fieldStart} needs ${needs} bytes, ${r.end - r.pos} left`, true);
}

/** One field occurrence: the whole field is bytes [start, end); a length-delimited payload is [dataStart, end). */
export interface FieldRange {
  field: number;
  wireType: number;
  start: number;
  dataStart: number;
  end: number;
}

/** Lists the fields of one message whose bytes are buf[start, end). Throws WireError on malformed input. */
export function scanFields(buf: Uint8Array, start = 0, end = buf.length): FieldRange[] {
  const out: FieldRange[] = [];
  const r = new ProtoReader(buf, start, end);
  while (r.pos < end) {
    const field = r.key();
    const wireType = r.wire;
    let dataStart = r.pos;
    if (wireType === WIRE_LEN) dataStart = r.lengthDelimited(field);
    else r.skip(field);
    out.push({ field, wireType, start: r.fieldStart, dataStart, end: r.pos });
  }
  return out;
}
