/**
 * The SIMD kernels give exactly the bytes of the element-by-element definitions (useSimd(false))
 * through the codecs themselves: on every cut tensor of the test models, with NaN, Inf,
 * subnormals and -0 put among their values, at odd lengths, empty, and from unaligned views.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostTensor } from '../../src/runtime/session.js';
import { receivedCodec, tensorCodec } from '../../src/tensor/codecs/index.js';
import { SIMD_MIN, useSimd } from '../../src/tensor/codecs/simd/index.js';
import { CHUNK } from '../../src/tensor/codecs/simd/kernels.js';
import { seededRandom } from '../../src/tensor/host.js';
import { cutTensors } from './cut-tensors.js';

const CODECS = ['fp16', 'bf16', 'int8', 'int8:axis=1'];
const SPECIAL = [NaN, -NaN, Infinity, -Infinity, -0, 0, 2 ** -149, -(2 ** -149), 2 ** -126, 1e-40, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 6.1e-5, 65504, 65519, 65520, -65520, 3.4e38];

const bytes = (d: ArrayBufferView): Buffer => Buffer.from(d.buffer, d.byteOffset, d.byteLength);

/** The coded body, its parameters and the decoded float32 bits, with the kernels on or off. */
async function through(codecName: string, t: HostTensor, simd: boolean): Promise<{ coded: string; decoded: Buffer | undefined }> {
  useSimd(simd);
  try {
    const c = await tensorCodec(codecName)!.encode(t);
    if (c === undefined) return { coded: 'raw', decoded: undefined };
    const back = await receivedCodec(c.codec, 'x').decode(c, t.type, t.dims);
    return { coded: `${c.codec} ${c.scale} ${c.zeroPoint} ${bytes(c.body).toString('hex')}`, decoded: Buffer.from(bytes(back.data as ArrayBufferView)) };
  } finally {
    useSimd(true);
  }
}

async function same(t: HostTensor, what: string): Promise<void> {
  for (const codec of CODECS) {
    const fast = await through(codec, t, true);
    const slow = await through(codec, t, false);
    assert.ok(fast.coded === slow.coded, `${codec} ${what}: coded bytes differ from the definition's`);
    assert.ok(fast.decoded === slow.decoded || (fast.decoded !== undefined && slow.decoded !== undefined && fast.decoded.equals(slow.decoded)), `${codec} ${what}: decoded bits differ`);
  }
}

/** `x` with special values at positions spread over it (ends, chunk boundaries, a stride). */
function withSpecials(x: Float32Array, seed: number): Float32Array {
  const y = Float32Array.from(x);
  const r = seededRandom(seed);
  const at = [0, 1, y.length - 1, y.length - 2, CHUNK - 1, CHUNK, 2 * CHUNK + 3];
  for (let i = 0; i < 64; i++) at.push(Math.floor(r() * y.length));
  at.forEach((i, k) => {
    if (i >= 0 && i < y.length) y[i] = SPECIAL[k % SPECIAL.length]!;
  });
  return y;
}

const tensor = (data: Float32Array, dims = [data.length]): HostTensor => ({ type: 'float32', dims, data });

describe('tensor codecs: SIMD kernels against the definitions, through the codecs', () => {
  for (const [model, every] of [['lenet5', 1], ['resnet_like', 1], ['mixed_dtypes', 1], ['mobilenet_v2', 8]] as const) {
    it(`every cut tensor of ${model}${every > 1 ? ` (every ${every}th split point)` : ''}, as computed and with NaN/Inf/subnormals/-0 among its values`, async () => {
      const cuts = await cutTensors(model, every);
      let long = 0;
      for (const [name, t] of cuts) {
        await same(t, `${model} ${name}`);
        if (t.type !== 'float32') continue;
        const x = t.data as Float32Array;
        if (x.length >= SIMD_MIN) long++;
        await same({ ...t, data: withSpecials(x, x.length) }, `${model} ${name} with special values`);
      }
      if (model !== 'mixed_dtypes' && model !== 'lenet5') assert.ok(long > 0, `${model} has tensors long enough for the kernels`);
    });
  }

  it('odd lengths, empty tensors and views at every 4-byte offset, special values anywhere', async () => {
    const r = seededRandom(5);
    for (const n of [0, 1, SIMD_MIN - 1, SIMD_MIN, SIMD_MIN + 1, SIMD_MIN + 15, 4097, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 17]) {
      const backing = new Float32Array(n + 8);
      for (let i = 0; i < backing.length; i++) backing[i] = (r() - 0.4) * 10 ** Math.floor(r() * 10 - 6);
      for (const off of [0, 1, 2, 3]) {
        const x = new Float32Array(backing.buffer, 4 * off, n);
        await same(tensor(x), `length ${n} at element offset ${off}`);
        await same(tensor(withSpecials(x, n + off)), `length ${n} at element offset ${off} with special values`);
      }
    }
    // Per channel: channels long enough for the kernels, and too short for them.
    for (const dims of [[1, 3, 40, 40], [2, 5, 7, 9], [1, 64, 3, 3]]) {
      const x = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => r() * 4 - 1);
      await same(tensor(x, dims), `[${dims.join(', ')}]`);
    }
  });
});
