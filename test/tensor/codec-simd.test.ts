/**
 * The WebAssembly SIMD kernels of fp16 and int8 give exactly what the element-by-element
 * definitions give: every half, float32 bits across the whole range (every exponent, with
 * mantissas around each rounding boundary), ranges with NaN and Inf anywhere, and int8 bytes and
 * values at lengths around the kernels' step and chunk sizes, from any offset, with float64 and
 * float32 scales.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { halfBits } from '../../src/tensor/codecs/index.js';
import { dequantiseScalar, finiteRangeScalar, quantiseRange, quantiseScalar } from '../../src/tensor/codecs/int8.js';
import { SIMD_MIN, simdBfloats, simdDequantise, simdFloats, simdFromBfloats, simdHalves, simdQuantise, simdRange, useSimd } from '../../src/tensor/codecs/simd/index.js';
import { CHUNK, simdKernels } from '../../src/tensor/codecs/simd/kernels.js';
import { bf16 } from '../../src/tensor/codecs/bf16.js';
import { fp16 } from '../../src/tensor/codecs/fp16.js';
import { seededRandom } from '../../src/tensor/host.js';

const LENGTHS = [1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5];

function values(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() - 0.3) * 10 ** Math.floor(r() * 8 - 4);
  return x;
}

describe('tensor codecs: SIMD kernels', () => {
  it('compile in this runtime', () => {
    assert.ok(simdKernels(), 'WebAssembly SIMD kernels did not compile');
  });

  /** float32 bits of every exponent and sign, with mantissas around every rounding boundary of fp16 and bf16, and random bits. */
  function boundaryBits(): Int32Array {
    const bits: number[] = [];
    for (let se = 0; se < 512; se++) {
      for (const m of [0, 1, 2, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000, 0x18000, 0x7fffff, 0x7ff000, 0x7fefff, 0x7f8000, 0x7f7fff, 0x400000, 0x3fffff, 0x555555]) bits.push(((se << 23) | m) | 0);
      // Every shift a subnormal half uses: the rounding bits of each.
      for (let k = 0; k < 24; k++) bits.push(((se << 23) | (1 << k)) | 0, ((se << 23) | ((1 << k) - 1)) | 0, ((se << 23) | (3 << k >> 1)) | 0);
    }
    const r = seededRandom(11);
    for (let i = 0; i < 200_000; i++) bits.push((r() * 2 ** 32) | 0);
    return Int32Array.from(bits);
  }

  it('fp16: float32 bits of every exponent and sign, mantissas around every rounding boundary, as halfBits', () => {
    const input = boundaryBits();
    const out = new Uint16Array(input.length);
    assert.ok(simdHalves(input, out));
    input.forEach((f, i) => {
      if (out[i] !== halfBits(f)) assert.fail(`float32 bits 0x${(f >>> 0).toString(16)}: 0x${out[i]!.toString(16)}, halfBits 0x${halfBits(f).toString(16)}`);
    });
  });

  it('bf16: float32 bits of every exponent and sign, mantissas around every rounding boundary, as the element-by-element narrowing', async () => {
    const input = boundaryBits();
    const out = new Uint16Array(input.length);
    assert.ok(simdBfloats(input, out));
    useSimd(false);
    try {
      const slow = new Uint16Array((await bf16.encode({ type: 'float32', dims: [input.length], data: new Float32Array(input.buffer) }))!.body.slice().buffer);
      input.forEach((f, i) => {
        if (out[i] !== slow[i]) assert.fail(`float32 bits 0x${(f >>> 0).toString(16)}: 0x${out[i]!.toString(16)}, definition 0x${slow[i]!.toString(16)}`);
      });
    } finally {
      useSimd(true);
    }
  });

  it('bf16: every bfloat16 widens to its bits shifted up', () => {
    const b = new Uint16Array(65536).map((_, i) => i);
    const out = new Int32Array(65536);
    assert.ok(simdFromBfloats(b, out));
    out.forEach((f, i) => assert.equal(f, i << 16));
  });

  it('fp16: every half widens to the float32 bits the table gives', async () => {
    const halves = new Uint16Array(65536).map((_, i) => i);
    const fast = new Int32Array(65536);
    assert.ok(simdFloats(halves, fast));
    useSimd(false);
    try {
      const coded = { codec: 'fp16', body: new Uint8Array(halves.buffer) };
      const slow = new Int32Array(((await fp16.decode(coded, 'float32', [65536])).data as Float32Array).buffer);
      assert.deepEqual(fast, slow);
    } finally {
      useSimd(true);
    }
  });

  it('fp16 and bf16: both directions as the definitions at lengths around the chunk size, from odd element offsets', async () => {
    // The definitions: halfBits, the codec's table widening (kernels off), bf16's narrowing and shift.
    const everyHalf = new Uint16Array(65536).map((_, i) => i);
    useSimd(false);
    const widened = new Int32Array(((await fp16.decode({ codec: 'fp16', body: new Uint8Array(everyHalf.buffer) }, 'float32', [65536])).data as Float32Array).buffer);
    useSimd(true);
    const bfloat = (f: number): number => ((f & 0x7fffffff) > 0x7f800000 ? (f >>> 16) | 0x40 : ((f >>> 0) + 0x7fff + ((f >>> 16) & 1)) >>> 16);
    const r = seededRandom(5);
    const pool = new Int32Array(2 * CHUNK + 64).map(() => (r() * 2 ** 32) | 0);
    const halves = new Uint16Array(2 * CHUNK + 64).map(() => (r() * 65536) >>> 0);
    for (const n of LENGTHS) {
      for (const from of [0, 1, 3, 5]) {
        if (from + n > pool.length) continue;
        const bits = pool.subarray(from, from + n);
        const h = new Uint16Array(n + from).subarray(from);
        assert.ok(simdHalves(bits, h));
        for (let i = 0; i < n; i++) if (h[i] !== halfBits(bits[i]!)) assert.fail(`fp16 of ${n} from ${from}, element ${i}: 0x${h[i]!.toString(16)}, halfBits 0x${halfBits(bits[i]!).toString(16)}`);
        assert.ok(simdBfloats(bits, h));
        for (let i = 0; i < n; i++) if (h[i] !== bfloat(bits[i]!)) assert.fail(`bf16 of ${n} from ${from}, element ${i}`);
        const src = halves.subarray(from, from + n);
        const f = new Int32Array(n + from).subarray(from);
        assert.ok(simdFloats(src, f));
        for (let i = 0; i < n; i++) if (f[i] !== widened[src[i]!]) assert.fail(`fp16 widening of ${n} from ${from}, element ${i}`);
        assert.ok(simdFromBfloats(src, f));
        for (let i = 0; i < n; i++) if (f[i] !== src[i]! << 16) assert.fail(`bf16 widening of ${n} from ${from}, element ${i}`);
        // Nothing is written before or after the elements.
        const guard = new Uint16Array(n + 2 * 8).fill(0xabcd);
        assert.ok(simdHalves(bits, guard.subarray(8, 8 + n)));
        assert.ok(guard.subarray(0, 8).every((v) => v === 0xabcd) && guard.subarray(8 + n).every((v) => v === 0xabcd), `fp16 of ${n} from ${from} wrote outside its elements`);
      }
    }
  });

  it('int8: range, bytes and values as the definitions at every length and offset', () => {
    for (const n of LENGTHS) {
      const x = values(n, n);
      for (const from of [0, 1, 3, 5]) {
        if (from >= n) continue;
        const want = finiteRangeScalar(x, from, n)!;
        const got = simdRange(x, from, n);
        assert.ok(got !== false && got !== undefined, `range of ${n} from ${from}`);
        assert.ok(Object.is(got.lo, want.lo) && Object.is(got.hi, want.hi), `range of ${n} from ${from}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
        const { scale, zeroPoint } = quantiseRange(want.lo, want.hi);
        const a = new Uint8Array(n + 2);
        const b = new Uint8Array(n + 2);
        quantiseScalar(x, from, n, a, 1 / scale, zeroPoint);
        assert.ok(simdQuantise(x, from, n, b, 1 / scale, zeroPoint));
        assert.deepEqual(b, a, `bytes of ${n} from ${from}`);
        const u = new Float32Array(n);
        const v = new Float32Array(n);
        dequantiseScalar(a, u, zeroPoint, scale, from, n);
        assert.ok(simdDequantise(a, v, zeroPoint, scale, from, n));
        assert.deepEqual(new Int32Array(v.buffer), new Int32Array(u.buffer), `values of ${n} from ${from}`);
      }
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, n - 1, n >> 1]) {
          const y = Float32Array.from(x);
          y[at] = bad;
          assert.equal(simdRange(y, 0, n), undefined, `${bad} at ${at} of ${n}`);
        }
      }
    }
  });

  it('int8: values of float32 scales (the float32 kernel) as the definition, with products that are subnormal, exact, or overflow to Inf', () => {
    const r = seededRandom(9);
    const q = new Uint8Array(2 * CHUNK + 37).map(() => (r() * 256) | 0);
    q[0] = 0;
    q[1] = 255;
    for (const scale of [Math.fround(0.1), Math.fround(1 / 255), 1, 2 ** -149, Math.fround(3e-39), Math.fround(1e-30), Math.fround(3.3e38), Math.fround(1.7e37), Math.fround(r())]) {
      for (const zeroPoint of [0, 1, 128, 255]) {
        for (const n of [SIMD_MIN, 1000, q.length]) {
          const u = new Float32Array(n);
          const v = new Float32Array(n);
          dequantiseScalar(q, u, zeroPoint, scale, 0, n);
          assert.ok(simdDequantise(q, v, zeroPoint, scale, 0, n));
          assert.deepEqual(new Int32Array(v.buffer), new Int32Array(u.buffer), `scale ${scale}, zero point ${zeroPoint}, ${n} values`);
        }
      }
    }
  });

  it('int8: an all-zero span has range +0..0, as the definition', () => {
    const x = new Float32Array(1000);
    x[10] = -0;
    const got = simdRange(x, 0, 1000);
    assert.ok(got);
    assert.ok(Object.is(got.lo, 0) && Object.is(got.hi, 0));
  });
});
