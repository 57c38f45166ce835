/**
 * The cycle costs: which split points are calibrated on, what the cost is from the rows of real
 * cycles (measured part time less its hot prediction, per side), and how predict adds it (every
 * part in a cycle, not the edge-only split, whose cycles run back to back).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyRow, type Row } from '../../src/profile/columns.js';
import { CALIBRATION_FRACTIONS, calibrationPoints, cycleCosts, withCycleCosts } from '../../src/profile/cycle-calibration.js';
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

  it('is per side the median over the points of measured less predicted (ok rows only, never below 0), and predict adds it to every part in a cycle', async () => {
    const a = await zooAnalysis('mobilenet_v2_like');
    const hot = profileOf(a, (n, side) => (side === 'edge' ? 0.01 : 0.005) * ((n % 3) + 1), FIXED);
    const compute = predictCompute(a, hot);
    const [p1, p2] = calibrationPoints(a);
    const at = (p: typeof p1) => compute[a.splitPoints.indexOf(p!)]!;
    const extra = { edge: [0.2, 0.3], cloud: [0.25, 0.45] };
    const rows: Row[] = [];
    [p1!, p2!].forEach((p, i) => {
      const c = at(p);
      // The median of each point's rows is the prediction plus its extra; an error row would spoil it.
      for (const d of [-0.01, 0, 0.01]) rows.push(row(p.index, c.edge.ms + extra.edge[i]! + d, c.cloud.ms + extra.cloud[i]! + d));
      rows.push(row(p.index, 100, 100, 'error'));
    });
    const cal = cycleCosts(a, hot, rows);
    assert.deepEqual(
      cal.points.map((p) => [p.split_index, p.cycles]),
      [
        [p1!.index, 3],
        [p2!.index, 3],
      ],
    );
    assert.ok(Math.abs(cal.cost.edge.medianMs - 0.25) < 1e-9, `edge ${cal.cost.edge.medianMs}`);
    assert.ok(Math.abs(cal.cost.cloud.medianMs - 0.35) < 1e-9, `cloud ${cal.cost.cloud.medianMs}`);
    assert.ok(Math.abs(cal.cost.cloud.p95Ms - 0.45) < 1e-9);
    assert.equal(cal.cost.edge.runs, 6);

    const below = cycleCosts(a, hot, [row(p1!.index, 0, 0)]);
    assert.deepEqual([below.cost.edge.medianMs, below.cost.cloud.medianMs], [0, 0]);
    assert.deepEqual(cycleCosts(a, hot, []).cost.edge, { medianMs: 0, p95Ms: 0, runs: 0 });

    const cycled = predictCompute(a, withCycleCosts(hot, cal.cost));
    const m = a.index.dataNodes.length;
    a.splitPoints.forEach((p, i) => {
      const h = compute[i]!;
      const c = cycled[i]!;
      const edge = p.position === 0 ? 0 : h.edge.ms + (p.position < m ? cal.cost.edge.medianMs : 0);
      const cloud = p.position === m ? 0 : h.cloud.ms + cal.cost.cloud.medianMs;
      assert.ok(Math.abs(c.edge.ms - edge) < 1e-9 && Math.abs(c.cloud.ms - cloud) < 1e-9, `split ${p.index}: ${c.edge.ms}/${c.cloud.ms} vs ${edge}/${cloud}`);
    });
  });
});
