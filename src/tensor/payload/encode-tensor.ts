/**
 * One tensor as a `tensors` field: dims, data_type, string_data and name, then (numeric
 * tensors) an alignment_padding field chosen so that raw_data starts at a multiple of 8 bytes
 * from the start of the message, then raw_data. The data itself is not copied: it is returned
 * as a view of the tensor's typed array, to be appended as its own chunk.
 */
import { crc32 } from '../crc32.js';
import { elementCount, type DTypeInfo } from '../../onnx/dtypes.js';
import { WIRE_LEN } from '../../proto/reader.js';
import { keyOf, ProtoWriter, varintLength, writeVarint } from '../../proto/writer.js';
import type { HostTensor } from '../../runtime/session.js';
import { describeName, isUint32 } from './checks.js';
import { encodeError } from './errors.js';
import { ENCODING_FIELD as E, PAYLOAD_DTYPES, PAYLOAD_FIELD as P, payloadDtypeByName, TENSOR_FIELD as T } from './fields.js';
import { MAX_RANK } from './limits.js';
import type { CodedTensor } from './types.js';

const TAG_TENSORS = keyOf(P.tensors, WIRE_LEN);
const TAG_RAW = keyOf(T.rawData, WIRE_LEN);
const TAG_PADDING = keyOf(T.alignmentPadding, WIRE_LEN);
const TAG_TENSORS_LEN = varintLength(TAG_TENSORS);
const TAG_RAW_LEN = varintLength(TAG_RAW);
const TAG_PADDING_LEN = varintLength(TAG_PADDING);
/** Alignment of raw_data from the start of the message. */
const ALIGN = 8;
/** Padding content sizes tried; 0..ALIGN always suffices (up to one varint length step). */
const MAX_PADDING = 64;

export interface EncodedTensor {
  /** tensors key, length, dims/data_type/string_data/name, padding, raw_data key and length. */
  prefix: Uint8Array;
  raw?: Uint8Array;
  length: number;
}

function tensorView(name: string, t: HostTensor, size: number, count: number): Uint8Array {
  const data = t.data;
  if (!ArrayBuffer.isView(data)) throw encodeError(`tensor ${describeName(name)} of type ${t.type} needs a typed array as data`);
  if (data.byteLength !== count * size) {
    throw encodeError(
      `tensor ${describeName(name)}: dims [${t.dims.join(', ')}] of ${t.type} need ${count * size} bytes, data has ${data.byteLength}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const metaWriter = new ProtoWriter();
const encodingWriter = new ProtoWriter();

/**
 * dims, data_type, string_data (string tensors), name and encoding, in field-number order (valid
 * until the next call); `crc` is the coded body's CRC-32 where the caller has it.
 */
function tensorMeta(name: string, t: Pick<HostTensor, 'dims'>, onnx: number, strings: readonly string[] | undefined, coded?: Omit<CodedTensor, 'body'> & { body?: Uint8Array }, crc?: number): Uint8Array {
  const w = metaWriter.reset();
  for (const d of t.dims) w.uint(T.dims, d);
  w.uint(T.dataType, onnx);
  if (strings !== undefined) for (const s of strings) w.string(T.stringData, s);
  w.string(T.name, name);
  if (coded !== undefined) {
    const e = encodingWriter.reset().string(E.codec, coded.codec);
    if (coded.scale !== undefined) e.double(E.scale, coded.scale);
    if (coded.zeroPoint) e.uint(E.zeroPoint, coded.zeroPoint);
    const sum = crc ?? crc32(coded.body!);
    if (sum !== 0) e.uint(E.crc32, sum);
    w.message(T.encoding, e);
  }
  return w.finish();
}

/** A coded tensor's codec, parameters and type (its body: the caller's check). */
export function checkCoded(name: string, c: Omit<CodedTensor, 'body'>): void {
  if (typeof c.codec !== 'string' || c.codec === '' || c.codec === 'raw') throw encodeError(`coded tensor ${describeName(name)} needs a codec name other than 'raw'`);
  if (c.scale !== undefined && !Number.isFinite(c.scale)) throw encodeError(`coded tensor ${describeName(name)} has a scale that is not finite`);
  if (c.zeroPoint !== undefined && !isUint32(c.zeroPoint)) throw encodeError(`coded tensor ${describeName(name)} has a zero point that is not a uint32`);
  if (payloadDtypeByName(c.type)?.array === undefined) throw encodeError(`coded tensor ${describeName(name)} has type '${c.type}'; only numeric tensors are coded`);
}

/** Lays out one coded tensor field (raw_data is the codec's body) whose first byte is at `offset` of the message. */
export function encodeCodedTensor(name: string, c: CodedTensor, offset: number): EncodedTensor {
  if (c === null || typeof c !== 'object' || !(c.body instanceof Uint8Array)) throw encodeError(`coded tensor ${describeName(name)} needs a byte body`);
  checkCoded(name, c);
  return encodeTensor(name, { type: c.type, dims: c.dims, data: new Uint8Array(0) }, offset, c);
}

/**
 * The dims, data_type, name and encoding of a checked coded tensor whose body's CRC-32 is `crc`
 * (valid until the next call): with prefixLayout and writePrefix, its prefix.
 */
export function codedMeta(name: string, c: Omit<CodedTensor, 'body'>, crc: number): Uint8Array {
  return tensorMeta(name, c, checkedHead(name, c).onnx, undefined, c, crc);
}

/** Lays out one tensor field whose first byte is at `offset` of the message. */
/** The element type of a tensor with a valid name, type and dims; an encode error otherwise. */
export function checkedHead(name: string, t: Pick<HostTensor, 'type' | 'dims'>): DTypeInfo {
  if (typeof name !== 'string' || name === '') throw encodeError('a tensor has an empty name');
  if (t === null || typeof t !== 'object') throw encodeError(`tensor ${describeName(name)} is not a tensor`);
  const dtype = payloadDtypeByName(t.type);
  if (!dtype) throw encodeError(`tensor ${describeName(name)} has unsupported type '${t.type}' (supported: ${PAYLOAD_DTYPES.join(', ')})`);
  if (!Array.isArray(t.dims) || t.dims.length > MAX_RANK || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw encodeError(`tensor ${describeName(name)} has invalid dims [${String(t.dims)}] (at most ${MAX_RANK} non-negative integers)`);
  }
  return dtype;
}

export function encodeTensor(name: string, t: HostTensor, offset: number, coded?: CodedTensor): EncodedTensor {
  const dtype = checkedHead(name, t);
  const count = elementCount(t.dims);

  let raw: Uint8Array | undefined;
  let strings: readonly string[] | undefined;
  if (dtype.array === undefined) {
    const data = t.data;
    if (!Array.isArray(data) || data.length !== count || !data.every((s) => typeof s === 'string')) {
      throw encodeError(`tensor ${describeName(name)}: dims [${t.dims.join(', ')}] need ${count} strings`);
    }
    strings = data as string[];
  } else {
    raw = coded ? coded.body : tensorView(name, t, dtype.bytes, count);
  }
  const prefix = framed(tensorMeta(name, t, dtype.onnx, strings, coded), raw?.length, offset);
  return { prefix, ...(raw !== undefined ? { raw } : {}), length: prefix.length + (raw?.length ?? 0) };
}

/** How a tensor field's prefix is laid out: its padding field (bytes, content), the field's length and the prefix's. */
export interface PrefixLayout {
  padding: number;
  padContent: number;
  body: number;
  prefixLength: number;
}

/**
 * The layout of the prefix of a tensor field of `metaLength` bytes of metadata and (numeric
 * tensors) `rawLength` bytes of raw_data, whose first byte is at `offset` of the message.
 */
export function prefixLayout(metaLength: number, rawLength: number | undefined, offset: number): PrefixLayout {
  // Numeric tensors end with [padding] raw_data; choose the padding so that raw_data starts
  // at a multiple of ALIGN from the start of the message.
  let padding = 0; // bytes of the whole padding field (0: no field)
  let padContent = 0;
  let body = metaLength;
  if (rawLength !== undefined) {
    const rawHead = TAG_RAW_LEN + varintLength(rawLength);
    const fits = (pad: number): boolean => {
      const b = metaLength + pad + rawHead + rawLength;
      return rawLength === 0 || (offset + TAG_TENSORS_LEN + varintLength(b) + metaLength + pad + rawHead) % ALIGN === 0;
    };
    if (!fits(0)) {
      let k = 0;
      while (!fits(TAG_PADDING_LEN + varintLength(k) + k)) {
        if (++k > MAX_PADDING) throw new Error('payload: no alignment padding found (bug)');
      }
      padContent = k;
      padding = TAG_PADDING_LEN + varintLength(k) + k;
    }
    body = metaLength + padding + rawHead + rawLength;
  }
  return { padding, padContent, body, prefixLength: TAG_TENSORS_LEN + varintLength(body) + body - (rawLength ?? 0) };
}

/** Writes the prefix laid out as `l` (for `metaBytes` and `rawLength`) at out[at]: tensors key and length, metadata, padding, raw_data key and length. */
export function writePrefix(out: Uint8Array, at: number, metaBytes: Uint8Array, rawLength: number | undefined, l: PrefixLayout): void {
  let pos = writeVarint(out, at, TAG_TENSORS);
  pos = writeVarint(out, pos, l.body);
  out.set(metaBytes, pos);
  pos += metaBytes.length;
  if (l.padding > 0) {
    pos = writeVarint(out, pos, TAG_PADDING);
    pos = writeVarint(out, pos, l.padContent);
    out.fill(0, pos, pos + l.padContent);
    pos += l.padContent;
  }
  if (rawLength !== undefined) {
    pos = writeVarint(out, pos, TAG_RAW);
    pos = writeVarint(out, pos, rawLength);
  }
  if (pos - at !== l.prefixLength) throw new Error('payload: tensor prefix size mismatch (bug)');
}

/**
 * The tensors key and length, `metaBytes`, then (numeric tensors: `rawLength` given) the padding
 * and the raw_data key and length, for a field whose first byte is at `offset` of the message.
 */
function framed(metaBytes: Uint8Array, rawLength: number | undefined, offset: number): Uint8Array {
  const l = prefixLayout(metaBytes.length, rawLength, offset);
  const prefix = new Uint8Array(l.prefixLength);
  writePrefix(prefix, 0, metaBytes, rawLength, l);
  return prefix;
}
