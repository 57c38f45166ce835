/**
 * The payload encoder writes schema/payload.proto by hand (src/proto/writer.ts): its field
 * numbers agree with the compiled schema, its header and tensor metadata are the bytes
 * protobufjs writes for the same message, and a fixed payload has pinned bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { scanFields } from '../../src/proto/reader.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { randomTensor, seededRandom } from '../../src/tensor/host.js';
import * as F from '../../src/tensor/payload/fields.js';
import { encodePayload, PAYLOAD_DTYPES, PAYLOAD_VERSION, type Payload } from '../../src/tensor/payload/index.js';
import { payloadSchema } from '../../src/tensor/payload-proto.generated.js';

const root = protobuf.Root.fromJSON(payloadSchema as protobuf.INamespace);
root.resolveAll();
const PayloadType = root.lookupType('onnx_manager.Payload');
const TensorType = root.lookupType('onnx_manager.Tensor');
const TimingType = root.lookupType('onnx_manager.Timing');
const EncodingType = root.lookupType('onnx_manager.TensorEncoding');
const KindEnum = root.lookupEnum('onnx_manager.PayloadKind');

describe('payload: schema/payload.proto', () => {
  it('field numbers and kinds agree with the compiled schema, and every field is known', () => {
    const types: [protobuf.Type, Readonly<Record<string, number>>][] = [
      [PayloadType, F.PAYLOAD_FIELD],
      [TensorType, F.TENSOR_FIELD],
      [TimingType, F.TIMING_FIELD],
      [EncodingType, F.ENCODING_FIELD],
    ];
    for (const [type, fields] of types) {
      for (const [name, id] of Object.entries(fields)) assert.equal(type.fields[name]?.id, id, `${type.name}.${name}`);
      assert.deepEqual(type.fieldsArray.map((f) => f.name).sort(), Object.keys(fields).sort(), `${type.name}: every field is known`);
    }
    assert.equal(KindEnum.values.PAYLOAD_KIND_INPUT, F.KIND.input);
    assert.equal(KindEnum.values.PAYLOAD_KIND_OUTPUT, F.KIND.output);
  });
});

const HASHES = ['a'.repeat(64), '0123456789abcdef'.repeat(4)];
const TEXTS = ['', 'a', 'héllo', '日本語', '🙂 emoji', 'x'.repeat(300), 'y'.repeat(39), '/features/Relu_output_0'];

function randomPayload(rand: () => number, i: number): Payload {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tensors: [string, HostTensor][] = [];
  for (let j = 0; j < Math.floor(rand() * 5); j++) {
    const type = pick(PAYLOAD_DTYPES);
    const dims = Array.from({ length: Math.floor(rand() * 4) }, () => Math.floor(rand() * (j === 0 ? 40 : 5)));
    const n = dims.reduce((a, b) => a * b, 1);
    const t: HostTensor = type === 'string' ? { type, dims, data: Array.from({ length: n }, () => pick(TEXTS)) } : randomTensor(type, dims, i * 10 + j);
    tensors.push([`${pick(TEXTS)}${j}`, t]);
  }
  const p: Payload = {
    kind: pick(['input', 'output'] as const),
    runId: pick(['', 'run-1', 'r'.repeat(Math.floor(rand() * 60))]),
    splitIndex: pick([0, 1, 128, 2 ** 32 - 1, Math.floor(rand() * 1e6)]),
    rep: pick([0, 3, 300]),
    nextModels: Array.from({ length: Math.floor(rand() * 3) }, () => pick(HASHES)),
    timings: Array.from({ length: Math.floor(rand() * 4) }, () => ({ name: pick(TEXTS), ms: pick([0, -0, 1.25, -3, rand() * 1000]) })),
    tensors: new Map(tensors),
  };
  if (rand() < 0.3) p.error = pick(TEXTS);
  if (rand() < 0.5) p.host = pick(TEXTS);
  if (rand() < 0.3) p.outputs = rand() < 0.3 ? [] : ['out', 'y'];
  if (p.kind === 'input' && rand() < 0.4) p.storeRetryMs = pick([0, 1, 120_000, 2 ** 32 - 1]);
  return p;
}

describe('payload: exact bytes', () => {
  it('header and tensor metadata are the bytes protobufjs writes for the same message', () => {
    const rand = seededRandom(99);
    for (let i = 0; i < 400; i++) {
      const p = randomPayload(rand, i);
      const bytes = encodePayload(p).concat();
      const fields = scanFields(bytes);
      const firstTensor = fields.find((f) => f.field === F.PAYLOAD_FIELD.tensors)?.start ?? bytes.length;
      const header = PayloadType.encode({
        version: PAYLOAD_VERSION,
        messageBytes: bytes.length,
        kind: p.kind === 'input' ? F.KIND.input : F.KIND.output,
        runId: p.runId,
        splitIndex: p.splitIndex,
        rep: p.rep,
        nextModels: p.nextModels,
        timings: p.timings,
        ...(p.error !== undefined ? { error: p.error } : {}),
        ...(p.host !== undefined ? { host: p.host } : {}),
        outputs: p.outputs ?? [],
        ...(p.storeRetryMs !== undefined ? { storeRetryMs: p.storeRetryMs } : {}),
      }).finish();
      assert.deepEqual(Buffer.from(bytes.subarray(0, firstTensor)), Buffer.from(header), `header of payload ${i}`);

      const tensorFields = fields.filter((f) => f.field === F.PAYLOAD_FIELD.tensors);
      assert.equal(tensorFields.length, p.tensors.size);
      [...p.tensors].forEach(([name, t], k) => {
        const f = tensorFields[k]!;
        const inner = scanFields(bytes, f.dataStart, f.end);
        const metaEnd = inner.find((x) => x.field === F.TENSOR_FIELD.alignmentPadding || x.field === F.TENSOR_FIELD.rawData)?.start ?? f.end;
        const dataType = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13 }[t.type];
        const meta = TensorType.encode({
          dims: t.dims,
          dataType,
          name,
          ...(t.type === 'string' ? { stringData: (t.data as string[]).map((s) => Buffer.from(s)) } : {}),
        }).finish();
        assert.deepEqual(Buffer.from(bytes.subarray(f.dataStart, metaEnd)), Buffer.from(meta), `tensor ${k} of payload ${i}`);
      });
    }
  });

  it('a fixed payload keeps its bytes', () => {
    const p: Payload = {
      kind: 'input',
      runId: 'run-2026-12-01',
      splitIndex: 17,
      rep: 3,
      nextModels: HASHES,
      timings: [
        { name: 'edge_ms', ms: 1.5 },
        { name: 'encode_ms', ms: -0 },
      ],
      host: 'edge-pi',
      error: 'héllo',
      outputs: ['y'],
      tensors: new Map<string, HostTensor>([
        ['a', randomTensor('float32', [1, 3, 5, 7], 1)],
        ['b', randomTensor('float16', [2, 9], 2)],
        ['c', randomTensor('int64', [1, 77], 3)],
        ['s', { type: 'string', dims: [2], data: ['cat', '日本'] }],
        ['d', randomTensor('bool', [13], 4)],
        ['e', randomTensor('uint64', [0], 5)],
      ]),
    };
    const bytes = encodePayload(p).concat();
    assert.equal(bytes.length, 1432);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), '30f2464327ea380d90c764063c2cafc93b0c1f62a73a77ed44b866513d98a609', 'the bytes this payload had before the encoder moved off protobufjs');
  });
});
