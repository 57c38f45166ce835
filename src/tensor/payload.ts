/**
 * The payload format: cut tensors from the edge to the cloud (kind 'input') and results back
 * (kind 'output'), as one protobuf message of schema/payload.proto (onnx_manager.Payload).
 * It replaces the original tool's pickle files: decoding never executes anything, every
 * field is checked, and the work done is bounded by the input size and the limits.
 *
 * Encoding: the header (metadata) is written by protobufjs; each tensor's data is appended as
 * a chunk that is a view of its typed array (no copy). The encoder inserts an unused
 * `alignment_padding` field before each raw_data so that raw_data starts at a multiple of 8
 * bytes from the start of the message.
 *
 * Decoding: a strict, bounded wire-format reader (no protobufjs objects for the bulk data).
 * Tensor data is returned as typed arrays that view the input bytes when the data is aligned
 * for its element size (always, for a buffer whose byteOffset is a multiple of 8 holding a
 * payload of this encoder) and copies otherwise. Keep the input unmodified while the
 * tensors are in use.
 *
 * Little-endian hosts only (raw_data is little-endian, as in ONNX).
 */
import { isUtf8 } from 'node:buffer';
import { endianness } from 'node:os';
import protobuf from 'protobufjs';
import { OnnxManagerError } from '../errors.js';
import { elementCount } from '../onnx/dtypes.js';
import { Chunks } from '../onnx/wire.js';
import type { HostTensor } from '../runtime/session.js';
import { hostTensorBytes, typedArrayFor } from './host.js';
import { payloadSchema } from './payload-proto.generated.js';

/** A payload is malformed, truncated, over a limit, of an unknown version, or cannot be encoded. */
export class PayloadError extends OnnxManagerError {}

export interface Payload {
  /** Format version; the decoder sets it, the encoder writes PAYLOAD_VERSION (the only one accepted). */
  version?: number;
  kind: 'input' | 'output';
  runId: string;
  splitIndex: number;
  rep: number;
  /** SHA-256 (lower-case hex) of the model parts to run next, in execution order. */
  nextModels: string[];
  /** Durations measured so far on the sending side, in order. */
  timings: { name: string; ms: number }[];
  /** Set when the sender failed. */
  error?: string;
  /** The producing host's name. */
  host?: string;
  /** Model outputs the cloud must send back (input payloads); empty or absent: everything its parts produce that no later part reads. */
  outputs?: string[];
  tensors: Map<string, HostTensor>;
}

export interface DecodeOptions {
  /** Largest payload accepted, in bytes. Default DEFAULT_MAX_BYTES (2 GiB). */
  maxBytes?: number;
  /** Most tensors accepted. Default DEFAULT_MAX_TENSORS (4096). */
  maxTensors?: number;
  /** The file or object the bytes came from, named in error messages. */
  file?: string;
}

export const PAYLOAD_VERSION = 1;
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_MAX_TENSORS = 4096;
/** Most dimensions a tensor may have. */
export const MAX_RANK = 64;
/** Longest run id accepted. */
export const MAX_RUN_ID_LENGTH = 256;
/** Most entries of next_models and of timings (each checked while reading, so memory stays bounded). */
export const MAX_LIST_ENTRIES = 65536;

/** Element types a payload carries: onnx data_type and bytes per element (0: string). */
const DTYPES: Record<string, { onnx: number; size: number }> = {
  float32: { onnx: 1, size: 4 },
  uint8: { onnx: 2, size: 1 },
  int8: { onnx: 3, size: 1 },
  uint16: { onnx: 4, size: 2 },
  int16: { onnx: 5, size: 2 },
  int32: { onnx: 6, size: 4 },
  int64: { onnx: 7, size: 8 },
  string: { onnx: 8, size: 0 },
  bool: { onnx: 9, size: 1 },
  float16: { onnx: 10, size: 2 },
  float64: { onnx: 11, size: 8 },
  uint32: { onnx: 12, size: 4 },
  uint64: { onnx: 13, size: 8 },
};
const DTYPE_BY_ONNX = new Map(Object.entries(DTYPES).map(([name, d]) => [d.onnx, { name, size: d.size }]));
/** onnx.TensorProto.DataType values this format does not carry, for clearer messages. */
const UNSUPPORTED_ONNX: Record<number, string> = {
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
  24: 'float8e8m0',
  25: 'uint2',
  26: 'int2',
};

/** Element type names (onnxruntime-node's) a payload can carry. */
export const PAYLOAD_DTYPES: readonly string[] = Object.keys(DTYPES);

// Field numbers of schema/payload.proto (checked against the compiled schema on first use).
const P_VERSION = 1;
const P_MESSAGE_BYTES = 2;
const P_KIND = 3;
const P_RUN_ID = 4;
const P_SPLIT_INDEX = 5;
const P_REP = 6;
const P_NEXT_MODELS = 7;
const P_TIMINGS = 8;
const P_ERROR = 9;
const P_HOST = 10;
const P_OUTPUTS = 11;
const P_TENSORS = 15;
const T_DIMS = 1;
const T_DATA_TYPE = 2;
const T_STRING_DATA = 6;
const T_NAME = 8;
const T_RAW_DATA = 9;
const T_PADDING = 1000;
const TIMING_NAME = 1;
const TIMING_MS = 2;
const KIND_INPUT = 1;
const KIND_OUTPUT = 2;

/** onnx.TensorProto fields that hold data elsewhere than raw_data/string_data: refused. */
const TENSOR_FOREIGN_DATA: Record<number, string> = {
  3: 'segment',
  4: 'float_data',
  5: 'int32_data',
  7: 'int64_data',
  10: 'double_data',
  11: 'uint64_data',
  13: 'external_data',
  14: 'data_location',
};

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const LITTLE_ENDIAN = endianness() === 'LE';
const SHA256_HEX = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkHost(): void {
  if (!LITTLE_ENDIAN) throw new PayloadError('payloads are little-endian; this big-endian host is not supported');
}

// ---------------------------------------------------------------------------------------
// Schema (protobufjs), for the encoder.

interface Types {
  payload: protobuf.Type;
  tensor: protobuf.Type;
}
let types: Types | undefined;

function schemaTypes(): Types {
  if (types) return types;
  const root = protobuf.Root.fromJSON(payloadSchema as protobuf.INamespace);
  root.resolveAll();
  const payload = root.lookupType('onnx_manager.Payload');
  const tensor = root.lookupType('onnx_manager.Tensor');
  const timing = root.lookupType('onnx_manager.Timing');
  const expect: [protobuf.Type, string, number][] = [
    [payload, 'version', P_VERSION],
    [payload, 'messageBytes', P_MESSAGE_BYTES],
    [payload, 'kind', P_KIND],
    [payload, 'runId', P_RUN_ID],
    [payload, 'splitIndex', P_SPLIT_INDEX],
    [payload, 'rep', P_REP],
    [payload, 'nextModels', P_NEXT_MODELS],
    [payload, 'timings', P_TIMINGS],
    [payload, 'error', P_ERROR],
    [payload, 'host', P_HOST],
    [payload, 'outputs', P_OUTPUTS],
    [payload, 'tensors', P_TENSORS],
    [tensor, 'dims', T_DIMS],
    [tensor, 'dataType', T_DATA_TYPE],
    [tensor, 'stringData', T_STRING_DATA],
    [tensor, 'name', T_NAME],
    [tensor, 'rawData', T_RAW_DATA],
    [tensor, 'alignmentPadding', T_PADDING],
    [timing, 'name', TIMING_NAME],
    [timing, 'ms', TIMING_MS],
  ];
  for (const [type, field, id] of expect) {
    if (type.fields[field]?.id !== id) {
      throw new Error(`payload.ts and schema/payload.proto disagree on ${type.name}.${field} (run npm run gen:proto)`);
    }
  }
  types = { payload, tensor };
  return types;
}

// ---------------------------------------------------------------------------------------
// Shared checks

function describeName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
}

/** Why a run id is not acceptable, or undefined. It becomes part of object keys. */
function runIdProblem(runId: unknown): string | undefined {
  if (typeof runId !== 'string') return `run id must be a string, got ${typeof runId}`;
  if (runId.length > MAX_RUN_ID_LENGTH) return `run id longer than ${MAX_RUN_ID_LENGTH} characters`;
  if (runId.includes('/') || runId.includes('\\') || CONTROL.test(runId) || runId === '.' || runId === '..') {
    return `run id ${describeName(runId)} is not usable in an object key (no '/', '\\', control characters, '.' or '..')`;
  }
  return undefined;
}

const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

// ---------------------------------------------------------------------------------------
// Encoder

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

const TAG_TENSORS = P_TENSORS * 8 + WIRE_LEN;
const TAG_RAW = T_RAW_DATA * 8 + WIRE_LEN;
const TAG_PADDING = T_PADDING * 8 + WIRE_LEN;
const TAG_TENSORS_LEN = varintLength(TAG_TENSORS);
const TAG_RAW_LEN = varintLength(TAG_RAW);
const TAG_PADDING_LEN = varintLength(TAG_PADDING);
/** Alignment of raw_data from the start of the message. */
const ALIGN = 8;
/** Padding content sizes tried; 0..ALIGN always suffices (up to one varint length step). */
const MAX_PADDING = 64;

interface EncodedTensor {
  /** tensors tag, length, dims/data_type/string_data/name, padding, raw_data tag and length. */
  prefix: Uint8Array;
  raw?: Uint8Array;
  length: number;
}

function encodeError(reason: string): PayloadError {
  return new PayloadError(`cannot encode payload: ${reason}`);
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

/** Lays out one tensor field whose first byte is at `offset` of the message. */
function encodeTensor(tensorType: protobuf.Type, name: string, t: HostTensor, offset: number): EncodedTensor {
  if (typeof name !== 'string' || name === '') throw encodeError('a tensor has an empty name');
  if (t === null || typeof t !== 'object') throw encodeError(`tensor ${describeName(name)} is not a tensor`);
  const dtype = DTYPES[t.type];
  if (!dtype) throw encodeError(`tensor ${describeName(name)} has unsupported type '${t.type}' (supported: ${PAYLOAD_DTYPES.join(', ')})`);
  if (!Array.isArray(t.dims) || t.dims.length > MAX_RANK || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw encodeError(`tensor ${describeName(name)} has invalid dims [${String(t.dims)}] (at most ${MAX_RANK} non-negative integers)`);
  }
  const count = elementCount(t.dims);

  const meta: { dims: number[]; dataType: number; name: string; stringData?: Uint8Array[] } = {
    dims: t.dims as number[],
    dataType: dtype.onnx,
    name,
  };
  let raw: Uint8Array | undefined;
  if (dtype.size === 0) {
    const strings = t.data;
    if (!Array.isArray(strings) || strings.length !== count || !strings.every((s) => typeof s === 'string')) {
      throw encodeError(`tensor ${describeName(name)}: dims [${t.dims.join(', ')}] need ${count} strings`);
    }
    meta.stringData = strings.map((s: string) => Buffer.from(s, 'utf8'));
  } else {
    raw = tensorView(name, t, dtype.size, count);
  }
  const metaBytes = tensorType.encode(meta).finish();

  // Numeric tensors end with [padding] raw_data; choose the padding so that raw_data starts
  // at a multiple of ALIGN from the start of the message.
  let padding = 0; // bytes of the whole padding field (0: no field)
  let padContent = 0;
  let body = metaBytes.length;
  if (raw !== undefined) {
    const rawHead = TAG_RAW_LEN + varintLength(raw.length);
    const fits = (pad: number): boolean => {
      const b = metaBytes.length + pad + rawHead + raw!.length;
      return raw!.length === 0 || (offset + TAG_TENSORS_LEN + varintLength(b) + metaBytes.length + pad + rawHead) % ALIGN === 0;
    };
    if (!fits(0)) {
      let k = 0;
      while (!fits(TAG_PADDING_LEN + varintLength(k) + k)) {
        if (++k > MAX_PADDING) throw new Error('payload: no alignment padding found (bug)');
      }
      padContent = k;
      padding = TAG_PADDING_LEN + varintLength(k) + k;
    }
    body = metaBytes.length + padding + rawHead + raw.length;
  }

  const prefixLength = TAG_TENSORS_LEN + varintLength(body) + body - (raw?.length ?? 0);
  const prefix = new Uint8Array(prefixLength);
  let pos = writeVarint(prefix, 0, TAG_TENSORS);
  pos = writeVarint(prefix, pos, body);
  prefix.set(metaBytes, pos);
  pos += metaBytes.length;
  if (padding > 0) {
    pos = writeVarint(prefix, pos, TAG_PADDING);
    pos = writeVarint(prefix, pos, padContent);
    pos += padContent; // already zero
  }
  if (raw !== undefined) {
    pos = writeVarint(prefix, pos, TAG_RAW);
    pos = writeVarint(prefix, pos, raw.length);
  }
  if (pos !== prefixLength) throw new Error('payload: tensor prefix size mismatch (bug)');
  return { prefix, ...(raw !== undefined ? { raw } : {}), length: prefixLength + (raw?.length ?? 0) };
}

function headerObject(p: Payload, messageBytes: number): Record<string, unknown> {
  const obj: Record<string, unknown> = {
    version: PAYLOAD_VERSION,
    messageBytes,
    kind: p.kind === 'input' ? KIND_INPUT : KIND_OUTPUT,
    runId: p.runId,
    splitIndex: p.splitIndex,
    rep: p.rep,
    nextModels: p.nextModels,
    timings: p.timings.map((t) => ({ name: t.name, ms: t.ms })),
  };
  if (p.error !== undefined) obj.error = p.error;
  if (p.host !== undefined) obj.host = p.host;
  if (p.outputs?.length) obj.outputs = p.outputs;
  return obj;
}

function checkPayloadForEncoding(p: Payload): void {
  if (p === null || typeof p !== 'object') throw encodeError('not a payload object');
  if (p.version !== undefined && p.version !== PAYLOAD_VERSION) {
    throw encodeError(`version ${String(p.version)} requested, this build writes version ${PAYLOAD_VERSION}`);
  }
  if (p.kind !== 'input' && p.kind !== 'output') throw encodeError(`kind must be 'input' or 'output', got ${JSON.stringify(p.kind)}`);
  const runProblem = runIdProblem(p.runId);
  if (runProblem) throw encodeError(runProblem);
  if (!isUint32(p.splitIndex)) throw encodeError(`split index must be an integer in [0, 2^32), got ${String(p.splitIndex)}`);
  if (!isUint32(p.rep)) throw encodeError(`rep must be an integer in [0, 2^32), got ${String(p.rep)}`);
  if (!Array.isArray(p.nextModels) || p.nextModels.length > MAX_LIST_ENTRIES) {
    throw encodeError(`nextModels must be an array of at most ${MAX_LIST_ENTRIES} entries`);
  }
  for (const h of p.nextModels) {
    if (typeof h !== 'string' || !SHA256_HEX.test(h)) throw encodeError(`next model ${JSON.stringify(h)} is not a lower-case sha256 hex digest`);
  }
  if (p.outputs !== undefined && (!Array.isArray(p.outputs) || p.outputs.length > MAX_LIST_ENTRIES || p.outputs.some((o) => typeof o !== 'string' || o === ''))) {
    throw encodeError(`outputs must be an array of at most ${MAX_LIST_ENTRIES} non-empty names`);
  }
  if (!Array.isArray(p.timings) || p.timings.length > MAX_LIST_ENTRIES) {
    throw encodeError(`timings must be an array of at most ${MAX_LIST_ENTRIES} entries`);
  }
  for (const t of p.timings) {
    if (t === null || typeof t !== 'object' || typeof t.name !== 'string' || typeof t.ms !== 'number' || !Number.isFinite(t.ms)) {
      throw encodeError(`timing ${JSON.stringify(t)} is not { name: string, ms: finite number }`);
    }
  }
  if (p.error !== undefined && typeof p.error !== 'string') throw encodeError('error must be a string');
  if (p.host !== undefined && typeof p.host !== 'string') throw encodeError('host must be a string');
  if (!(p.tensors instanceof Map)) throw encodeError('tensors must be a Map');
}

/**
 * Encodes a payload as chunks whose concatenation is one onnx_manager.Payload message. The
 * tensor data chunks are views of the tensors' typed arrays: do not modify the tensors until
 * the chunks have been written out.
 */
export function encodePayload(p: Payload): Chunks {
  checkHost();
  checkPayloadForEncoding(p);
  const { payload: payloadType, tensor: tensorType } = schemaTypes();
  // fixed64 message_bytes has the same size for any non-zero value (proto3 omits zero).
  const headerLength = payloadType.encode(headerObject(p, 1)).finish().length;
  const tensors: EncodedTensor[] = [];
  let offset = headerLength;
  for (const [name, t] of p.tensors) {
    const e = encodeTensor(tensorType, name, t, offset);
    tensors.push(e);
    offset += e.length;
  }
  const header = payloadType.encode(headerObject(p, offset)).finish();
  if (header.length !== headerLength) throw new Error('payload: header size changed (bug)');
  const chunks = new Chunks().push(header);
  for (const e of tensors) {
    chunks.push(e.prefix);
    if (e.raw !== undefined) chunks.push(e.raw);
  }
  return chunks;
}

/** Sum of the tensors' raw data bytes (strings: UTF-8 bytes): the CSV's tensor_bytes. */
export function payloadTensorBytes(p: Pick<Payload, 'tensors'>): number {
  let n = 0;
  for (const t of p.tensors.values()) n += hostTensorBytes(t);
  return n;
}

// ---------------------------------------------------------------------------------------
// Decoder

/** Internal: a reason the bytes are refused; becomes a PayloadError naming the file. */
class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

const TWO_32 = 2 ** 32;
const TWO_63 = 2 ** 63;

class WireReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = start;
  }

  /** The low 32 bits of the last varint as a signed int32 (protobuf int32 semantics). */
  low32 = 0;

  /** A varint as a double (exact below 2^53; larger values only compare correctly). */
  varint(): number {
    const start = this.pos;
    let value = 0;
    let mul = 1;
    let low = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) refuse(`truncated ${this.what} at byte ${this.pos} (varint from byte ${start})`);
      const b = this.buf[this.pos++]!;
      if (i === 9 && b > 1) refuse(`malformed varint at byte ${start} (${this.what})`);
      if (i < 5) low |= (b & 0x7f) << (7 * i);
      this.low32 = low | 0;
      value += (b & 0x7f) * mul;
      if (b < 0x80) return value;
      mul *= 128;
    }
    return refuse(`malformed varint at byte ${start} (${this.what})`);
  }

  /** Field number and wire type of the next key. */
  key(): [field: number, wire: number, start: number] {
    const start = this.pos;
    const key = this.varint();
    if (key >= TWO_32) refuse(`invalid field key at byte ${start} (${this.what})`);
    const field = Math.floor(key / 8);
    if (field === 0) refuse(`invalid field number 0 at byte ${start} (${this.what})`);
    return [field, key % 8, start];
  }

  /** A length-delimited payload: its [start, end). */
  lengthDelimited(): [number, number] {
    const at = this.pos;
    const len = this.varint();
    if (len > this.end - this.pos) {
      refuse(`truncated ${this.what}: field at byte ${at} needs ${len} bytes, ${this.end - this.pos} left`);
    }
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  fixed64(): number {
    if (this.end - this.pos < 8) refuse(`truncated ${this.what} at byte ${this.end}`);
    const b = this.buf;
    const p = this.pos;
    const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
    const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  double(): number {
    if (this.end - this.pos < 8) refuse(`truncated ${this.what} at byte ${this.end}`);
    const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 8).readDoubleLE(0);
    this.pos += 8;
    return v;
  }

  skip(field: number, wire: number, start: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
      case WIRE_I32: {
        const n = wire === WIRE_I64 ? 8 : 4;
        if (this.end - this.pos < n) refuse(`truncated ${this.what} at byte ${this.end} (field ${field})`);
        this.pos += n;
        return;
      }
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      default:
        refuse(`unsupported wire type ${wire} of field ${field} at byte ${start} (${this.what})`);
    }
  }

  expectWire(field: number, name: string, wire: number, want: number, start: number): void {
    if (wire !== want) refuse(`field ${field} (${name}) has wire type ${wire} at byte ${start}, expected ${want}`);
  }
}

interface RawTensor {
  index: number;
  name: string;
  dims: number[];
  dataType: number;
  raw?: [number, number];
  /** Where string_data entries are: the tensor's bytes, rescanned once validated. */
  stringCount: number;
  span: [number, number];
}

function utf8(buf: Buffer, start: number, end: number, what: string): string {
  const view = buf.subarray(start, end);
  if (!isUtf8(view)) refuse(`${what} is not valid UTF-8`);
  return view.toString('utf8');
}

function readTensor(buf: Buffer, start: number, end: number, index: number): RawTensor {
  const r = new WireReader(buf, start, end, `tensor ${index}`);
  const t: RawTensor = { index, name: '', dims: [], dataType: 0, stringCount: 0, span: [start, end] };
  const addDim = (v: number, at: number): void => {
    if (t.dims.length >= MAX_RANK) refuse(`tensor ${index} has more than ${MAX_RANK} dims`);
    if (v >= TWO_63) refuse(`tensor ${index} has a negative dim (byte ${at})`);
    if (v > Number.MAX_SAFE_INTEGER) refuse(`tensor ${index} has a dim of 2^53 or more (byte ${at})`);
    t.dims.push(v);
  };
  while (r.pos < end) {
    const [field, wire, at] = r.key();
    switch (field) {
      case T_DIMS:
        if (wire === WIRE_LEN) {
          const [s, e] = r.lengthDelimited();
          const packed = new WireReader(buf, s, e, `tensor ${index} dims`);
          while (packed.pos < e) addDim(packed.varint(), packed.pos);
        } else {
          r.expectWire(field, 'dims', wire, WIRE_VARINT, at);
          addDim(r.varint(), at);
        }
        break;
      case T_DATA_TYPE: {
        r.expectWire(field, 'data_type', wire, WIRE_VARINT, at);
        r.varint();
        t.dataType = r.low32; // int32: negative values are 10-byte varints
        break;
      }
      case T_STRING_DATA:
        r.expectWire(field, 'string_data', wire, WIRE_LEN, at);
        r.lengthDelimited();
        t.stringCount++;
        break;
      case T_NAME: {
        r.expectWire(field, 'name', wire, WIRE_LEN, at);
        const [s, e] = r.lengthDelimited();
        t.name = utf8(buf, s, e, `tensor ${index} name`);
        break;
      }
      case T_RAW_DATA:
        r.expectWire(field, 'raw_data', wire, WIRE_LEN, at);
        t.raw = r.lengthDelimited();
        break;
      case T_PADDING:
        r.expectWire(field, 'alignment_padding', wire, WIRE_LEN, at);
        r.lengthDelimited();
        break;
      default: {
        const foreign = TENSOR_FOREIGN_DATA[field];
        if (foreign !== undefined) {
          refuse(`tensor ${index} uses onnx.TensorProto field ${foreign}; payload tensors keep their data in raw_data or string_data`);
        }
        r.skip(field, wire, at);
      }
    }
  }
  return t;
}

function checkedTensor(buf: Buffer, t: RawTensor): HostTensor {
  const what = `tensor ${t.index} (${describeName(t.name)})`;
  if (t.dataType === 0) refuse(`${what} has no data_type`);
  const dtype = DTYPE_BY_ONNX.get(t.dataType);
  if (!dtype) {
    const known = UNSUPPORTED_ONNX[t.dataType];
    refuse(known ? `${what} has data_type ${known}, which payloads do not carry` : `${what} has unknown data_type ${t.dataType}`);
  }
  const count = elementCount(t.dims);
  const dims = t.dims;
  if (dtype.size === 0) {
    if (t.raw !== undefined && t.raw[1] > t.raw[0]) refuse(`${what} is a string tensor with raw_data`);
    if (t.stringCount !== count) refuse(`${what}: dims [${dims.join(', ')}] need ${count} strings, string_data has ${t.stringCount}`);
    const strings: string[] = [];
    const r = new WireReader(buf, t.span[0], t.span[1], what);
    while (r.pos < t.span[1]) {
      const [field, wire, at] = r.key();
      if (field === T_STRING_DATA) {
        const [s, e] = r.lengthDelimited();
        strings.push(utf8(buf, s, e, `${what} string ${strings.length}`));
      } else {
        r.skip(field, wire, at);
      }
    }
    return { type: dtype.name, dims, data: strings };
  }
  if (t.stringCount > 0) refuse(`${what} of type ${dtype.name} has string_data`);
  const [s, e] = t.raw ?? [0, 0];
  const bytes = e - s;
  if (count * dtype.size !== bytes) {
    refuse(`${what}: dims [${dims.join(', ')}] of ${dtype.name} need ${count * dtype.size} bytes, raw_data has ${bytes}`);
  }
  const Ctor = typedArrayFor(dtype.name);
  if (count === 0) return { type: dtype.name, dims, data: new Ctor(0) };
  const at = buf.byteOffset + s;
  if (at % dtype.size === 0) return { type: dtype.name, dims, data: new Ctor(buf.buffer as ArrayBuffer, at, count) };
  const copy = new Ctor(count);
  new Uint8Array(copy.buffer).set(buf.subarray(s, e));
  return { type: dtype.name, dims, data: copy };
}

function decodeUnchecked(bytes: Uint8Array, maxBytes: number, maxTensors: number): Payload {
  if (bytes.length === 0) refuse('empty input');
  if (bytes.length > maxBytes) refuse(`${bytes.length} bytes is more than the limit of ${maxBytes} (raise maxBytes)`);
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new WireReader(buf, 0, buf.length, 'message');

  let version: number | undefined;
  let messageBytes: number | undefined;
  let kind = 0;
  let runId = '';
  let splitIndex = 0;
  let rep = 0;
  const nextModels: string[] = [];
  const timings: { name: string; ms: number }[] = [];
  let error: string | undefined;
  let host: string | undefined;
  const outputs: string[] = [];
  const raw: RawTensor[] = [];

  const uint32 = (what: string): number => {
    const v = r.varint();
    if (v >= TWO_32) refuse(`${what} ${v} does not fit uint32`);
    return v;
  };
  const string = (what: string): string => {
    const [s, e] = r.lengthDelimited();
    return utf8(buf, s, e, what);
  };

  while (r.pos < r.end) {
    const [field, wire, at] = r.key();
    switch (field) {
      case P_VERSION:
        r.expectWire(field, 'version', wire, WIRE_VARINT, at);
        version = r.varint();
        // Checked at once: a newer layout is reported as such, not as corruption further on.
        if (version !== PAYLOAD_VERSION) refuse(`unsupported version ${version} (this build reads version ${PAYLOAD_VERSION})`);
        break;
      case P_MESSAGE_BYTES:
        r.expectWire(field, 'message_bytes', wire, WIRE_I64, at);
        messageBytes = r.fixed64();
        break;
      case P_KIND:
        r.expectWire(field, 'kind', wire, WIRE_VARINT, at);
        r.varint();
        kind = r.low32;
        break;
      case P_RUN_ID:
        r.expectWire(field, 'run_id', wire, WIRE_LEN, at);
        runId = string('run_id');
        break;
      case P_SPLIT_INDEX:
        r.expectWire(field, 'split_index', wire, WIRE_VARINT, at);
        splitIndex = uint32('split_index');
        break;
      case P_REP:
        r.expectWire(field, 'rep', wire, WIRE_VARINT, at);
        rep = uint32('rep');
        break;
      case P_NEXT_MODELS:
        r.expectWire(field, 'next_models', wire, WIRE_LEN, at);
        if (nextModels.length >= MAX_LIST_ENTRIES) refuse(`more than ${MAX_LIST_ENTRIES} next_models`);
        nextModels.push(string('next_models'));
        break;
      case P_TIMINGS: {
        r.expectWire(field, 'timings', wire, WIRE_LEN, at);
        if (timings.length >= MAX_LIST_ENTRIES) refuse(`more than ${MAX_LIST_ENTRIES} timings`);
        const [s, e] = r.lengthDelimited();
        const tr = new WireReader(buf, s, e, `timing ${timings.length}`);
        const timing = { name: '', ms: 0 };
        while (tr.pos < e) {
          const [f, w, a] = tr.key();
          if (f === TIMING_NAME) {
            tr.expectWire(f, 'timing name', w, WIRE_LEN, a);
            const [ns, ne] = tr.lengthDelimited();
            timing.name = utf8(buf, ns, ne, 'timing name');
          } else if (f === TIMING_MS) {
            tr.expectWire(f, 'timing ms', w, WIRE_I64, a);
            timing.ms = tr.double();
          } else {
            tr.skip(f, w, a);
          }
        }
        timings.push(timing);
        break;
      }
      case P_ERROR:
        r.expectWire(field, 'error', wire, WIRE_LEN, at);
        error = string('error');
        break;
      case P_HOST:
        r.expectWire(field, 'host', wire, WIRE_LEN, at);
        host = string('host');
        break;
      case P_OUTPUTS:
        r.expectWire(field, 'outputs', wire, WIRE_LEN, at);
        if (outputs.length >= MAX_LIST_ENTRIES) refuse(`more than ${MAX_LIST_ENTRIES} outputs`);
        outputs.push(string('outputs'));
        break;
      case P_TENSORS: {
        r.expectWire(field, 'tensors', wire, WIRE_LEN, at);
        if (raw.length >= maxTensors) refuse(`more than ${maxTensors} tensors (raise maxTensors)`);
        const [s, e] = r.lengthDelimited();
        raw.push(readTensor(buf, s, e, raw.length));
        break;
      }
      default:
        r.skip(field, wire, at); // a field of a later minor revision
    }
  }

  if (version === undefined) refuse('no version field (not a payload?)');
  if (messageBytes === undefined) refuse('no message_bytes field (truncated?)');
  if (messageBytes !== bytes.length) {
    refuse(
      messageBytes > bytes.length
        ? `truncated: ${bytes.length} of ${messageBytes} bytes`
        : `${bytes.length} bytes where the payload says ${messageBytes} (trailing data?)`,
    );
  }
  if (kind !== KIND_INPUT && kind !== KIND_OUTPUT) refuse(`unknown kind ${kind}`);
  const runProblem = runIdProblem(runId);
  if (runProblem) refuse(runProblem);
  for (const h of nextModels) {
    if (!SHA256_HEX.test(h)) refuse(`next model ${describeName(h)} is not a lower-case sha256 hex digest`);
  }
  for (const t of timings) {
    if (!Number.isFinite(t.ms)) refuse(`timing ${describeName(t.name)} is not a finite number`);
  }

  const tensors = new Map<string, HostTensor>();
  let total = 0;
  for (const t of raw) {
    if (t.name === '') refuse(`tensor ${t.index} has no name`);
    if (tensors.has(t.name)) refuse(`duplicate tensor name ${describeName(t.name)}`);
    const host = checkedTensor(buf, t);
    total += hostTensorBytes(host);
    if (total > maxBytes) refuse(`tensors exceed the limit of ${maxBytes} bytes (raise maxBytes)`);
    tensors.set(t.name, host);
  }

  const p: Payload = {
    version,
    kind: kind === KIND_INPUT ? 'input' : 'output',
    runId,
    splitIndex,
    rep,
    nextModels,
    timings,
    tensors,
  };
  if (error !== undefined) p.error = error;
  if (host !== undefined) p.host = host;
  if (outputs.length > 0) p.outputs = outputs;
  return p;
}

/**
 * Decodes and checks a payload. Throws PayloadError (one line naming `file`) for anything
 * that is not a complete, well-formed payload of this version within the limits. Tensor data
 * views `bytes` where aligned: keep `bytes` unmodified while the tensors are in use.
 */
export function decodePayload(bytes: Uint8Array, opts: DecodeOptions = {}): Payload {
  const prefix = opts.file !== undefined && opts.file !== '' ? `${opts.file}: ` : '';
  const fail = (reason: string, cause?: unknown): PayloadError =>
    new PayloadError(`${prefix}invalid payload: ${reason}`, {
      ...(cause !== undefined ? { cause } : {}),
      ...(opts.file !== undefined ? { file: opts.file } : {}),
    });
  checkHost();
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxTensors = opts.maxTensors ?? DEFAULT_MAX_TENSORS;
  if (!(maxBytes > 0)) throw new PayloadError(`maxBytes must be positive, got ${maxBytes}`);
  if (!(Number.isInteger(maxTensors) && maxTensors >= 0)) throw new PayloadError(`maxTensors must be a non-negative integer, got ${maxTensors}`);
  if (!(bytes instanceof Uint8Array)) throw fail(`expected bytes, got ${bytes === null ? 'null' : typeof bytes}`);
  try {
    return decodeUnchecked(bytes, maxBytes, maxTensors);
  } catch (err) {
    if (err instanceof Refused) throw fail(err.message);
    // Not expected; still a refusal of these bytes, not a crash of the caller.
    const msg = err instanceof Error ? err.message : String(err);
    throw fail(`cannot be decoded (${msg.split('\n')[0]})`, err);
  }
}
