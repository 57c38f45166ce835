/**
 * One `tensors` field of a payload: read (readTensor: every field checked, data located but not
 * touched) and then turned into a host tensor (checkedTensor: type, shape and data length agree;
 * numeric data views the input where it is aligned for its element size, copies otherwise).
 */
import { isUtf8 } from 'node:buffer';
import { crc32 } from '../crc32.js';
import { elementCount, findDtypeByOnnx } from '../../onnx/dtypes.js';
import { ProtoReader, WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../../proto/reader.js';
import type { HostTensor } from '../../runtime/session.js';
import { describeName } from './checks.js';
import { refuse } from './errors.js';
import { ENCODING_FIELD as E, payloadDtypeByOnnx, TENSOR_FIELD as T, TENSOR_FOREIGN_DATA } from './fields.js';
import { MAX_RANK } from './limits.js';
import type { CodedTensor } from './types.js';


export interface RawTensor {
  index: number;
  name: string;
  dims: number[];
  dataType: number;
  raw?: [number, number];
  stringCount: number;
  /** The tensor's bytes: string_data entries are read from here once the tensor is validated. */
  span: [number, number];
  /** Set when raw_data holds a codec's body. */
  encoding?: { codec: string; scale?: number; zeroPoint?: number; crc32: number };
}

function readEncoding(buf: Buffer, start: number, end: number, index: number): NonNullable<RawTensor['encoding']> {
  const r = new ProtoReader(buf, start, end, `tensor ${index} encoding`);
  const e: NonNullable<RawTensor['encoding']> = { codec: '', crc32: 0 };
  while (r.pos < end) {
    const field = r.key();
    if (field === E.codec) {
      expectWire(r, field, 'encoding codec', WIRE_LEN);
      const s = r.lengthDelimited(field);
      e.codec = utf8(buf, s, r.pos, `tensor ${index} codec`);
    } else if (field === E.scale) {
      expectWire(r, field, 'encoding scale', WIRE_I64);
      e.scale = r.double(field);
    } else if (field === E.zeroPoint || field === E.crc32) {
      expectWire(r, field, field === E.crc32 ? 'encoding crc32' : 'encoding zero_point', WIRE_VARINT);
      const v = r.varint();
      if (v >= 2 ** 32) refuse(`tensor ${index} encoding field ${field} does not fit uint32`);
      if (field === E.crc32) e.crc32 = v;
      else e.zeroPoint = v;
    } else {
      r.skip(field);
    }
  }
  if (e.codec === '' || e.codec === 'raw') refuse(`tensor ${index} has an encoding without a codec name`);
  return e;
}

export function utf8(buf: Buffer, start: number, end: number, what: string): string {
  const view = buf.subarray(start, end);
  if (!isUtf8(view)) refuse(`${what} is not valid UTF-8`);
  return view.toString('utf8');
}

/** Refuses a field whose wire type is not the one its schema gives it. */
export function expectWire(r: ProtoReader, field: number, name: string, want: number): void {
  if (r.wire !== want) refuse(`field ${field} (${name}) has wire type ${r.wire} at byte ${r.fieldStart}, expected ${want}`);
}

/** The varint at `at`, exactly (the reader gives a double, exact only below 2^53). */
function exactVarint(buf: Buffer, at: number): bigint {
  let v = 0n;
  for (let i = 0, shift = 0n; i < 10 && at + i < buf.length; i++, shift += 7n) {
    const b = buf[at + i]!;
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  return v & (2n ** 64n - 1n);
}

export function readTensor(buf: Buffer, start: number, end: number, index: number): RawTensor {
  const r = new ProtoReader(buf, start, end, `tensor ${index}`);
  const t: RawTensor = { index, name: '', dims: [], dataType: 0, stringCount: 0, span: [start, end] };
  const addDim = (v: number, at: number): void => {
    if (t.dims.length >= MAX_RANK) refuse(`tensor ${index} has more than ${MAX_RANK} dims`);
    if (v > Number.MAX_SAFE_INTEGER) {
      // A double rounds these: the message reads the varint again, exactly.
      const exact = exactVarint(buf, at);
      if (exact >= 2n ** 63n) refuse(`tensor ${index} has a negative dim ${exact - 2n ** 64n} (byte ${at})`);
      refuse(`tensor ${index} has a dim of ${exact}, more than 2^53 - 1 (byte ${at})`);
    }
    t.dims.push(v);
  };
  while (r.pos < end) {
    const field = r.key();
    switch (field) {
      case T.dims:
        if (r.wire === WIRE_LEN) {
          const s = r.lengthDelimited(field);
          const packed = new ProtoReader(buf, s, r.pos, `tensor ${index} dims`);
          while (packed.pos < packed.end) {
            const at = packed.pos;
            addDim(packed.varint(), at);
          }
        } else {
          expectWire(r, field, 'dims', WIRE_VARINT);
          const at = r.pos;
          addDim(r.varint(), at);
        }
        break;
      case T.dataType:
        expectWire(r, field, 'data_type', WIRE_VARINT);
        r.varint();
        t.dataType = r.low32; // int32: negative values are 10-byte varints
        break;
      case T.stringData:
        expectWire(r, field, 'string_data', WIRE_LEN);
        r.lengthDelimited(field);
        t.stringCount++;
        break;
      case T.name: {
        expectWire(r, field, 'name', WIRE_LEN);
        const s = r.lengthDelimited(field);
        t.name = utf8(buf, s, r.pos, `tensor ${index} name`);
        break;
      }
      case T.rawData:
        expectWire(r, field, 'raw_data', WIRE_LEN);
        t.raw = [r.lengthDelimited(field), r.pos];
        break;
      case T.encoding: {
        expectWire(r, field, 'encoding', WIRE_LEN);
        const s = r.lengthDelimited(field);
        t.encoding = readEncoding(buf, s, r.pos, index);
        break;
      }
      case T.alignmentPadding:
        expectWire(r, field, 'alignment_padding', WIRE_LEN);
        r.lengthDelimited(field);
        break;
      default: {
        const foreign = TENSOR_FOREIGN_DATA[field];
        if (foreign !== undefined) {
          refuse(`tensor ${index} uses onnx.TensorProto field ${foreign}; payload tensors keep their data in raw_data or string_data`);
        }
        r.skip(field);
      }
    }
  }
  return t;
}

/**
 * A coded tensor: numeric type, no string_data, and a body whose CRC-32 is the one sent (the
 * codec checks the body's size against the shape when it decodes it).
 */
export function checkedCoded(buf: Buffer, t: RawTensor): CodedTensor {
  const what = `tensor ${t.index} (${describeName(t.name)})`;
  const e = t.encoding!;
  const dtype = payloadDtypeByOnnx(t.dataType);
  if (!dtype || dtype.array === undefined) refuse(`${what} is encoded with ${e.codec} but its data_type ${t.dataType} is not a numeric type a payload carries`);
  if (t.stringCount > 0) refuse(`${what} is encoded with ${e.codec} but has string_data`);
  const [s, end] = t.raw ?? [0, 0];
  const body = buf.subarray(s, end);
  const crc = crc32(body);
  if (crc !== e.crc32) refuse(`${what}: ${e.codec} body of ${body.length} bytes fails its CRC-32 check (corrupted)`);
  const coded: CodedTensor = { type: dtype.name, dims: t.dims, codec: e.codec, body };
  if (e.scale !== undefined) coded.scale = e.scale;
  // proto3 leaves a zero point of 0 out: a scale without one means 0.
  if (e.zeroPoint !== undefined || e.scale !== undefined) coded.zeroPoint = e.zeroPoint ?? 0;
  return coded;
}

export function checkedTensor(buf: Buffer, t: RawTensor): HostTensor {
  // Named only when something is refused: describing every tensor up front costs more than reading it.
  const what = (): string => `tensor ${t.index} (${describeName(t.name)})`;
  if (t.dataType === 0) refuse(`${what()} has no data_type`);
  const dtype = payloadDtypeByOnnx(t.dataType);
  if (!dtype) {
    const known = findDtypeByOnnx(t.dataType);
    refuse(known ? `${what()} has data_type ${known.name}, which payloads do not carry` : `${what()} has unknown data_type ${t.dataType}`);
  }
  const count = elementCount(t.dims);
  const dims = t.dims;
  const Ctor = dtype.array;
  if (Ctor === undefined) {
    if (t.raw !== undefined && t.raw[1] > t.raw[0]) refuse(`${what()} is a string tensor with raw_data`);
    if (t.stringCount !== count) refuse(`${what()}: dims [${dims.join(', ')}] need ${count} strings, string_data has ${t.stringCount}`);
    const strings: string[] = [];
    const label = what();
    const r = new ProtoReader(buf, t.span[0], t.span[1], label);
    while (r.pos < t.span[1]) {
      const field = r.key();
      if (field === T.stringData) {
        const s = r.lengthDelimited(field);
        strings.push(utf8(buf, s, r.pos, `${label} string ${strings.length}`));
      } else {
        r.skip(field);
      }
    }
    return { type: dtype.name, dims, data: strings };
  }
  if (t.stringCount > 0) refuse(`${what()} of type ${dtype.name} has string_data`);
  const [s, e] = t.raw ?? [0, 0];
  const bytes = e - s;
  const size = dtype.bytes;
  if (count * size !== bytes) {
    refuse(`${what()}: dims [${dims.join(', ')}] of ${dtype.name} need ${count * size} bytes, raw_data has ${bytes}`);
  }
  if (count === 0) return { type: dtype.name, dims, data: new Ctor(0) };
  const at = buf.byteOffset + s;
  if (at % size === 0) return { type: dtype.name, dims, data: new Ctor(buf.buffer as ArrayBuffer, at, count) };
  const copy = new Ctor(count);
  new Uint8Array(copy.buffer).set(buf.subarray(s, e));
  return { type: dtype.name, dims, data: copy };
}
