/**
 * threads-bench's figures: each round against the whole model timed just before and just after
 * it, so that a load that changes between rounds does not enter the ratios.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summariseSweeps, type Baseline } from '../../bench/threads-figures.js';

const b = (pausedMs: number, busyMs = pausedMs, defaultsMs = pausedMs): Baseline => ({ pausedMs, busyMs, defaultsMs });
/** Equal up to rounding (the median interpolates). */
const close = (actual: number | number[] | Record<string, number>, expected: typeof actual) => {
  const a = typeof actual === 'number' ? [actual] : Object.values(actual);
  const e = typeof expected === 'number' ? [expected] : Object.values(expected);
  assert.equal(a.length, e.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - e[i]!) < 1e-12, `${JSON.stringify(actual)} is not ${JSON.stringify(expected)}`));
};
/** A sweep of split points 0 (cloud only), the given middle ones and 90 (edge only). */
const sweep = (before: Baseline, after: Baseline, cloudOnly: number, middle: Record<number, number>, edgeOnly: number) => ({
  splits: [{ index: 0, partsMs: cloudOnly }, ...Object.entries(middle).map(([i, ms]) => ({ index: Number(i), partsMs: ms })), { index: 90, partsMs: edgeOnly }],
  before,
  after,
});

describe('threads-bench figures', () => {
  it('takes each sweep against the mean of the baselines around it, and a split point swept twice the median of the two', () => {
    // The machine twice as slow during the second sweep of split point 30: its parts and its baselines doubled.
    const s = summariseSweeps([sweep(b(10), b(10), 10, { 30: 11 }, 10), sweep(b(10), b(20), 20, { 30: 22 }, 20), sweep(b(20), b(20), 20, { 60: 26 }, 20)]);
    assert.deepEqual(s.splits.map((x) => x.index), [0, 30, 60, 90]);
    // Split point 30: 11 against 10 and 22 against 15.
    close(s.splits[1]!.ratio.pausedMs, (1.1 + 22 / 15) / 2);
    close(s.splits[1]!.partsMs, 16.5);
    close(s.splits[2]!.ratio.pausedMs, 1.3);
    // The ends: swept three times, 1, 20/15 and 1 against 10, 15 and 20.
    close(s.splits[0]!.ratio.pausedMs, 1);
    close(s.middleRatio.pausedMs, ((1.1 + 22 / 15) / 2 + 1.3) / 2);
    close(s.allRatio.pausedMs, (1 + (1.1 + 22 / 15) / 2) / 2);
    // Against their own ends split point 30 costs the same in both sweeps.
    close(s.splits[1]!.endsRatio, 1.1);
    close(s.endsRatio, (1.1 + 1.3) / 2);
  });

  it('gives each kind of baseline its own ratio', () => {
    const s = summariseSweeps([sweep(b(10, 8, 6), b(10, 8, 6), 8, { 20: 12, 40: 13 }, 8)]);
    close(s.middleRatio, { pausedMs: 1.25, busyMs: 12.5 / 8, defaultsMs: 12.5 / 6 });
    close(s.allRatio, { pausedMs: (0.8 + 1.2) / 2, busyMs: (1 + 1.5) / 2, defaultsMs: (8 / 6 + 2) / 2 });
    close(s.endsRatio, 12.5 / 8);
    assert.deepEqual(s.splits.map((x) => x.endsRatio), [1, 1.5, 1.625, 1]);
  });

  it('refuses sweeps without both ends, and sweeps of other ends', () => {
    assert.throws(() => summariseSweeps([{ splits: [{ index: 0, partsMs: 1 }], before: b(1), after: b(1) }]), /cover both ends/);
    assert.throws(() => summariseSweeps([sweep(b(1), b(1), 1, {}, 1), { ...sweep(b(1), b(1), 1, {}, 1), splits: [{ index: 0, partsMs: 1 }, { index: 80, partsMs: 1 }] }]), /same two ends/);
    assert.throws(() => summariseSweeps([]), /no sweeps/);
  });
});
