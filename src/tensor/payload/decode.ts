/**
 * The decoder: a strict, bounded reading of one onnx_manager.Payload message (no protobufjs
 * objects, no copy of the bulk data). Every field is checked; the work done is bounded by the
 * input size and the limits. Tensor data is returned as typed arrays that view the input bytes
 * where the data is aligned for its element size (always, for a buffer whose byteOffset is a
 * multiple of 8 holding a payload of this encoder) and copies otherwise.
 */
import { elementCount } from '../../onnx/dtypes.js';
import { ProtoReader, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError } from '../../proto/reader.js';
import type { HostTensor } from '../../runtime/session.js';
import { hostTensorBytes } from '../host.js';
import { checkHost, describeName, runIdProblem, SHA256_HEX } from './checks.js';
import { checkedCoded, checkedTensor, expectWire, readTensor, utf8, type RawTensor } from './decode-tensor.js';
import { PayloadError, Refused, refuse } from './errors.js';
import { KIND, PAYLOAD_FIELD as P, payloadDtypeByName, TIMING_FIELD as TIMING } from './fields.js';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_TENSORS, MAX_LIST_ENTRIES, PAYLOAD_VERSION } from './limits.js';
import type { CodedTensor, DecodeOptions, Payload } from './types.js';

const TWO_32 = 2 ** 32;

function readTiming(buf: Buffer, start: number, end: number, index: number): { name: string; ms: number } {
  const r = new ProtoReader(buf, start, end, `timing ${index}`);
  const timing = { name: '', ms: 0 };
  while (r.pos < end) {
    const field = r.key();
    if (field === TIMING.name) {
      expectWire(r, field, 'timing name', WIRE_LEN);
      const s = r.lengthDelimited(field);
      timing.name = utf8(buf, s, r.pos, 'timing name');
    } else if (field === TIMING.ms) {
      expectWire(r, field, 'timing ms', WIRE_I64);
      timing.ms = r.double(field);
    } else {
      r.skip(field);
    }
  }
  return timing;
}

function decodeUnchecked(bytes: Uint8Array, maxBytes: number, maxTensors: number): Payload {
  if (bytes.length === 0) refuse('empty input');
  if (bytes.length > maxBytes) refuse(`${bytes.length} bytes is more than the limit of ${maxBytes} (raise maxBytes)`);
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new ProtoReader(buf);

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
  let profileRep = 0;
  let profileWarmup = 0;
  let profileJson: string | undefined;
  let storeRetryMs: number | undefined;
  const raw: RawTensor[] = [];

  const uint32 = (what: string): number => {
    const v = r.varint();
    if (v >= TWO_32) refuse(`${what} ${v} does not fit uint32`);
    return v;
  };
  const string = (field: number, what: string): string => {
    expectWire(r, field, what, WIRE_LEN);
    const s = r.lengthDelimited(field);
    return utf8(buf, s, r.pos, what);
  };
  /** Refuses one entry more than MAX_LIST_ENTRIES of a repeated field. */
  const room = (list: readonly unknown[], field: number, what: string): void => {
    expectWire(r, field, what, WIRE_LEN);
    if (list.length >= MAX_LIST_ENTRIES) refuse(`more than ${MAX_LIST_ENTRIES} ${what}`);
  };

  while (r.pos < r.end) {
    const field = r.key();
    switch (field) {
      case P.version:
        expectWire(r, field, 'version', WIRE_VARINT);
        version = r.varint();
        // Checked at once: a newer layout is reported as such, not as corruption further on.
        if (version !== PAYLOAD_VERSION) refuse(`unsupported version ${version} (this build reads version ${PAYLOAD_VERSION})`);
        break;
      case P.messageBytes:
        expectWire(r, field, 'message_bytes', WIRE_I64);
        messageBytes = r.fixed64(field);
        break;
      case P.kind:
        expectWire(r, field, 'kind', WIRE_VARINT);
        r.varint();
        kind = r.low32;
        break;
      case P.runId:
        runId = string(field, 'run_id');
        break;
      case P.splitIndex:
        expectWire(r, field, 'split_index', WIRE_VARINT);
        splitIndex = uint32('split_index');
        break;
      case P.rep:
        expectWire(r, field, 'rep', WIRE_VARINT);
        rep = uint32('rep');
        break;
      case P.nextModels:
        room(nextModels, field, 'next_models');
        nextModels.push(string(field, 'next_models'));
        break;
      case P.timings: {
        room(timings, field, 'timings');
        const s = r.lengthDelimited(field);
        timings.push(readTiming(buf, s, r.pos, timings.length));
        break;
      }
      case P.error:
        error = string(field, 'error');
        break;
      case P.host:
        host = string(field, 'host');
        break;
      case P.outputs:
        room(outputs, field, 'outputs');
        outputs.push(string(field, 'outputs'));
        break;
      case P.profileRep:
        expectWire(r, field, 'profile_rep', WIRE_VARINT);
        profileRep = uint32('profile_rep');
        break;
      case P.profileWarmup:
        expectWire(r, field, 'profile_warmup', WIRE_VARINT);
        profileWarmup = uint32('profile_warmup');
        break;
      case P.profileJson:
        profileJson = string(field, 'profile_json');
        break;
      case P.storeRetryMs:
        expectWire(r, field, 'store_retry_ms', WIRE_VARINT);
        storeRetryMs = uint32('store_retry_ms');
        break;
      case P.tensors: {
        expectWire(r, field, 'tensors', WIRE_LEN);
        if (raw.length >= maxTensors) refuse(`more than ${maxTensors} tensors (raise maxTensors)`);
        const s = r.lengthDelimited(field);
        raw.push(readTensor(buf, s, r.pos, raw.length));
        break;
      }
      default:
        r.skip(field); // a field of a later minor revision
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
  if (kind !== KIND.input && kind !== KIND.output) refuse(`unknown kind ${kind}`);
  const runProblem = runIdProblem(runId);
  if (runProblem) refuse(runProblem);
  if ((profileRep !== 0 || profileWarmup !== 0) && kind !== KIND.input) refuse('profile_rep and profile_warmup belong to an input payload');
  if (profileWarmup !== 0 && profileRep === 0) refuse('profile_warmup without profile_rep');
  if (profileJson !== undefined && kind !== KIND.output) refuse('profile_json belongs to an output payload');
  if (storeRetryMs !== undefined && kind !== KIND.input) refuse('store_retry_ms belongs to an input payload');
  for (const h of nextModels) {
    if (!SHA256_HEX.test(h)) refuse(`next model ${describeName(h)} is not a lower-case sha256 hex digest`);
  }
  for (const t of timings) {
    if (!Number.isFinite(t.ms)) refuse(`timing ${describeName(t.name)} is not a finite number`);
  }

  const tensors = new Map<string, HostTensor>();
  const coded = new Map<string, CodedTensor>();
  let total = 0;
  for (const t of raw) {
    if (t.name === '') refuse(`tensor ${t.index} has no name`);
    if (tensors.has(t.name) || coded.has(t.name)) refuse(`duplicate tensor name ${describeName(t.name)}`);
    if (t.encoding !== undefined) {
      const c = checkedCoded(buf, t);
      // Counted at its decoded size: what the codec will allocate.
      total += elementCount(c.dims) * payloadDtypeByName(c.type)!.bytes;
      if (total > maxBytes) refuse(`tensors exceed the limit of ${maxBytes} bytes once decoded (raise maxBytes)`);
      coded.set(t.name, c);
      continue;
    }
    const host = checkedTensor(buf, t);
    total += hostTensorBytes(host);
    if (total > maxBytes) refuse(`tensors exceed the limit of ${maxBytes} bytes (raise maxBytes)`);
    tensors.set(t.name, host);
  }

  const p: Payload = {
    version,
    kind: kind === KIND.input ? 'input' : 'output',
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
  if (coded.size > 0) p.coded = coded;
  if (profileRep !== 0) p.profile = { rep: profileRep, warmup: profileWarmup };
  if (profileJson !== undefined) p.profileJson = profileJson;
  if (storeRetryMs !== undefined) p.storeRetryMs = storeRetryMs;
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
    if (err instanceof Refused || err instanceof WireError) throw fail(err.message);
    // Not expected; still a refusal of these bytes, not a crash of the caller.
    const msg = err instanceof Error ? err.message : String(err);
    throw fail(`cannot be decoded (${msg.split('\n')[0]})`, err);
  }
}
