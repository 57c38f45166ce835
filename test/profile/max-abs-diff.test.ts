/**
 * maxAbsDiff, the max_abs_diff column: equal infinities are equal (a model whose output overflows
 * is reproduced exactly by its split), a NaN only matches a NaN, and types or shapes that differ
 * are an infinite difference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxAbsDiff } from '../../src/profile/sweep.js';

const f32 = (...v: number[]) => ({ type: 'float32', dims: [v.length], data: Float32Array.from(v) });

describe('maxAbsDiff', () => {
  it('equal infinities and NaNs are no difference; the largest finite difference counts', () => {
    assert.equal(maxAbsDiff(f32(Infinity, -Infinity, NaN, 1), f32(Infinity, -Infinity, NaN, 1.5)), 0.5);
  });

  it('an infinity against another value, or a NaN against a number, is an infinite difference', () => {
    assert.equal(maxAbsDiff(f32(Infinity), f32(-Infinity)), Infinity);
    assert.equal(maxAbsDiff(f32(Infinity), f32(3)), Infinity);
    assert.equal(maxAbsDiff(f32(NaN), f32(3)), Infinity);
  });

  it('another shape or type, or a missing tensor, is an infinite difference', () => {
    assert.equal(maxAbsDiff(f32(1, 2), { ...f32(1, 2), dims: [2, 1] }), Infinity);
    assert.equal(maxAbsDiff({ type: 'int32', dims: [1], data: Int32Array.of(1) }, f32(1)), Infinity);
    assert.equal(maxAbsDiff(undefined, f32(1)), Infinity);
  });
});
