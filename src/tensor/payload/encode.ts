/**
 * The encoder: checks a payload and writes it as chunks whose concatenation is one
 * onnx_manager.Payload message (schema/payload.proto): the header fields in field-number order,
 * then one `tensors` field per tensor (./encode-tensor.ts), each tensor's data a view of its
 * typed array (no copy).
 */
import { Chunks, ProtoWriter } from '../../proto/writer.js';
import { crc32 } from '../crc32.js';
import { hostTensorBytes } from '../host.js';
import { checkHost, isUint32, runIdProblem, SHA256_HEX } from './checks.js';
import { checkCoded, codedMeta, encodeCodedTensor, encodeTensor, prefixLayout, writePrefix, type EncodedTensor } from './encode-tensor.js';
import { encodeError } from './errors.js';
import { KIND, PAYLOAD_FIELD as P, TIMING_FIELD as TIMING } from './fields.js';
import { MAX_LIST_ENTRIES, PAYLOAD_VERSION } from './limits.js';
import type { Payload, PlannedTensor } from './types.js';

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
  if (p.profile !== undefined) {
    if (p.kind !== 'input') throw encodeError('only an input payload asks for a profile');
    if (!isUint32(p.profile.rep) || p.profile.rep < 1 || !isUint32(p.profile.warmup)) throw encodeError(`profile must be { rep: integer >= 1, warmup: integer >= 0 }, got ${JSON.stringify(p.profile)}`);
  }
  if (p.profileJson !== undefined && (p.kind !== 'output' || typeof p.profileJson !== 'string')) throw encodeError('profileJson must be a string of an output payload');
  if (p.storeRetryMs !== undefined) {
    if (p.kind !== 'input') throw encodeError('only an input payload carries a store retry budget');
    if (!isUint32(p.storeRetryMs)) throw encodeError(`storeRetryMs must be an integer in [0, 2^32), got ${String(p.storeRetryMs)}`);
  }
  if (!(p.tensors instanceof Map)) throw encodeError('tensors must be a Map');
  if (p.coded !== undefined) {
    if (!(p.coded instanceof Map)) throw encodeError('coded must be a Map');
    for (const name of p.coded.keys()) if (p.tensors.has(name)) throw encodeError(`tensor ${JSON.stringify(name)} is both raw and coded`);
  }
}

const sizing = new ProtoWriter();
const timingWriter = new ProtoWriter();

/**
 * Fields 1..14 and 16 as proto3 writes them, into `w`: implicit-presence fields only when not zero
 * or empty (a timing's ms of -0 is written), the optional error, host and store_retry_ms whenever set.
 */
function header(w: ProtoWriter, p: Payload, messageBytes: number): Uint8Array {
  w.uint(P.version, PAYLOAD_VERSION)
    .fixed64(P.messageBytes, messageBytes)
    .uint(P.kind, p.kind === 'input' ? KIND.input : KIND.output);
  if (p.runId !== '') w.string(P.runId, p.runId);
  if (p.splitIndex !== 0) w.uint(P.splitIndex, p.splitIndex);
  if (p.rep !== 0) w.uint(P.rep, p.rep);
  for (const h of p.nextModels) w.string(P.nextModels, h);
  for (const t of p.timings) {
    const timing = timingWriter.reset();
    if (t.name !== '') timing.string(TIMING.name, t.name);
    if (!Object.is(t.ms, 0)) timing.double(TIMING.ms, t.ms);
    w.message(P.timings, timing);
  }
  if (p.error !== undefined) w.string(P.error, p.error);
  if (p.host !== undefined) w.string(P.host, p.host);
  for (const o of p.outputs ?? []) w.string(P.outputs, o);
  if (p.profile !== undefined) {
    w.uint(P.profileRep, p.profile.rep);
    if (p.profile.warmup !== 0) w.uint(P.profileWarmup, p.profile.warmup);
  }
  if (p.profileJson !== undefined) w.string(P.profileJson, p.profileJson);
  // Explicit presence: a budget of 0 (no retries) is written too.
  if (p.storeRetryMs !== undefined) w.uint(P.storeRetryMs, p.storeRetryMs);
  return w.finish();
}

/**
 * Encodes a payload as chunks whose concatenation is one onnx_manager.Payload message. The
 * tensor data chunks are views of the tensors' typed arrays: do not modify the tensors until
 * the chunks have been written out.
 */
export function encodePayload(p: Payload): Chunks {
  checkHost();
  checkPayloadForEncoding(p);
  const { headerLength, tensors, offset: rawEnd } = rawTensors(p);
  let offset = rawEnd;
  for (const [name, c] of p.coded ?? []) {
    const e = encodeCodedTensor(name, c, offset);
    tensors.push(e);
    offset += e.length;
  }
  const head = header(new ProtoWriter(), p, offset);
  if (head.length !== headerLength) throw new Error('payload: header size changed (bug)');
  const chunks = new Chunks().push(head);
  for (const e of tensors) {
    chunks.push(e.prefix);
    if (e.raw !== undefined) chunks.push(e.raw);
  }
  return chunks;
}

/** The header's size (fixed64 message_bytes has the same size for any value) and the raw tensors laid out after it. */
function rawTensors(p: Payload): { headerLength: number; tensors: EncodedTensor[]; offset: number } {
  const headerLength = header(sizing.reset(), p, 1).length;
  const tensors: EncodedTensor[] = [];
  let offset = headerLength;
  for (const [name, t] of p.tensors) {
    const e = encodeTensor(name, t, offset);
    tensors.push(e);
    offset += e.length;
  }
  return { headerLength, tensors, offset };
}

/** A CRC-32 whose varint takes the most bytes: a coded tensor's layout with it is the longest. */
const LONGEST_CRC = 0xffffffff;
/** Room a coded tensor may need beyond its longest layout at offset 0: its padding at another offset, and one more byte of a length. */
const LAYOUT_SLACK = 16;

/**
 * The bytes encodePayload({ ...p, coded }).concat() gives for `planned` coded tensors (after
 * p.tensors, in order), in one buffer with each body written in its place by its `write`: no
 * body of its own, no copy of it. A body is written where the layout with the longest CRC-32
 * puts it, its CRC-32 taken, and moved by a few bytes in the rare case the layout with that CRC
 * starts it elsewhere.
 */
export function encodePayloadPlanned(p: Omit<Payload, 'coded'>, planned: ReadonlyMap<string, PlannedTensor>): Uint8Array {
  checkHost();
  checkPayloadForEncoding(p);
  if (!(planned instanceof Map)) throw encodeError('coded must be a Map');
  for (const [name, c] of planned) {
    if (p.tensors.has(name)) throw encodeError(`tensor ${JSON.stringify(name)} is both raw and coded`);
    if (c === null || typeof c !== 'object' || !Number.isSafeInteger(c.bytes) || c.bytes < 0 || typeof c.write !== 'function') {
      throw encodeError(`coded tensor ${JSON.stringify(name)} needs a body size and a writer`);
    }
    checkCoded(name, c);
  }
  const { headerLength, tensors, offset: rawEnd } = rawTensors(p);
  let bound = rawEnd;
  // Each coded tensor's metadata with the longest CRC-32: its longest layout, and where its body is written.
  const longestMeta: number[] = [];
  for (const [name, c] of planned) {
    const m = codedMeta(name, c, LONGEST_CRC).length;
    longestMeta.push(m);
    bound += prefixLayout(m, c.bytes, 0).prefixLength + c.bytes + LAYOUT_SLACK;
  }
  const out = Buffer.allocUnsafeSlow(bound);
  let offset = headerLength;
  for (const e of tensors) {
    out.set(e.prefix, offset);
    if (e.raw !== undefined) out.set(e.raw, offset + e.prefix.length);
    offset += e.length;
  }
  let i = 0;
  for (const [name, c] of planned) {
    const guess = offset + prefixLayout(longestMeta[i++]!, c.bytes, offset).prefixLength;
    const body = out.subarray(guess, guess + c.bytes);
    const sum = c.write(body);
    // The prefix with the body's CRC-32, written in place (its metadata valid until the next codedMeta).
    const meta = codedMeta(name, c, typeof sum === 'number' ? sum : crc32(body));
    const layout = prefixLayout(meta.length, c.bytes, offset);
    const at = offset + layout.prefixLength;
    if (at !== guess) out.copyWithin(at, guess, guess + c.bytes);
    writePrefix(out, offset, meta, c.bytes, layout);
    offset = at + c.bytes;
  }
  const head = header(new ProtoWriter(), p, offset);
  if (head.length !== headerLength) throw new Error('payload: header size changed (bug)');
  out.set(head, 0);
  // Nothing of the memory past the message stays in the buffer unwritten.
  // (TypedArray fill: Buffer's costs more than the few bytes it clears.)
  Uint8Array.prototype.fill.call(out, 0, offset);
  return out.subarray(0, offset);
}

/** Sum of the tensors' raw data bytes (strings: UTF-8 bytes; coded tensors: their bodies). */
export function payloadTensorBytes(p: Pick<Payload, 'tensors' | 'coded'>): number {
  let n = 0;
  for (const t of p.tensors.values()) n += hostTensorBytes(t);
  for (const c of p.coded?.values() ?? []) n += c.body.byteLength;
  return n;
}
