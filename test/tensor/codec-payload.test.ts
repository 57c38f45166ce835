/**
 * encodeCodedPayload: the payload with its tensors through a codec in one buffer, each body
 * written in its place, gives exactly the bytes of encodeTensors + encodePayload + concat for
 * every codec on every cut tensor of zoo models, odd shapes, empty tensors and NaN/Inf, with CRC-32
 * values of every varint length (the layout guessed before the CRC is known moved where it must
 * be); it decodes to the same tensors, and a corrupted body is still refused. The CRC-32 module
 * gives node:zlib's values on every length, offset and start value. Bodies whose CRC-32 the
 * kernels take piece by piece as they write give the same bytes at lengths around the chunk size.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import type { HostTensor } from '../../src/runtime/session.js';
import { decodeTensors, encodeCodedPayload, encodeTensors, TENSOR_CODECS } from '../../src/tensor/codecs/index.js';
import { crc32, fastCrc32Loaded } from '../../src/tensor/crc32.js';
import { randomTensor, seededRandom } from '../../src/tensor/host.js';
import { SIMD_MIN, useSimd } from '../../src/tensor/codecs/simd/index.js';
import { CHUNK } from '../../src/tensor/codecs/simd/kernels.js';
import { decodePayload, encodePayload, encodePayloadPlanned, PayloadError, type Payload } from '../../src/tensor/payload/index.js';
import { cutTensors } from './cut-tensors.js';

const ALL_CODECS = [...TENSOR_CODECS, 'int8:axis=1', 'int8:axis=-1'];

const payloadOf = (tensors: Map<string, HostTensor>): Payload => ({ kind: 'input', runId: 'r', splitIndex: 3, rep: 1, nextModels: [], timings: [{ name: 'edge_ms', ms: 1.5 }], tensors });

/** Both encoders' bytes for `tensors` through `codec`, checked equal; the one-buffer encoder's. */
async function sameBytes(tensors: Map<string, HostTensor>, codec: string, what: string): Promise<Uint8Array> {
  const e = await encodeTensors(tensors, codec);
  const want = Buffer.from(encodePayload({ ...payloadOf(e.tensors), coded: e.coded }).concat());
  const got = await encodeCodedPayload(payloadOf(tensors), codec);
  assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want), `${codec} ${what}: same bytes as encodeTensors + encodePayload`);
  return got;
}

function bitsOf(t: HostTensor): Buffer {
  const d = t.data as ArrayBufferView;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

describe('encodeCodedPayload: one buffer, the same bytes', () => {
  for (const model of ['lenet5', 'resnet_like', 'mixed_dtypes']) {
    it(`every codec on every cut tensor of ${model}, one payload per tensor and one with all`, async () => {
      const cuts = await cutTensors(model);
      for (const codec of ALL_CODECS) {
        for (const [name, t] of cuts) await sameBytes(new Map([[name, t]]), codec, `${model} ${name}`);
        const bytes = await sameBytes(cuts, codec, `${model} all`);
        const back = await decodeTensors(decodePayload(bytes));
        assert.deepEqual([...back.keys()].sort(), [...cuts.keys()].sort());
        if (codec === 'raw' || codec === 'deflate' || codec === 'zstd') for (const [name, t] of cuts) assert.ok(bitsOf(back.get(name)!).equals(bitsOf(t)), `${codec} ${name} bit-exact`);
      }
    });
  }

  it('odd shapes, empty tensors, every numeric type, strings, NaN/Inf, and CRC-32 varints of every length', async () => {
    const tensors = new Map<string, HostTensor>();
    const shapes = [[0], [3, 0, 5], [1], [7], [3, 5, 7], [1, 1, 1, 13], [], [2, 300]];
    for (const type of ['float32', 'float64', 'int64', 'uint8', 'bool', 'float16']) for (const dims of shapes) tensors.set(`${type} [${dims.join(',')}]`, randomTensor(type, dims, dims.length + 1));
    tensors.set('strings', { type: 'string', dims: [2], data: ['a', 'bc'] });
    const special = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 1, -1.5, 65504, 70000, 1e-30, 3e38, 2 ** -24]);
    tensors.set('special', { type: 'float32', dims: [special.length], data: special });
    for (const codec of ALL_CODECS) {
      await sameBytes(tensors, codec, 'mixed');
      for (const [name, t] of tensors) await sameBytes(new Map([[name, t]]), codec, name);
    }
    // Small float32 tensors of many lengths and seeds: fp16 bodies whose CRC-32 takes 1 to 5
    // varint bytes (or is 0, and left out), at every alignment after the header.
    const lengths = new Set<number>();
    for (let seed = 0; seed < 400; seed++) {
      const t = randomTensor('float32', [1 + (seed % 37)], seed);
      const bytes = await sameBytes(new Map([['x', t], ['y', randomTensor('float32', [seed % 5], seed + 1)]]), seed % 2 ? 'fp16' : 'int8', `seed ${seed}`);
      const crc = decodeCrc(bytes);
      lengths.add(crc === 0 ? 0 : Math.ceil(Math.log2(crc + 1) / 7));
    }
    assert.ok(lengths.has(4) && lengths.has(5), `CRC-32 varint lengths met: ${[...lengths].join(', ')}`);
  });

  it('bodies whose CRC-32 is taken piece by piece as the kernels write them: lengths around the chunk size, odd offsets, kernels on and off', async () => {
    const r = seededRandom(9);
    const pool = new Float32Array(3 * CHUNK + 16).map(() => (r() - 0.4) * 50);
    for (const n of [SIMD_MIN - 1, SIMD_MIN, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5, 3 * CHUNK]) {
      for (const from of [0, 1, 3]) {
        const t: HostTensor = { type: 'float32', dims: [n], data: pool.subarray(from, from + n) };
        for (const simd of [true, false]) {
          useSimd(simd);
          try {
            for (const codec of ['fp16', 'bf16', 'int8', 'int8:axis=0']) {
              // Also two tensors in one payload: each body's CRC starts afresh.
              await sameBytes(new Map([['a', t], ['b', { ...t, dims: [1, n] }]]), codec, `${n} elements from ${from}${simd ? '' : ' (kernels off)'}`);
            }
          } finally {
            useSimd(true);
          }
        }
      }
    }
  });

  it('a corrupted body of a one-buffer payload is refused by its CRC-32, in one line', async () => {
    const bytes = await encodeCodedPayload(payloadOf(new Map([['cut', randomTensor('float32', [64, 33], 5)]])), 'fp16');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10]! ^= 0x10;
    assert.throws(() => decodePayload(flipped, { file: 'in.pb' }), (e: Error) => e instanceof PayloadError && /CRC-32/.test(e.message) && /"cut"/.test(e.message) && !e.message.includes('\n'));
  });

  it('refuses a planned tensor without a size or writer, or named like a raw one', () => {
    const t = randomTensor('float32', [4], 1);
    const planned = { type: 'float32', dims: [4], codec: 'fp16', bytes: 8, write: (b: Uint8Array): void => void b.fill(0) };
    assert.throws(() => encodePayloadPlanned(payloadOf(new Map([['x', t]])), new Map([['x', planned]])), /both raw and coded/);
    assert.throws(() => encodePayloadPlanned(payloadOf(new Map()), new Map([['x', { ...planned, bytes: -1 }]])), /needs a body size and a writer/);
    assert.throws(() => encodePayloadPlanned(payloadOf(new Map()), new Map([['x', { ...planned, codec: 'raw' }]])), /codec name other than 'raw'/);
    assert.throws(() => encodePayloadPlanned(payloadOf(new Map()), new Map([['', planned]])), /empty name/);
  });
});

/** The CRC-32 the encoding of the first coded tensor carries (0 when left out). */
function decodeCrc(bytes: Uint8Array): number {
  const p = decodePayload(bytes);
  const c = [...(p.coded?.values() ?? [])][0];
  return c === undefined ? 0 : crc32(c.body);
}

describe('crc32', () => {
  it("gives node:zlib's value for every length around the native threshold, offsets and start values", () => {
    assert.ok(typeof fastCrc32Loaded() === 'boolean');
    const big = Buffer.alloc(70_000);
    for (let i = 0; i < big.length; i++) big[i] = (Math.imul(i, 2654435761) >>> 24) & 255;
    for (const n of [0, 1, 7, 100, 4095, 4096, 4097, 8191, 65536, 69_990]) {
      for (const off of [0, 1, 3, 8]) {
        const view = new Uint8Array(big.buffer, big.byteOffset + off, n);
        assert.equal(crc32(view), zlibCrc32(view), `n ${n} offset ${off}`);
        assert.equal(crc32(view, 0xdeadbeef), zlibCrc32(view, 0xdeadbeef), `n ${n} offset ${off}, start value`);
      }
    }
    // In pieces: the CRC of the whole.
    let c = 0;
    for (let i = 0; i < big.length; i += 5000) c = crc32(big.subarray(i, i + 5000), c);
    assert.equal(c, zlibCrc32(big));
  });
});
