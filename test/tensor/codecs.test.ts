/**
 * Tensor codecs: every codec round-trips every cut tensor of zoo models (lossless ones bit-exact,
 * lossy ones within their bound), odd shapes, empty tensors and NaN/Inf; coded tensors travel in
 * a payload and a corrupted or truncated body is refused with one line before anything runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostTensor } from '../../src/runtime/session.js';
import { CloudRunner, CloudRunError } from '../../src/runner/cloud.js';
import { bf16, CodecError, decodeTensors, deflate, encodeTensors, fp16, halfBits, int8, TENSOR_CODECS, tensorCodec, zstd, type TensorCodec } from '../../src/tensor/codecs/index.js';
import { randomTensor } from '../../src/tensor/host.js';
import { decodePayload, encodePayload, PayloadError, type Payload } from '../../src/tensor/payload/index.js';
import { cutTensors } from './cut-tensors.js';

const LOSSY: [TensorCodec, number][] = [
  [fp16, 2 ** -11],
  [bf16, 2 ** -8],
];

function assertWithin(codec: string, got: HostTensor, want: HostTensor, bound: (x: number) => number): void {
  assert.equal(got.type, want.type, codec);
  assert.deepEqual(got.dims, want.dims, codec);
  const g = got.data as Float32Array;
  const w = want.data as Float32Array;
  assert.equal(g.length, w.length);
  for (let i = 0; i < w.length; i++) {
    const x = w[i]!;
    const y = g[i]!;
    if (Number.isNaN(x)) assert.ok(Number.isNaN(y), `${codec}: element ${i} NaN stays NaN`);
    else if (!Number.isFinite(x)) assert.equal(y, x, `${codec}: element ${i} Inf stays Inf`);
    else assert.ok(Math.abs(y - x) <= bound(x), `${codec}: element ${i} ${x} came back as ${y} (bound ${bound(x)})`);
  }
}

function bytesOf(t: HostTensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Round trip of one tensor through one codec, checked against the codec's bound. */
async function roundTrip(codec: TensorCodec, t: HostTensor, what: string): Promise<void> {
  const coded = await codec.encode(t);
  if (coded === undefined) {
    assert.ok(!codec.lossless ? t.type !== 'float32' || codec === int8 : t.type === 'string', `${codec.name} leaves ${what} (${t.type}) raw`);
    return;
  }
  const back = await codec.decode(coded, t.type, t.dims);
  if (codec.lossless) {
    assert.equal(back.type, t.type);
    assert.deepEqual(back.dims, t.dims);
    assert.deepEqual(Buffer.from(bytesOf(back)), Buffer.from(bytesOf(t)), `${codec.name}: ${what} bit-exact`);
    return;
  }
  if (codec === int8) {
    const half = coded.scale! / 2;
    assertWithin(`int8 ${what}`, back, t, (x) => half * (1 + 1e-6) + Math.abs(x) * 2 ** -23);
    return;
  }
  const rel = LOSSY.find(([c]) => c === codec)![1];
  // fp16's subnormals (below 2^-14) keep an absolute step of 2^-24.
  const floor = codec === fp16 ? 2 ** -25 : 2 ** -134;
  assertWithin(`${codec.name} ${what}`, back, t, (x) => Math.max(rel * Math.abs(x), floor));
}

const CODECS = [fp16, bf16, int8, deflate, zstd];

describe('tensor codecs: round trips', () => {
  for (const model of ['lenet5', 'resnet_like', 'mixed_dtypes']) {
    it(`every codec on every cut tensor of ${model}`, async () => {
      const cuts = await cutTensors(model);
      assert.ok(cuts.size > 2, `${model} has cut tensors`);
      for (const codec of CODECS) for (const [name, t] of cuts) await roundTrip(codec, t, `${model} ${name}`);
    });
  }

  it('odd shapes, empty tensors and every numeric type', async () => {
    const shapes = [[0], [3, 0, 5], [1], [7], [3, 5, 7], [1, 1, 1, 13], []];
    for (const type of ['float32', 'float64', 'int64', 'int32', 'uint8', 'bool', 'float16']) {
      for (const dims of shapes) {
        const t = randomTensor(type, dims, 3);
        for (const codec of CODECS) await roundTrip(codec, t, `${type} [${dims.join(', ')}]`);
      }
    }
    const strings: HostTensor = { type: 'string', dims: [2], data: ['a', 'b'] };
    for (const codec of CODECS) assert.equal(await codec.encode(strings), undefined, `${codec.name} leaves strings raw`);
  });

  it('NaN and Inf: kept by the casts and the lossless codecs; int8 sends such a tensor raw', async () => {
    const data = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 1, -1.5, 65504, 70000, 1e-30, 3e38, 2 ** -24, 2 ** -25, 1e-7]);
    const t: HostTensor = { type: 'float32', dims: [data.length], data };
    const h = await fp16.decode((await fp16.encode(t))!, 'float32', t.dims);
    const got = h.data as Float32Array;
    assert.ok(Number.isNaN(got[0]!));
    assert.deepEqual([...got.slice(1, 8)], [Infinity, -Infinity, 0, -0, 1, -1.5, 65504]);
    assert.equal(got[8], Infinity, 'beyond fp16 range: Inf');
    assert.equal(got[11], 2 ** -24, 'smallest subnormal');
    assert.equal(got[12], 0, 'half the smallest subnormal rounds to even (0)');
    const b = (await bf16.decode((await bf16.encode(t))!, 'float32', t.dims)).data as Float32Array;
    assert.ok(Number.isNaN(b[0]!));
    assert.deepEqual([...b.slice(1, 7)], [Infinity, -Infinity, 0, -0, 1, -1.5]);
    assert.ok(Math.abs(b[10]! - 3e38) <= 3e38 * 2 ** -8, 'bf16 keeps float32 range');
    for (const codec of [deflate, zstd]) await roundTrip(codec, t, 'NaN/Inf');
    assert.equal(await int8.encode(t), undefined);
  });

  it('fp16 rounds to nearest even', () => {
    const bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
    assert.equal(halfBits(bits(1 + 2 ** -11)), 0x3c00, 'halfway between 1 and the next: even (1)');
    assert.equal(halfBits(bits(1 + 3 * 2 ** -11)), 0x3c02, 'halfway, odd below: up');
    assert.equal(halfBits(bits(65520)), 0x7c00, '65520 rounds to Inf');
    assert.equal(halfBits(bits(65519)), 0x7bff);
  });
});

function inputPayload(tensors: Map<string, HostTensor>): Payload {
  return { kind: 'input', runId: 'r', splitIndex: 1, rep: 0, nextModels: [], timings: [], tensors };
}

describe('tensor codecs: in a payload', () => {
  it('every codec travels in a payload and decodes to the tensors sent (raw: no encoding field)', async () => {
    const tensors = new Map<string, HostTensor>([
      ['x', randomTensor('float32', [20, 3, 5], 1)],
      ['ids', randomTensor('int64', [3], 2)],
      ['e', randomTensor('float32', [0, 4], 3)],
    ]);
    for (const name of TENSOR_CODECS) {
      const enc = await encodeTensors(tensors, name);
      const bytes = encodePayload({ ...inputPayload(enc.tensors), coded: enc.coded }).concat();
      const p = decodePayload(bytes);
      if (name === 'raw') assert.equal(p.coded, undefined);
      const back = await decodeTensors(p);
      assert.deepEqual([...back.keys()].sort(), [...tensors.keys()].sort(), name);
      for (const [n, t] of tensors) {
        assert.equal(back.get(n)!.type, t.type, `${name} ${n}`);
        assert.deepEqual(back.get(n)!.dims, t.dims, `${name} ${n}`);
      }
      if (name === 'raw' || tensorCodec(name)!.lossless) assert.deepEqual(Buffer.from(bytesOf(back.get('x')!)), Buffer.from(bytesOf(tensors.get('x')!)));
      if (name === 'fp16' || name === 'bf16') assert.ok(bytes.length < encodePayload(inputPayload(tensors)).byteLength - 50, `${name} is smaller`);
    }
  });

  it('a corrupted or truncated coded body is refused with one line naming the tensor, before anything runs', async () => {
    const t = randomTensor('float32', [64, 64], 5);
    for (const name of ['fp16', 'bf16', 'int8', 'deflate', 'zstd']) {
      const enc = await encodeTensors(new Map([['cut', t]]), name);
      const bytes = Buffer.from(encodePayload({ ...inputPayload(enc.tensors), coded: enc.coded }).concat());
      const flipped = Buffer.from(bytes);
      flipped[bytes.length - 10] ^= 0x5a;
      assert.throws(() => decodePayload(flipped, { file: 'in.pb' }), (e: Error) => e instanceof PayloadError && /CRC-32/.test(e.message) && /"cut"/.test(e.message) && !e.message.includes('\n'), name);
      assert.throws(() => decodePayload(bytes.subarray(0, bytes.length - 7)), PayloadError, `${name}: truncated`);
    }
    // A body that passes its CRC (as a sender writes it) but does not decode: refused by the codec.
    const shortBody = { ...(await deflate.encode(t))!, body: (await deflate.encode(t))!.body.subarray(0, 20) };
    const p = decodePayload(encodePayload({ ...inputPayload(new Map()), coded: new Map([['cut', { ...shortBody, type: 'float32', dims: [64, 64] }]]) }).concat());
    await assert.rejects(decodeTensors(p), (e: Error) => e instanceof CodecError && /tensor "cut": deflate body .* corrupted or truncated/.test(e.message));
    const badSize = decodePayload(encodePayload({ ...inputPayload(new Map()), coded: new Map([['cut', { codec: 'zstd', body: (await zstd.encode(t))!.body, type: 'float32', dims: [64, 63] }]]) }).concat());
    await assert.rejects(decodeTensors(badSize), /tensor "cut": zstd body of a \[64, 63\] float32 tensor decompresses to 16384 bytes, expected 16128/);
    const unknown = decodePayload(encodePayload({ ...inputPayload(new Map()), coded: new Map([['cut', { codec: 'lz4', body: new Uint8Array(4), type: 'float32', dims: [1] }]]) }).concat());
    await assert.rejects(decodeTensors(unknown), /unknown codec 'lz4'/);
    // The cloud runner refuses before it loads or runs a part.
    let fetched = 0;
    const runner = new CloudRunner({ get: async () => (fetched++, new Uint8Array()) }, async () => assert.fail('no session'));
    await assert.rejects(runner.process({ ...p, nextModels: ['a'.repeat(64)] }), CodecError);
    assert.equal(fetched, 0, 'no part fetched');
    assert.ok(CloudRunError);
  });
});
