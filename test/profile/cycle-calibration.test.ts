/**
 * The cycle costs: which split points are calibrated on, the bounded line fit, the costs from the
 * rows of real cycles against the hot predictions, per side, and how predict applies them (to every
 * part, the edge-only split's included).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyRow, type Row } from '../../src/profile/columns.js';
import { CALIBRATION_FRACTIONS, calibrationPoints, cycleCosts, cycleWait, fitCycle, withCycleCosts } from '../../src/profile/cycle-calibration.js';
import { cycleTimes, withCycleWait } from '../../src/predict/predict.js';
import { NO_STORE_COSTS, type StoreCosts } from '../../src/predict/store-costs.js';
import { predictCompute } from '../../src/predict/model.js';
import { profileOf, zooAnalysis } from '../predict/dag-profile.js';

const FIXED = { run_call: 0.02, feed_per_mb: 0.1, fetch_per_mb: 0.3 };

function row(split: number, edge: number, cloud: number, status = 'ok'): Row {
  return Object.assign(emptyRow(), { split_index: split, edge_ms: edge, cloud_ms: cloud, status });
}

describe('cycle calibration', () => {
  for (const name of ['mobilenet_v2_like', 'inception_like', 'lenet5']) {
    it(`${name}: calibrates on the split points nearest a third and two thirds of the nodes, both sides running`, async () => {
      const a = await zooAnalysis(name);
      const m = a.index.dataNodes.length;
      const points = calibrationPoints(a);
      assert.equal(points.length, CALIBRATION_FRACTIONS.length);
      assert.equal(new Set(points.map((p) => p.index)).size, points.length);
      for (const p of points) assert.ok(p.position > 0 && p.position < m, `split ${p.index} at ${p.position} of ${m}`);
      const inner = a.splitPoints.filter((p) => p.position > 0 && p.position < m);
      CALIBRATION_FRACTIONS.forEach((f, i) => {
        const best = Math.min(...inner.map((p) => Math.abs(p.position - f * m)));
        assert.ok(Math.abs(points[i]!.position - f * m) <= best + 1, `${f}: split ${points[i]!.index}`);
      });
    });
  }

  it('fits cycle_ms + cycle_scale x hot by least squares, with cycle_ms >= 0 and cycle_scale >= 1', () => {
    const close = (f: { ms: number; scale: number }, ms: number, scale: number) => Math.abs(f.ms - ms) < 1e-9 && Math.abs(f.scale - scale) < 1e-9;
    const xs = [0.1, 0.3, 0.6];
    assert.ok(close(fitCycle(xs, xs.map((x) => 0.2 + 1.5 * x)), 0.2, 1.5), 'a line is found exactly');
    // Slower on small parts than the free fit allows (scale < 1): scale 1, ms the mean difference.
    const flat = [0.5, 0.55, 0.6];
    assert.ok(close(fitCycle(xs, flat), (0.4 + 0.25 + 0) / 3, 1), JSON.stringify(fitCycle(xs, flat)));
    // A negative intercept: ms 0, scale through the origin.
    const steep = xs.map((x) => 3 * x - 0.1);
    const onOrigin = xs.reduce((s, x, i) => s + x * steep[i]!, 0) / xs.reduce((s, x) => s + x * x, 0);
    assert.ok(close(fitCycle(xs, steep), 0, onOrigin));
    // Faster than hot everywhere: no cycle cost at all.
    assert.ok(close(fitCycle(xs, [0.05, 0.1, 0.2]), 0, 1));
    assert.ok(close(fitCycle([], []), 0, 1));
    assert.ok(close(fitCycle([0.2], [0.5]), 0.3, 1), 'one point: an offset');
  });

  it('fits each side on the medians of the ok rows per point, and predict applies it to every part', async () => {
    const a = await zooAnalysis('mobilenet_v2_like');
    const hot = profileOf(a, (n, side) => (side === 'edge' ? 0.01 : 0.005) * ((n % 3) + 1), FIXED);
    const compute = predictCompute(a, hot);
    const points = calibrationPoints(a);
    const line = { edge: [0.1, 2], cloud: [0.3, 1.25] } as const;
    const rows: Row[] = [];
    for (const p of points) {
      const c = compute[a.splitPoints.indexOf(p)]!;
      // The median of each point's rows is on the line; an error row would spoil it.
      for (const d of [-0.01, 0, 0.01]) rows.push(row(p.index, line.edge[0] + line.edge[1] * c.edge.ms + d, line.cloud[0] + line.cloud[1] * c.cloud.ms + d));
      rows.push(row(p.index, 100, 100, 'error'));
    }
    const cal = cycleCosts(a, hot, rows);
    assert.deepEqual(
      cal.points.map((p) => [p.split_index, p.cycles]),
      points.map((p) => [p.index, 3]),
    );
    for (const s of ['edge', 'cloud'] as const) {
      assert.ok(Math.abs(cal.cost[s].cycle_ms.medianMs - line[s][0]) < 1e-9 && Math.abs(cal.cost[s].cycle_scale.medianMs - line[s][1]) < 1e-9, `${s}: ${JSON.stringify(cal.cost[s])}`);
      assert.equal(cal.cost[s].cycle_ms.runs, 3 * points.length);
    }
    assert.deepEqual(cycleCosts(a, hot, []).cost.edge.cycle_scale, { medianMs: 1, p95Ms: 1, runs: 0 });

    const cycled = predictCompute(a, withCycleCosts(hot, cal.cost));
    const m = a.index.dataNodes.length;
    a.splitPoints.forEach((p, i) => {
      const h = compute[i]!;
      const c = cycled[i]!;
      const edge = p.position === 0 ? 0 : line.edge[0] + line.edge[1] * h.edge.ms;
      const cloud = p.position === m ? 0 : line.cloud[0] + line.cloud[1] * h.cloud.ms;
      assert.ok(Math.abs(c.edge.ms - edge) < 1e-9 && Math.abs(c.cloud.ms - cloud) < 1e-9, `split ${p.index}: ${c.edge.ms}/${c.cloud.ms} vs ${edge}/${cloud}`);
    });
  });

  it("measures the cloud's cycle wait: what the cycles' waits hold beyond the cloud's part, the store's costs and the link; predict adds it to every wait", async () => {
    const a = await zooAnalysis('mobilenet_v2_like');
    const hot = profileOf(a, () => 0.01, FIXED);
    const store: StoreCosts = { ...NO_STORE_COSTS, put: { fixedMs: 2, perMbMs: 5 }, get: { fixedMs: 1.5, perMbMs: 3 }, notifyMs: 0.1, decode: { fixedMs: 0.1, perMbMs: 0 }, encode: { fixedMs: 0.05, perMbMs: 0 } };
    const link = { bandwidthMbit: 50, rttMs: 20 };
    const [p] = calibrationPoints(a);
    const cycle = (extra: number, inputBytes: number, status = 'ok'): Row => {
      const rest = cycleTimes({ edgeMs: 0, cloudMs: 0, inputBytes, resultBytes: 288, edgeOnly: false }, store, link).wait_ms;
      return Object.assign(row(p!.index, 0.4, 0.9, status), { transfer_bytes: inputBytes, result_bytes: 288, wait_ms: rest + 0.9 + extra });
    };
    // The median of what the waits leave unexplained; error rows and cycles that sent nothing do not count.
    const rows = [cycle(1, 16_552), cycle(2, 100_000), cycle(4, 16_552), cycle(50, 16_552, 'error'), Object.assign(row(p!.index, 0.4, 0), { transfer_bytes: 0, wait_ms: 0 })];
    assert.deepEqual(cycleWait(rows, store, link), { ms: 2, cycles: 3 });
    const cal = cycleCosts(a, hot, rows, { costs: store, link });
    assert.deepEqual(cal.cost.cloud.cycle_wait_ms, { medianMs: 2, p95Ms: 2, runs: 3 });
    assert.equal(cycleCosts(a, hot, rows).cost.cloud.cycle_wait_ms, undefined, 'no store costs: none');
    // Waits shorter than their parts explain give no negative cost.
    assert.equal(cycleWait([cycle(-1, 16_552)], store, link).ms, 0);

    const profile = withCycleCosts(hot, cal.cost);
    const facts = { edgeMs: 0.4, cloudMs: 0.9, inputBytes: 16_552, resultBytes: 288, edgeOnly: false };
    const plain = cycleTimes(facts, store, link);
    const waited = cycleTimes(facts, withCycleWait(store, profile), link);
    assert.ok(Math.abs(waited.wait_ms - plain.wait_ms - 2) < 1e-9 && Math.abs(waited.total_ms - plain.total_ms - 2) < 1e-9);
    assert.equal(withCycleWait(store, hot), store, 'a profile without a cycle wait changes nothing');
  });
});
