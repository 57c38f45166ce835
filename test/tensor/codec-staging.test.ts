/**
 * int8 and int8 per channel copy a long tensor into the SIMD kernels' memory once, for the range
 * and then the quantisation: the bytes are still the element-by-element definitions' when several
 * tensors are planned before any is written (in any order), when a tensor's values change between
 * two encodes, for tensors that grow the kernels' memory or are too long to be held in it whole,
 * and NaN/Inf in either part of a channel's span (the kernel's steps of 8, the elements after
 * them) still send the tensor raw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostTensor } from '../../src/runtime/session.js';
import { receivedCodec, tensorCodec } from '../../src/tensor/codecs/index.js';
import { SIMD_MIN, STAGE_MAX, useSimd } from '../../src/tensor/codecs/simd/index.js';
import { seededRandom } from '../../src/tensor/host.js';

function tensor(dims: number[], seed: number): HostTensor {
  const r = seededRandom(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (r() - 0.3) * (1 + ((i >> 5) % 7));
  return { type: 'float32', dims, data };
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** The body `codec` gives `t` with the kernels off (the definitions), and its decoded bits. */
async function definition(codec: string, t: HostTensor): Promise<{ body: string; back: string } | undefined> {
  useSimd(false);
  try {
    const c = await tensorCodec(codec)!.encode(t);
    if (!c) return undefined;
    const back = await receivedCodec(c.codec, 'x').decode(c, t.type, t.dims);
    return { body: `${c.scale} ${c.zeroPoint} ${hex(c.body)}`, back: hex(new Uint8Array((back.data as Float32Array).buffer)) };
  } finally {
    useSimd(true);
  }
}

/** Writes the plans of `ts` in `order` (all planned first); each body as the definition's. */
async function plannedThenWritten(codec: string, ts: HostTensor[], order: number[]): Promise<void> {
  const plans = ts.map((t) => tensorCodec(codec)!.plan!(t)!);
  for (const i of order) {
    const body = new Uint8Array(plans[i]!.bytes);
    plans[i]!.write(body);
    const want = await definition(codec, ts[i]!);
    assert.equal(`${plans[i]!.scale} ${plans[i]!.zeroPoint} ${hex(body)}`, want!.body, `${codec}: tensor ${i} of ${ts.length} written in order ${order.join(',')}`);
  }
}

describe('tensor codecs: int8 tensors copied into the kernels once', () => {
  for (const codec of ['int8', 'int8:axis=1']) {
    it(`${codec}: several tensors planned before any is written, written in any order, each get their own bytes`, async () => {
      const ts = [tensor([1, 8, 40, 40], 1), tensor([1, 16, 20, 21], 2), tensor([2, 3, 300], 3)];
      await plannedThenWritten(codec, ts, [0, 1, 2]);
      await plannedThenWritten(codec, ts, [2, 0, 1]);
      await plannedThenWritten(codec, ts, [1, 1, 0]);
    });

    it(`${codec}: a tensor whose values change between two encodes is encoded from its new values`, async () => {
      const t = tensor([1, 4, 33, 17], 4);
      const x = t.data as Float32Array;
      const first = await tensorCodec(codec)!.encode(t);
      for (let i = 0; i < x.length; i += 3) x[i] = -x[i]! * 2;
      const second = await tensorCodec(codec)!.encode(t);
      assert.notEqual(hex(first!.body), hex(second!.body));
      assert.equal(`${second!.scale} ${second!.zeroPoint} ${hex(second!.body)}`, (await definition(codec, t))!.body);
    });
  }

  it('int8 and int8:axis=1: a tensor longer than the kernels\' memory at first grows it, one too long to hold whole streams through it, both as the definitions', async () => {
    for (const dims of [[1, 16, 128, 129], [1, 3, 1, Math.ceil(STAGE_MAX / 12) + 9]]) {
      const t = tensor(dims, 5);
      for (const codec of ['int8', 'int8:axis=1']) {
        const c = (await tensorCodec(codec)!.encode(t))!;
        const back = await receivedCodec(c.codec, 'x').decode(c, t.type, t.dims);
        const want = (await definition(codec, t))!;
        assert.ok(`${c.scale} ${c.zeroPoint} ${hex(c.body)}` === want.body, `${codec} [${dims.join(', ')}]: bytes as the definition's`);
        assert.ok(hex(new Uint8Array((back.data as Float32Array).buffer)) === want.back, `${codec} [${dims.join(', ')}]: decoded as the definition's`);
      }
    }
  });

  it('int8 and int8:axis=1: NaN or Inf in a channel\'s steps of 8 or in the elements after them sends the tensor raw', async () => {
    // Spans of 37 elements: 32 through the kernel's steps, 5 after them.
    const dims = [2, 5, 37];
    const n = 2 * 5 * 37;
    assert.ok(n >= SIMD_MIN);
    for (const at of [0, 31, 32, 36, 37 * 3 + 33, n - 1, n - 6]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const t = tensor(dims, 6);
        (t.data as Float32Array)[at] = bad;
        for (const codec of ['int8', 'int8:axis=1']) assert.equal(await tensorCodec(codec)!.encode(t), undefined, `${codec}: ${bad} at ${at}`);
      }
    }
    // And without them: quantised, as the definitions.
    const t = tensor(dims, 6);
    for (const codec of ['int8', 'int8:axis=1']) {
      const c = (await tensorCodec(codec)!.encode(t))!;
      assert.equal(`${c.scale} ${c.zeroPoint} ${hex(c.body)}`, (await definition(codec, t))!.body, codec);
    }
  });
});
