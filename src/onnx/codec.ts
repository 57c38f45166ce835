/**
 * Lossless ONNX (de)serialization with protobufjs and the project's own schema
 * (schema/onnx.proto, compiled to ./onnx-proto.generated.ts by `npm run gen:proto`).
 *
 * - Every field of the schema is decoded and encoded; fields the schema does not know
 *   (newer ONNX versions, vendor extensions) and unknown enum values are kept as raw
 *   protobuf and written back unchanged.
 * - bytes fields (raw_data, string_data, s, ...) are zero-copy views into the input.
 * - int64 fields are plain numbers when they fit in a double exactly, Long otherwise.
 */
import protobuf from 'protobufjs';
import { contentKind } from '../content-kind.js';
import { OnnxFormatError } from '../errors.js';
import { ProtoReader, WIRE_LEN, WireError } from '../proto/reader.js';
import { onnxSchema } from './onnx-proto.generated.js';
import type { LongLike, ModelProto } from './types.js';

/** Message types of schema/onnx.proto (package onnx) that can be (de)coded on their own. */
export type OnnxMessageName =
  | 'ModelProto'
  | 'GraphProto'
  | 'NodeProto'
  | 'AttributeProto'
  | 'ValueInfoProto'
  | 'TensorProto'
  | 'TensorProto.Segment'
  | 'SparseTensorProto'
  | 'TensorShapeProto'
  | 'TensorShapeProto.Dimension'
  | 'TypeProto'
  | 'OperatorSetIdProto'
  | 'FunctionProto'
  | 'TrainingInfoProto'
  | 'StringStringEntryProto'
  | 'TensorAnnotation'
  | 'IntIntListEntryProto'
  | 'NodeDeviceConfigurationProto'
  | 'ShardingSpecProto'
  | 'ShardedDimProto'
  | 'SimpleShardedDimProto'
  | 'DeviceConfigurationProto';

let schemaRoot: protobuf.Root | undefined;
const typeCache = new Map<OnnxMessageName, protobuf.Type>();

function root(): protobuf.Root {
  if (schemaRoot === undefined) {
    schemaRoot = protobuf.Root.fromJSON(onnxSchema as protobuf.INamespace);
    schemaRoot.resolveAll();
  }
  return schemaRoot;
}

/** The protobufjs reflection type of an ONNX message (cached). */
export function messageType(name: OnnxMessageName): protobuf.Type {
  let type = typeCache.get(name);
  if (type === undefined) {
    type = root().lookupType(`onnx.${name}`);
    typeCache.set(name, type);
  }
  return type;
}

// ---------------------------------------------------------------------------------------
// Reader: Buffer-backed (fast UTF-8, zero-copy bytes), keeps unknown fields, int64 as
// number when exact.

const MAX_SAFE_HIGH = 0x200000; // 2^53 = high word 2^21

function narrowSigned(v: LongLike | number): LongLike | number {
  if (typeof v === 'number') return v;
  // |value| < 2^53 <=> high word in [-2^21, 2^21)
  return v.high >= -MAX_SAFE_HIGH && v.high < MAX_SAFE_HIGH ? v.toNumber() : v;
}

function narrowUnsigned(v: LongLike | number): LongLike | number {
  if (typeof v === 'number') return v;
  return v.high >>> 0 < MAX_SAFE_HIGH ? v.toNumber() : v;
}

class OnnxReader extends protobuf.BufferReader {
  constructor(buffer: Buffer) {
    super(buffer);
    // protobufjs drops unknown fields by default; keep them so nothing is lost.
    this.discardUnknown = false;
  }
}

{
  // The typings declare int64() etc. as returning Long, so the overrides are installed on
  // the prototype rather than declared as methods.
  const base = protobuf.Reader.prototype as unknown as Record<string, () => LongLike | number>;
  const proto = OnnxReader.prototype as unknown as Record<string, unknown>;
  const int64 = base.int64!;
  const sint64 = base.sint64!;
  const sfixed64 = base.sfixed64!;
  const uint64 = base.uint64!;
  const fixed64 = base.fixed64!;
  proto.int64 = function (this: protobuf.Reader) {
    return narrowSigned(int64.call(this));
  };
  proto.sint64 = function (this: protobuf.Reader) {
    return narrowSigned(sint64.call(this));
  };
  proto.sfixed64 = function (this: protobuf.Reader) {
    return narrowSigned(sfixed64.call(this));
  };
  proto.uint64 = function (this: protobuf.Reader) {
    return narrowUnsigned(uint64.call(this));
  };
  proto.fixed64 = function (this: protobuf.Reader) {
    return narrowUnsigned(fixed64.call(this));
  };
}

/** A Buffer sharing memory with `bytes` (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------
// Cheap wire-format check of the top level, so that arbitrary files are refused before
// protobufjs "decodes" them into nonsense.

/** Field numbers above this that ModelProto does not define are treated as "not ONNX". */
const MAX_UNKNOWN_TOP_LEVEL_FIELD = 64;

interface ScanResult {
  /** Why the bytes are not a ModelProto, or undefined. */
  problem?: string;
  /** Field numbers seen at the top level. */
  fields: Set<number>;
}

function expectedWireTypes(type: protobuf.Type): Map<number, { name: string; wire: number[] }> {
  const out = new Map<number, { name: string; wire: number[] }>();
  for (const field of type.fieldsArray) {
    field.resolve();
    const scalar = field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type;
    const basic = (protobuf.types.basic as Record<string, number | undefined>)[scalar];
    const packable = (protobuf.types.packed as Record<string, number | undefined>)[scalar] !== undefined;
    const wire = basic === undefined ? [WIRE_LEN] : field.repeated && packable ? [basic, WIRE_LEN] : [basic];
    out.set(field.id, { name: field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), wire });
  }
  return out;
}

let modelFields: Map<number, { name: string; wire: number[] }> | undefined;

function scanTopLevel(buf: Uint8Array): ScanResult {
  modelFields ??= expectedWireTypes(messageType('ModelProto'));
  const fields = new Set<number>();
  const r = new ProtoReader(buf);
  let reading: string | undefined;
  try {
    while (!r.done) {
      reading = undefined;
      const fieldNo = r.key();
      const known = modelFields.get(fieldNo);
      if (known !== undefined) {
        if (!known.wire.includes(r.wire)) {
          return { problem: `field ${fieldNo} (${known.name}) has wire type ${r.wire} at byte ${r.fieldStart}`, fields };
        }
        reading = known.name;
      } else if (fieldNo > MAX_UNKNOWN_TOP_LEVEL_FIELD) {
        return { problem: `unexpected top-level field ${fieldNo} at byte ${r.fieldStart}`, fields };
      }
      r.skip(fieldNo);
      fields.add(fieldNo);
    }
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    return { problem: reading === undefined ? err.message : `${err.message} (${reading})`, fields };
  }
  return { fields };
}

// ---------------------------------------------------------------------------------------
// Public API

function describeDecodeError(err: unknown, reader: protobuf.Reader): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError || /index out of range/.test(msg)) {
    return `corrupt or truncated protobuf near byte ${reader.pos}`;
  }
  return `corrupt protobuf near byte ${reader.pos}: ${msg.split('\n')[0]}`;
}

function formatError(file: string | undefined, reason: string, cause?: unknown): OnnxFormatError {
  const prefix = file !== undefined && file !== '' ? `${file}: ` : '';
  return new OnnxFormatError(
    `${prefix}not a valid ONNX model (${reason})`,
    cause !== undefined || file !== undefined
      ? { ...(cause !== undefined ? { cause } : {}), ...(file !== undefined ? { file } : {}) }
      : undefined,
  );
}

function int64ToNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v !== null && typeof v === 'object' && 'toNumber' in v) return (v as LongLike).toNumber();
  return Number.NaN;
}

/** Highest ir_version accepted (13 is current; leaves room for future versions). */
const MAX_IR_VERSION = 100;

/**
 * Decodes an .onnx file. The result is a protobufjs message (plain property access, see
 * ./types.ts); bytes fields are views into `bytes`, so keep `bytes` unmodified while the
 * model is in use. Throws OnnxFormatError (one-line message naming `file`) for anything
 * that is not a well-formed ONNX ModelProto.
 */
export function decodeModel(bytes: Uint8Array, file?: string): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw formatError(file, `expected bytes, got ${typeof bytes}`);
  if (bytes.length === 0) throw formatError(file, 'empty file');

  const scan = scanTopLevel(bytes);
  if (scan.problem !== undefined || !scan.fields.has(7) || !scan.fields.has(1)) {
    // A file of another kind (a CSV, an image, a JSON cut file): said as such, not as a protobuf fault.
    const kind = contentKind(bytes);
    if (kind !== undefined && kind !== 'an ONNX model' && kind !== 'binary content') throw formatError(file, `it looks like ${kind}`);
  }
  if (scan.problem !== undefined) throw formatError(file, scan.problem);
  if (!scan.fields.has(7)) throw formatError(file, 'no graph');
  if (!scan.fields.has(1)) throw formatError(file, 'no ir_version');

  const reader = new OnnxReader(asBuffer(bytes));
  let model: ModelProto;
  try {
    model = messageType('ModelProto').decode(reader) as unknown as ModelProto;
  } catch (err) {
    throw formatError(file, describeDecodeError(err, reader), err);
  }

  const ir = int64ToNumber(model.irVersion);
  if (!(ir >= 1 && ir <= MAX_IR_VERSION)) throw formatError(file, `implausible ir_version ${String(model.irVersion)}`);
  if (model.graph === null || model.graph === undefined) throw formatError(file, 'no graph');
  if (ir >= 3 && (model.opsetImport === undefined || model.opsetImport.length === 0)) {
    throw formatError(file, 'no opset_import');
  }
  return model;
}

/** Serializes a model (a decoded message or a plain object shaped like ./types.ts). */
export function encodeModel(model: ModelProto): Uint8Array {
  return encodeMessage('ModelProto', model);
}

/** Serializes any ONNX message (message instance or plain object with camelCase fields). */
export function encodeMessage(type: OnnxMessageName, obj: object): Uint8Array {
  try {
    return messageType(type).encode(obj as protobuf.Message).finish();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new OnnxFormatError(`cannot encode onnx.${type}: ${msg.split('\n')[0]}`, { cause: err });
  }
}

/**
 * Decodes any ONNX message (no ModelProto plausibility checks; use decodeModel for files).
 * Same representation as decodeModel: zero-copy bytes, unknown fields kept.
 */
export function decodeMessage<T = Record<string, unknown>>(type: OnnxMessageName, bytes: Uint8Array, file?: string): T {
  const reader = new OnnxReader(asBuffer(bytes));
  try {
    return messageType(type).decode(reader) as unknown as T;
  } catch (err) {
    const prefix = file !== undefined && file !== '' ? `${file}: ` : '';
    throw new OnnxFormatError(`${prefix}not a valid onnx.${type} (${describeDecodeError(err, reader)})`, {
      cause: err,
      ...(file !== undefined ? { file } : {}),
    });
  }
}

/**
 * A plain-object copy of a message for deep comparisons and printing: int64 as decimal
 * strings, enums as numbers, bytes as-is (Buffer / Uint8Array), only fields that are set.
 * For a plain object (not a decoded message) pass its type; ModelProto is assumed.
 */
export function toPlainObject(msg: object, type: OnnxMessageName = 'ModelProto'): Record<string, unknown> {
  const options: protobuf.IConversionOptions = { longs: String, defaults: false, arrays: false };
  if (msg instanceof protobuf.Message) {
    return (msg.$type as protobuf.Type).toObject(msg, options);
  }
  const t = messageType(type);
  return t.toObject(t.fromObject(msg), options);
}
