import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { OnnxManagerError } from '../../src/errors.js';
import { decodeMessage } from '../../src/onnx/codec.js';
import type { TensorProto } from '../../src/onnx/types.js';
import { scanFields } from '../../src/proto/reader.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { randomTensor, seededRandom, typedArrayFor } from '../../src/tensor/host.js';
import {
  DEFAULT_MAX_TENSORS,
  MAX_LIST_ENTRIES,
  PAYLOAD_DTYPES,
  PAYLOAD_VERSION,
  PayloadError,
  decodePayload,
  encodePayload,
  payloadTensorBytes,
  type Payload,
} from '../../src/tensor/payload/index.js';
import { payloadSchema } from '../../src/tensor/payload-proto.generated.js';
import { ELEMENT_BYTES } from '../helpers.js';
import { numel } from '../models/builder.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = '0123456789abcdef'.repeat(4);
const NUMERIC = PAYLOAD_DTYPES.filter((t) => t !== 'string');

function payload(tensors: [string, HostTensor][], extra: Partial<Payload> = {}): Payload {
  return {
    kind: 'input',
    runId: 'run-1',
    splitIndex: 3,
    rep: 2,
    nextModels: [HASH_A],
    timings: [{ name: 'edge_ms', ms: 12.5 }],
    tensors: new Map(tensors),
    ...extra,
  };
}

/** The encoding in a fresh ArrayBuffer at offset 0 (8-aligned), as a download would give it. */
function encodeAligned(p: Payload): Uint8Array {
  const c = encodePayload(p);
  const out = new Uint8Array(new ArrayBuffer(c.byteLength));
  let off = 0;
  for (const part of c.parts) {
    out.set(part, off);
    off += part.length;
  }
  return out;
}

function bytesOf(t: HostTensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function assertSameTensor(got: HostTensor | undefined, want: HostTensor, what: string): void {
  assert.ok(got, `${what}: missing`);
  assert.equal(got.type, want.type, `${what}: type`);
  assert.deepEqual([...got.dims], [...want.dims], `${what}: dims`);
  if (want.type === 'string') {
    assert.deepEqual([...(got.data as string[])], [...(want.data as string[])], `${what}: strings`);
  } else {
    assert.ok(got.data instanceof typedArrayFor(want.type), `${what}: array type ${got.data.constructor.name}`);
    // Bit-exact: compares NaN payloads and -0 too.
    assert.deepEqual(Buffer.from(bytesOf(got)), Buffer.from(bytesOf(want)), `${what}: bytes`);
  }
}

/** Edge values per type, as raw element bit patterns where it matters. */
function specialTensor(type: string): HostTensor {
  switch (type) {
    case 'float32': {
      const a = new Float32Array([Number.NaN, -0, 0, Infinity, -Infinity, 3.4028234663852886e38, 1.401298464324817e-45, -1.5]);
      new Uint32Array(a.buffer)[0] = 0x7fc01234; // NaN with a payload
      return { type, dims: [2, 4], data: a };
    }
    case 'float64': {
      const a = new Float64Array([Number.NaN, -0, 0, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -1.5]);
      new BigUint64Array(a.buffer)[0] = 0x7ff8000000abcdefn;
      return { type, dims: [8], data: a };
    }
    case 'float16':
      return { type, dims: [6], data: new Uint16Array([0x7e01, 0x8000, 0x0000, 0x7c00, 0xfc00, 0x3c00]) };
    case 'int64':
      return { type, dims: [4], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n]) };
    case 'uint64':
      return { type, dims: [3], data: new BigUint64Array([2n ** 64n - 1n, 0n, 2n ** 53n + 1n]) };
    case 'int32':
      return { type, dims: [3], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, -1]) };
    case 'uint32':
      return { type, dims: [2], data: new Uint32Array([2 ** 32 - 1, 0]) };
    case 'int16':
      return { type, dims: [2], data: new Int16Array([-32768, 32767]) };
    case 'uint16':
      return { type, dims: [2], data: new Uint16Array([65535, 0]) };
    case 'int8':
      return { type, dims: [3], data: new Int8Array([-128, 127, -1]) };
    case 'uint8':
      return { type, dims: [2], data: new Uint8Array([255, 0]) };
    case 'bool':
      return { type, dims: [1, 3], data: new Uint8Array([1, 0, 1]) };
    default:
      throw new Error(type);
  }
}

function cases(type: string): [string, HostTensor][] {
  const shapes: number[][] = [[2, 3], [], [0], [3, 0, 2], [5, 1, 7]];
  const out: [string, HostTensor][] = shapes.map((dims, i) => [`${type}_${i}`, randomTensor(type, dims, 11 + i, 1000)]);
  if (type === 'string') {
    out.push(['string_unicode', { type, dims: [2, 3], data: ['', 'a', 'héllo', '日本語', '🙂 emoji', 'x'.repeat(300)] }]);
  } else {
    out.push([`${type}_special`, specialTensor(type)]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Hand-made messages (the encoder refuses to write bad payloads).

const root = protobuf.Root.fromJSON(payloadSchema as protobuf.INamespace);
const PayloadType = root.lookupType('onnx_manager.Payload');

/** Encodes a plain Payload message with protobufjs, message_bytes set to its size unless given. */
function craft(obj: Record<string, unknown>): Uint8Array {
  const base = { version: PAYLOAD_VERSION, kind: 1, runId: 'r', ...obj };
  if ('messageBytes' in obj) return PayloadType.encode(base).finish();
  const n = PayloadType.encode({ ...base, messageBytes: 1 }).finish().length;
  return PayloadType.encode({ ...base, messageBytes: n }).finish();
}

function rejects(bytes: Uint8Array, reason: RegExp, opts: Parameters<typeof decodePayload>[1] = {}): PayloadError {
  let caught: unknown;
  try {
    decodePayload(bytes, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PayloadError, `expected PayloadError, got ${String(caught)}`);
  assert.match(caught.message, reason);
  assert.ok(!caught.message.includes('\n'), 'one-line message');
  return caught;
}

/** Either a PayloadError or a payload that passes every check (and can be re-encoded). */
function decodesOrRefuses(bytes: Uint8Array, what: string): 'ok' | 'refused' {
  try {
    const p = decodePayload(bytes);
    encodePayload(p); // a decoded payload is a valid payload
    return 'ok';
  } catch (err) {
    if (err instanceof PayloadError) return 'refused';
    assert.fail(`${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
}

describe('payload: round trip', () => {
  for (const type of PAYLOAD_DTYPES) {
    it(`${type}: scalars, empty, random and edge values`, () => {
      const tensors = cases(type);
      const p = payload(tensors);
      const d = decodePayload(encodeAligned(p));
      assert.equal(d.tensors.size, tensors.length);
      assert.deepEqual([...d.tensors.keys()], tensors.map(([n]) => n), 'order kept');
      for (const [name, t] of tensors) assertSameTensor(d.tensors.get(name), t, name);
    });
  }

  it('all types in one payload, at awkward header sizes', () => {
    for (let runLen = 0; runLen < 20; runLen++) {
      const tensors: [string, HostTensor][] = PAYLOAD_DTYPES.map((type, i) => [`t${'n'.repeat(i + runLen)}`, randomTensor(type, [i + 1, 3], i)]);
      const p = payload(tensors, { runId: 'r'.repeat(runLen), host: 'h'.repeat(runLen * 7) });
      const d = decodePayload(encodeAligned(p));
      for (const [name, t] of tensors) assertSameTensor(d.tensors.get(name), t, name);
    }
  });

  it('metadata', () => {
    const full: Payload = {
      kind: 'output',
      runId: '2024-05-01T10:11:12Z_mobilenet',
      splitIndex: 2 ** 32 - 1,
      rep: 0,
      nextModels: [HASH_A, HASH_B, HASH_A],
      timings: [
        { name: 'cloud_download_ms', ms: 1.25 },
        { name: 'cloud_part1_ms', ms: 0 },
        { name: 'cloud_part1_ms', ms: 1e-9 },
        { name: 'x', ms: -3 },
      ],
      error: 'Error: something failed: «détails»',
      host: 'worker-7.cluster.local',
      tensors: new Map(),
    };
    const d = decodePayload(encodeAligned(full));
    assert.deepEqual(d, { ...full, version: PAYLOAD_VERSION });

    const minimal: Payload = { kind: 'input', runId: '', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map() };
    const m = decodePayload(encodeAligned(minimal));
    assert.deepEqual(m, { ...minimal, version: PAYLOAD_VERSION });
    assert.ok(!('error' in m) && !('host' in m), 'absent error/host stay absent');

    const emptyStrings = decodePayload(encodeAligned({ ...minimal, error: '', host: '' }));
    assert.equal(emptyStrings.error, '');
    assert.equal(emptyStrings.host, '');
    // An input payload's store retry budget, 0 (no retries) included; absent stays absent.
    for (const storeRetryMs of [0, 1, 120_000, 2 ** 32 - 1]) assert.equal(decodePayload(encodeAligned({ ...minimal, storeRetryMs })).storeRetryMs, storeRetryMs);
    assert.ok(!('storeRetryMs' in m));
  });

  it('accepts a payload written by another protobuf encoder (field order, packed dims, no padding)', () => {
    const bytes = craft({
      kind: 2,
      runId: 'other',
      splitIndex: 4,
      nextModels: [HASH_B],
      tensors: [
        { dims: [2, 2], dataType: 1, name: 'a', rawData: Buffer.from(new Float32Array([1, 2, 3, 4]).buffer) },
        { dims: [2], dataType: 8, name: 's', stringData: [Buffer.from('x'), Buffer.from('yz')] },
      ],
    });
    const d = decodePayload(bytes);
    assert.equal(d.kind, 'output');
    assert.equal(d.splitIndex, 4);
    assert.deepEqual([...(d.tensors.get('a')!.data as Float32Array)], [1, 2, 3, 4]);
    assert.deepEqual(d.tensors.get('s')!.data, ['x', 'yz']);
    // packed dims (what a proto3 schema without [packed = false] writes) are read too
    const tensor = Buffer.from([0x0a, 0x02, 0x02, 0x01, 0x10, 0x02, 0x42, 0x01, 0x70, 0x4a, 0x02, 0x07, 0x09]);
    const head = PayloadType.encode({ version: 1, messageBytes: 1, kind: 1, runId: 'r' }).finish();
    const total = head.length + 2 + tensor.length;
    const msg = Buffer.concat([PayloadType.encode({ version: 1, messageBytes: total, kind: 1, runId: 'r' }).finish(), Buffer.from([0x7a, tensor.length]), tensor]);
    const pt = decodePayload(msg).tensors.get('p')!;
    assert.deepEqual(pt.dims, [2, 1]);
    assert.deepEqual([...(pt.data as Uint8Array)], [7, 9]);
  });
});

describe('payload: wire format', () => {
  const tensors: [string, HostTensor][] = [
    ['input.1', randomTensor('float32', [1, 3, 224, 224], 1)],
    ['/features/Relu_output_0', randomTensor('float16', [1, 64, 56, 56], 2)],
    ['mask', randomTensor('int64', [1, 77], 3)],
    ['labels', { type: 'string', dims: [2], data: ['cat', 'dog'] }],
  ];
  const p = payload(tensors, { host: 'edge-pi' });

  it('is one onnx_manager.Payload whose tensors are onnx.TensorProto messages', () => {
    const bytes = encodeAligned(p);
    const msg = PayloadType.toObject(PayloadType.decode(bytes), { longs: Number, defaults: false });
    assert.equal(msg.version, 1);
    assert.equal(msg.messageBytes, bytes.length);
    assert.equal(msg.kind, 1);
    assert.equal(msg.runId, 'run-1');
    assert.equal(msg.splitIndex, 3);
    assert.equal(msg.rep, 2);
    assert.deepEqual(msg.nextModels, [HASH_A]);
    assert.deepEqual(msg.timings, [{ name: 'edge_ms', ms: 12.5 }]);
    assert.equal(msg.host, 'edge-pi');
    assert.equal(msg.tensors.length, tensors.length);

    const tensorFields = scanFields(bytes).filter((f) => f.field === 15);
    assert.equal(tensorFields.length, tensors.length);
    tensorFields.forEach((f, i) => {
      const [name, t] = tensors[i]!;
      const tp = decodeMessage<TensorProto>('TensorProto', bytes.subarray(f.dataStart, f.end));
      assert.equal(tp.name, name);
      assert.deepEqual(tp.dims!.map(Number), [...t.dims]);
      if (t.type === 'string') {
        assert.equal(tp.dataType, 8);
        assert.deepEqual(tp.stringData!.map((s) => Buffer.from(s).toString()), t.data);
      } else {
        assert.deepEqual(Buffer.from(tp.rawData!), Buffer.from(bytesOf(t)));
      }
      // dims written unpacked, one key per entry, as onnx does
      const inner = scanFields(bytes, f.dataStart, f.end);
      assert.equal(inner.filter((x) => x.field === 1 && x.wireType === 0).length, t.dims.length);
      const rawField = inner.find((x) => x.field === 9);
      if (rawField) assert.equal(rawField.dataStart % 8, 0, `raw_data of ${name} starts 8-aligned`);
    });
  });

  it('size: raw tensor bytes plus a small header; data chunks are views of the tensors', () => {
    const chunks = encodePayload(p);
    const raw = payloadTensorBytes(p);
    assert.equal(raw, 3 * 224 * 224 * 4 + 64 * 56 * 56 * 2 + 77 * 8 + 6);
    assert.equal(chunks.concat().length, chunks.byteLength);
    const overhead = chunks.byteLength - raw;
    assert.ok(overhead > 0 && overhead < 1024, `header overhead ${overhead} bytes`);
    for (const [, t] of tensors) {
      if (t.type === 'string') continue;
      const d = t.data as ArrayBufferView;
      assert.ok(
        chunks.parts.some((c) => c.buffer === d.buffer && c.byteOffset === d.byteOffset && c.byteLength === d.byteLength),
        'tensor data chunk is a view, not a copy',
      );
    }
    assert.equal(payloadTensorBytes(decodePayload(chunks.concat())), raw);
  });

  it('decodes without copying when the input is 8-aligned, and copies only when it must', () => {
    for (let runLen = 0; runLen < 16; runLen++) {
      const ts: [string, HostTensor][] = NUMERIC.map((type, i) => [`x${'y'.repeat((i * 5 + runLen) % 13)}`, randomTensor(type, [2, i + 1], i)]);
      const bytes = encodeAligned(payload(ts, { runId: 'q'.repeat(runLen) }));
      const d = decodePayload(bytes);
      for (const [name, t] of ts) {
        const got = d.tensors.get(name)!;
        assert.equal((got.data as ArrayBufferView).buffer, bytes.buffer, `${name} (${t.type}) views the input`);
        assertSameTensor(got, t, name);
      }
      // The same bytes at odd offsets: still correct; multi-byte types are copied there.
      for (const shift of [1, 2, 4]) {
        const big = new Uint8Array(bytes.length + shift);
        big.set(bytes, shift);
        const moved = decodePayload(big.subarray(shift));
        for (const [name, t] of ts) {
          const got = moved.tensors.get(name)!;
          assertSameTensor(got, t, name);
          const size = (got.data as ArrayBufferView & { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
          assert.equal((got.data as ArrayBufferView).buffer === big.buffer, shift % size === 0, `${name} shift ${shift}`);
        }
      }
    }
  });

  it('pads correctly where the tensor length varint changes size', () => {
    const counts = [...Array.from({ length: 8 }, (_, i) => 12 + i), ...Array.from({ length: 8 }, (_, i) => 2044 + i)];
    for (const n of counts) {
      for (let nameLen = 1; nameLen <= 9; nameLen++) {
        const t = randomTensor('float64', [n], n);
        const bytes = encodeAligned(payload([['n'.repeat(nameLen), t]], { nextModels: [] }));
        const got = decodePayload(bytes).tensors.get('n'.repeat(nameLen))!;
        assert.equal((got.data as ArrayBufferView).buffer, bytes.buffer, `${n} elements, name ${nameLen}`);
        assertSameTensor(got, t, `${n}/${nameLen}`);
      }
    }
  });

  it('works on a Buffer from Node (pooled small buffers included)', () => {
    const small = payload([['a', randomTensor('float64', [3], 1)]]);
    const buf = Buffer.from(encodeAligned(small)); // from the pool
    assertSameTensor(decodePayload(buf).tensors.get('a'), small.tensors.get('a')!, 'a');
  });
});

describe('payload: refusals', () => {
  const small = payload(
    [
      ['a', randomTensor('float32', [2, 2], 1)],
      ['s', { type: 'string', dims: [2], data: ['x', 'yy'] }],
      ['b', randomTensor('int64', [3], 2)],
    ],
    { host: 'h', error: 'e' },
  );
  const good = encodeAligned(small);

  it('every truncation', () => {
    for (let n = 0; n < good.length; n++) {
      rejects(good.subarray(0, n), n === 0 ? /empty input/ : /truncated|no message_bytes|no version/);
    }
    assert.ok(decodePayload(good));
  });

  it('trailing data', () => {
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    rejects(longer, /trailing data|field number 0/);
  });

  it('random corruption never throws anything but PayloadError', () => {
    const rand = seededRandom(42);
    let refused = 0;
    let ok = 0;
    for (let i = 0; i < 5000; i++) {
      const bad = new Uint8Array(good);
      const flips = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rand() * bad.length);
        bad[at] = rand() < 0.5 ? bad[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      }
      if (decodesOrRefuses(bad, `case ${i}`) === 'ok') ok++;
      else refused++;
    }
    assert.ok(refused > 1000, `refused ${refused}, accepted ${ok}`);
    // arbitrary bytes
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      decodesOrRefuses(junk, `junk ${i}`);
    }
  });

  it('dims and data length mismatch', () => {
    rejects(craft({ tensors: [{ dims: [2, 3], dataType: 1, name: 'x', rawData: Buffer.alloc(20) }] }), /need 24 bytes, raw_data has 20/);
    rejects(craft({ tensors: [{ dims: [2], dataType: 7, name: 'x' }] }), /need 16 bytes, raw_data has 0/);
    rejects(craft({ tensors: [{ dims: [], dataType: 1, name: 'x', rawData: Buffer.alloc(8) }] }), /need 4 bytes, raw_data has 8/);
    rejects(craft({ tensors: [{ dims: [3], dataType: 8, name: 's', stringData: [Buffer.from('a')] }] }), /need 3 strings, string_data has 1/);
    rejects(craft({ tensors: [{ dims: [1], dataType: 8, name: 's', stringData: [Buffer.from('a')], rawData: Buffer.alloc(1) }] }), /string tensor with raw_data/);
    rejects(craft({ tensors: [{ dims: [1], dataType: 2, name: 'u', stringData: [Buffer.from('a')], rawData: Buffer.alloc(1) }] }), /has string_data/);
    rejects(craft({ tensors: [{ dims: [2 ** 40, 2 ** 40], dataType: 2, name: 'u', rawData: Buffer.alloc(1) }] }), /raw_data has 1/);
  });

  it('negative, huge and too many dims', () => {
    rejects(craft({ tensors: [{ dims: [-1], dataType: 1, name: 'x' }] }), /negative dim/);
    rejects(craft({ tensors: [{ dims: [2, -3], dataType: 1, name: 'x', rawData: Buffer.alloc(24) }] }), /negative dim/);
    rejects(craft({ tensors: [{ dims: [2 ** 60], dataType: 1, name: 'x' }] }), /2\^53/);
    // Said exactly, past what a double holds: 2^63 - 1 is not negative, 2^64 - 1 is -1 as an int64.
    rejects(craft({ tensors: [{ dims: ['9223372036854775807'], dataType: 1, name: 'x' }] }), /tensor 0 has a dim of 9223372036854775807, more than 2\^53 - 1/);
    rejects(craft({ tensors: [{ dims: ['18446744073709551615'], dataType: 1, name: 'x' }] }), /tensor 0 has a negative dim -1 \(byte \d+\)/);
    rejects(craft({ tensors: [{ dims: [2, -3], dataType: 1, name: 'x', rawData: Buffer.alloc(24) }] }), /tensor 0 has a negative dim -3/);
    rejects(craft({ tensors: [{ dims: new Array(65).fill(1), dataType: 1, name: 'x', rawData: Buffer.alloc(4) }] }), /more than 64 dims/);
  });

  it('unknown, missing and unsupported dtypes; foreign data fields', () => {
    rejects(craft({ tensors: [{ dims: [1], dataType: 99, name: 'x', rawData: Buffer.alloc(4) }] }), /unknown data_type 99/);
    rejects(craft({ tensors: [{ dims: [1], dataType: -5, name: 'x', rawData: Buffer.alloc(4) }] }), /unknown data_type -5/);
    rejects(craft({ tensors: [{ dims: [1], name: 'x', rawData: Buffer.alloc(4) }] }), /no data_type/);
    rejects(craft({ tensors: [{ dims: [1], dataType: 16, name: 'x', rawData: Buffer.alloc(2) }] }), /bfloat16, which payloads do not carry/);
    // float_data (field 4) is an onnx.TensorProto field: payloads refuse it.
    const tensor = Buffer.concat([
      Buffer.from([0x08, 0x01, 0x10, 0x01, 0x42, 0x01, 0x78]), // dims 1, data_type 1, name 'x'
      Buffer.from([0x22, 0x04, 0, 0, 0x80, 0x3f]), // float_data packed [1]
    ]);
    const head = PayloadType.encode({ version: 1, messageBytes: 1, kind: 1, runId: 'r' }).finish();
    const total = head.length + 2 + tensor.length;
    const msg = Buffer.concat([PayloadType.encode({ version: 1, messageBytes: total, kind: 1, runId: 'r' }).finish(), Buffer.from([0x7a, tensor.length]), tensor]);
    rejects(msg, /float_data/);
  });

  it('names: empty, duplicate', () => {
    rejects(craft({ tensors: [{ dims: [1], dataType: 2, name: '', rawData: Buffer.alloc(1) }] }), /tensor 0 has no name/);
    rejects(
      craft({
        tensors: [
          { dims: [1], dataType: 2, name: 'dup', rawData: Buffer.alloc(1) },
          { dims: [1], dataType: 2, name: 'dup', rawData: Buffer.alloc(1) },
        ],
      }),
      /duplicate tensor name "dup"/,
    );
  });

  it('limits: maxBytes and maxTensors', () => {
    rejects(good, /more than the limit of 100/, { maxBytes: 100 });
    assert.ok(decodePayload(good, { maxBytes: good.length }));
    const many = payload(Array.from({ length: 5 }, (_, i): [string, HostTensor] => [`t${i}`, randomTensor('uint8', [1], i)]));
    const bytes = encodeAligned(many);
    rejects(bytes, /more than 4 tensors/, { maxTensors: 4 });
    assert.equal(decodePayload(bytes, { maxTensors: 5 }).tensors.size, 5);
    assert.equal(DEFAULT_MAX_TENSORS, 4096);
    const lots = craft({ tensors: Array.from({ length: DEFAULT_MAX_TENSORS + 1 }, (_, i) => ({ dims: [0], dataType: 1, name: `t${i}` })) });
    rejects(lots, /more than 4096 tensors/);
    rejects(craft({ timings: Array.from({ length: MAX_LIST_ENTRIES + 1 }, () => ({})) }), /more than 65536 timings/);
    rejects(craft({ nextModels: new Array(MAX_LIST_ENTRIES + 1).fill(HASH_A) }), /more than 65536 next_models/);
  });

  it('version, kind, message size and header fields', () => {
    const v2 = new Uint8Array(good);
    assert.deepEqual([...v2.subarray(0, 2)], [0x08, 0x01], 'version is the first field');
    v2[1] = 2;
    rejects(v2, /unsupported version 2 \(this build reads version 1\)/);
    rejects(craft({ version: 0 }), /no version field/);
    rejects(craft({ kind: 0 }), /unknown kind 0/);
    rejects(craft({ kind: 7 }), /unknown kind 7/);
    rejects(PayloadType.encode({ version: 1, kind: 1, runId: 'r' }).finish(), /no message_bytes/);
    rejects(craft({ messageBytes: 3 }), /trailing data/);
    rejects(craft({ nextModels: ['../../etc/passwd'] }), /not a lower-case sha256/);
    rejects(craft({ nextModels: [HASH_A.toUpperCase()] }), /not a lower-case sha256/);
    rejects(craft({ runId: 'a/b' }), /not usable in an object key/);
    rejects(craft({ runId: '..' }), /not usable in an object key/);
    rejects(craft({ timings: [{ name: 't', ms: Number.NaN }] }), /not a finite number/);
    rejects(craft({ runId: 'tab\there' }), /not usable in an object key/);
    rejects(new Uint8Array([0x08]), /truncated/);
    rejects(craft({ kind: 2, storeRetryMs: 5 }), /store_retry_ms belongs to an input payload/);
  });

  it('invalid UTF-8, wrong wire types', () => {
    const head = PayloadType.encode({ version: 1, messageBytes: 1, kind: 1 }).finish();
    const withRun = (run: number[]) => {
      const total = head.length + 2 + run.length;
      return Buffer.concat([PayloadType.encode({ version: 1, messageBytes: total, kind: 1 }).finish(), Buffer.from([0x22, run.length, ...run])]);
    };
    rejects(withRun([0xc3, 0x28]), /run_id is not valid UTF-8/);
    rejects(Buffer.from([0x08, 0x01, 0x12, 0x01, 0x00]), /message_bytes\) has wire type 2/);
    rejects(Buffer.from([0x0b, 0x01]), /wire type 3/);
  });

  it('names the file and is an OnnxManagerError', () => {
    const err = rejects(good.subarray(0, 10), /^output\/run-1\/3\/2\.pb: invalid payload: truncated/, { file: 'output/run-1/3/2.pb' });
    assert.equal(err.file, 'output/run-1/3/2.pb');
    assert.ok(err instanceof OnnxManagerError);
    assert.equal(err.name, 'PayloadError');
    rejects(new Uint8Array(0), /empty input/);
    assert.throws(() => decodePayload('abc' as unknown as Uint8Array), PayloadError);
  });
});

describe('payload: encoder checks', () => {
  const t = randomTensor('float32', [2, 2], 1);
  const bad: [string, Payload, RegExp][] = [
    ['data too short', payload([['x', { type: 'float32', dims: [2, 3], data: new Float32Array(5) }]]), /need 24 bytes, data has 20/],
    ['negative dim', payload([['x', { type: 'float32', dims: [-1], data: new Float32Array(0) }]]), /invalid dims/],
    ['fractional dim', payload([['x', { type: 'float32', dims: [1.5], data: new Float32Array(1) }]]), /invalid dims/],
    ['unsupported type', payload([['x', { type: 'bfloat16', dims: [1], data: new Uint16Array(1) }]]), /unsupported type 'bfloat16'/],
    ['strings as typed array', payload([['x', { type: 'string', dims: [1], data: new Uint8Array(1) }]]), /need 1 strings/],
    ['numbers as strings', payload([['x', { type: 'int32', dims: [1], data: ['1'] }]]), /needs a typed array/],
    ['empty name', payload([['', t]]), /empty name/],
    ['kind', payload([], { kind: 'sideways' as 'input' }), /kind must be/],
    ['hash', payload([], { nextModels: ['abc'] }), /sha256/],
    ['run id', payload([], { runId: 'a/b' }), /object key/],
    ['split index', payload([], { splitIndex: -1 }), /split index/],
    ['timing', payload([], { timings: [{ name: 'x', ms: Number.POSITIVE_INFINITY }] }), /timing/],
    ['version', payload([], { version: 2 }), /this build writes version 1/],
    ['store retry budget of an output', payload([], { kind: 'output', storeRetryMs: 1 }), /only an input payload carries a store retry budget/],
    ['store retry budget', payload([], { storeRetryMs: 1.5 }), /storeRetryMs must be an integer/],
  ];
  for (const [what, p, reason] of bad) {
    it(what, () => assert.throws(() => encodePayload(p), (err: unknown) => err instanceof PayloadError && reason.test(err.message)));
  }

  it('each tensor on the wire holds its elements times its element size, and payloadTensorBytes sums them', () => {
    for (const type of NUMERIC) {
      const tensors = cases(type);
      const p = payload(tensors);
      const bytes = encodeAligned(p);
      const onWire = scanFields(bytes).filter((f) => f.field === 15);
      assert.equal(onWire.length, tensors.length, type);
      let total = 0;
      onWire.forEach((f, i) => {
        const [name, t] = tensors[i]!;
        const want = numel(t.dims) * ELEMENT_BYTES[type]!;
        const raw = scanFields(bytes, f.dataStart, f.end).find((x) => x.field === 9);
        assert.equal(raw ? raw.end - raw.dataStart : 0, want, `${name} [${t.dims}]: raw_data bytes`);
        total += want;
      });
      assert.equal(payloadTensorBytes(p), total, `${type}: payloadTensorBytes`);
    }
  });
});
