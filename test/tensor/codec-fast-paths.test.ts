/**
 * The fast paths of fp16, bf16 and int8 (two halves or four bytes per 32-bit access, several
 * accumulators) give exactly what the element-by-element definitions give, at every length and
 * alignment, with the special values among ordinary ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostTensor } from '../../src/runtime/session.js';
import { bf16, fp16, halfBits, int8 } from '../../src/tensor/codecs/index.js';
import { finiteRange } from '../../src/tensor/codecs/int8.js';
import { seededRandom } from '../../src/tensor/host.js';

const SPECIAL = [0, -0, 1, -1, 65504, 65519, 65520, 1e-30, 2 ** -24, 2 ** -25, 6e-5, -6.1e-5, 1e-7, 3e38, -3e38, 1 + 2 ** -11, 1 + 3 * 2 ** -11];

function values(n: number, seed: number, special = true): Float32Array {
  const r = seededRandom(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = special && i % 7 === 3 ? SPECIAL[i % SPECIAL.length]! : (r() - 0.3) * 10 ** Math.floor(r() * 12 - 8);
  return x;
}

const bitsOf = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
const tensor = (x: Float32Array): HostTensor => ({ type: 'float32', dims: [x.length], data: x });

describe('tensor codecs: fast paths', () => {
  it('fp16 and bf16 encode element for element as the definitions, at every length', async () => {
    for (const n of [0, 1, 2, 3, 5, 8, 1001]) {
      const x = values(n, n + 1);
      const h = new Uint16Array((await fp16.encode(tensor(x)))!.body.slice().buffer);
      const b = new Uint16Array((await bf16.encode(tensor(x)))!.body.slice().buffer);
      bitsOf(x).forEach((f, i) => {
        assert.equal(h[i], halfBits(f), `fp16 element ${i} of ${n}`);
        const want = (f & 0x7fffffff) > 0x7f800000 ? (f >>> 16) | 0x40 : Math.floor((f + 0x7fff + ((f >>> 16) & 1)) / 65536) & 0xffff;
        assert.equal(b[i], want, `bf16 element ${i} of ${n}`);
      });
    }
  });

  it('fp16 decodes the same from a body at any 2-byte alignment', async () => {
    const x = values(999, 7);
    const coded = (await fp16.encode(tensor(x)))!;
    const aligned = (await fp16.decode(coded, 'float32', [999])).data as Float32Array;
    const shifted = new Uint8Array(coded.body.length + 2);
    shifted.set(coded.body, 2);
    const other = (await fp16.decode({ ...coded, body: shifted.subarray(2) }, 'float32', [999])).data as Float32Array;
    assert.deepEqual(bitsOf(other), bitsOf(aligned));
    const h = new Uint16Array(coded.body.slice().buffer);
    aligned.forEach((v, i) => {
      const e = (h[i]! >>> 10) & 0x1f;
      const m = h[i]! & 0x3ff;
      const want = (h[i]! & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15));
      assert.ok(Object.is(v, want) || (Number.isNaN(v) && Number.isNaN(want)), `element ${i}: ${v} vs ${want}`);
    });
  });

  it('int8: the range of every length, refused for NaN or Inf anywhere; bytes as the definition at any alignment', async () => {
    for (const n of [1, 2, 3, 4, 5, 9, 1003]) {
      const x = values(n, 3 * n, false);
      const want = { lo: Math.min(0, ...x), hi: Math.max(0, ...x) };
      assert.deepEqual(finiteRange(x, 0, n), want, `length ${n}`);
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, n - 1, n >> 1]) {
          const y = Float32Array.from(x);
          y[at] = bad;
          assert.equal(finiteRange(y, 0, n), undefined, `${bad} at ${at} of ${n}`);
          assert.equal(await int8.encode(tensor(y)), undefined, `${bad} at ${at} of ${n}: sent raw`);
        }
      }
      const coded = (await int8.encode(tensor(x)))!;
      const inv = 1 / coded.scale!;
      coded.body.forEach((q, i) => assert.equal(q, Math.min(255, Math.floor(x[i]! * inv + coded.zeroPoint! + 0.5)), `q ${i} of ${n}`));
      const back = (await int8.decode(coded, 'float32', [n])).data as Float32Array;
      const shifted = new Uint8Array(n + 1);
      shifted.set(coded.body, 1);
      const other = (await int8.decode({ ...coded, body: shifted.subarray(1) }, 'float32', [n])).data as Float32Array;
      assert.deepEqual(other, back);
      back.forEach((v, i) => assert.equal(v, Math.fround((coded.body[i]! - coded.zeroPoint!) * coded.scale!)));
    }
  });
});
