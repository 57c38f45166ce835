/**
 * The DAG optimum's costs follow recommend's prediction: at every split point the min-cut's
 * evaluation of its cut and predict's total_ms agree up to the payload envelope's fit; on a chain
 * the optimum is the best split point.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cycleScale, type LayerProfile } from '../../src/profile/layer-profile.js';
import { withCycleCosts } from '../../src/profile/cycle-calibration.js';
import { dagCutCosts, dagOptimum, payloadEnvelope } from '../../src/predict/dag.js';
import { wireMs, type Link } from '../../src/predict/link.js';
import { wireBytes } from '../../src/predict/payload-size.js';
import { predictRows, splitFacts } from '../../src/predict/predict.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { evaluateCut, splitPointEdgeNodes } from '../../src/split/min-cut.js';
import { profileOf, STORE, zooAnalysis } from './dag-profile.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
}

/**
 * What the min-cut's evaluation of a split point adds to predict's total, exactly: the payloads'
 * bytes as the envelope fit models them less their exact size, at the payload's per-byte cost;
 * at the cloud-only split the edge's fetch per MB on the model inputs it sends (tensor costs are
 * by bytes only, and other cut tensors are fetched from the edge part); and on each model output
 * the cloud returns, the cloud's feed and the edge's fetch per MB charged in place of the cloud's
 * fetch per MB (the per-MB costs scaled by their side's cycle scale).
 */
function expectedDifference(a: ModelAnalysis, p: LayerProfile, link: Link, position: number, cut: { cutTensors: string[]; returnedOutputs: string[] }, wire: { input: number; result: number }): number {
  if (position === a.index.dataNodes.length) return 0;
  const env = payloadEnvelope(a);
  const bytes = (t: string) => a.shapes.get(t)!.bytes;
  const tensors = [...cut.cutTensors, ...cut.returnedOutputs];
  const modelled = env.fixedBytes + tensors.reduce((s, t) => s + bytes(t) + env.perTensorBytes, 0);
  const perByte = (STORE.encode.perMbMs + STORE.put.perMbMs + STORE.get.perMbMs + STORE.decode.perMbMs) / 1e6 + wireMs(1, link);
  const f = (side: 'edge' | 'cloud', k: 'feed_per_mb' | 'fetch_per_mb') => (cycleScale(p, side) * p.fixed[side][k].medianMs) / 1e6;
  let d = perByte * (modelled - wire.input - wire.result);
  if (position === 0) d += f('edge', 'fetch_per_mb') * a.index.inputs.reduce((s, t) => s + bytes(t), 0);
  for (const o of cut.returnedOutputs) d += (f('cloud', 'feed_per_mb') + f('edge', 'fetch_per_mb') - f('cloud', 'fetch_per_mb')) * bytes(o);
  return d;
}

const EDGE_FIXED = { run_call: 0.3, feed_per_mb: 0.7, fetch_per_mb: 0.9 };
const CLOUD_FIXED = { run_call: 0.2, feed_per_mb: 0.4, fetch_per_mb: 1.3 };

describe('the DAG optimum from a profile', () => {
  for (const name of ['lenet5', 'inception_like', 'resnet_like', 'two_outputs']) {
    it(`${name}: evaluates every split point as predict does, up to the exact difference of the bytes-only tensor costs`, async () => {
      const a = await zooAnalysis(name);
      const rnd = seeded(7);
      const t = new Map(a.index.dataNodes.map((n) => [n, [rnd() * 3, rnd()]]));
      const hot = profileOf(a, (n, side) => t.get(n)![side === 'edge' ? 0 : 1]!, EDGE_FIXED, CLOUD_FIXED);
      // Without cycle costs (a profile written before them) and with them.
      const c = (v: number) => ({ medianMs: v, p95Ms: v, runs: 16 });
      const cycled = withCycleCosts(hot, { edge: { cycle_ms: c(0.25), cycle_scale: c(1.5) }, cloud: { cycle_ms: c(0.35), cycle_scale: c(2.25) } });
      // And with the edge-only split's own scale: the min-cut's edge-only cut costs what predict says.
      const alone = withCycleCosts(hot, { edge: { cycle_ms: c(0.25), cycle_scale: c(1.5), edge_only_scale: c(1.125) }, cloud: { cycle_ms: c(0.35), cycle_scale: c(2.25) } });
      for (const [p, link] of [hot, cycled, alone].flatMap((q) => ([{ bandwidthMbit: 5, rttMs: 20 }, { bandwidthMbit: 500, rttMs: 2 }, { rttMs: 0 }] as Link[]).map((l) => [q, l] as const))) {
        const facts = splitFacts(a, p);
        const costs = dagCutCosts(a, p, STORE, link);
        const rows = predictRows(facts, STORE, link);
        let worst = 0;
        a.splitPoints.forEach((sp, i) => {
          const e = evaluateCut(a, costs, splitPointEdgeNodes(a.index, sp));
          const d = expectedDifference(a, p, link, sp.position, e, wireBytes(a, sp));
          assert.ok(Math.abs(e.totalMs - rows[i]!.total_ms - d) < 1e-9, `${name} split ${sp.index} at ${JSON.stringify(link)}: ${e.totalMs} vs predicted ${rows[i]!.total_ms} + ${d}`);
          worst = Math.max(worst, Math.abs(d));
        });
        assert.ok(worst < 0.1, `${name}: the difference stays under 0.1 ms (${worst})`);
      }
    });
  }

  it('lenet5 (a chain): the optimum is the best split point', async () => {
    const a = await zooAnalysis('lenet5');
    const rnd = seeded(11);
    const t = new Map(a.index.dataNodes.map((n) => [n, [rnd() * 3, rnd()]]));
    const p = profileOf(a, (n, side) => t.get(n)![side === 'edge' ? 0 : 1]!, EDGE_FIXED, CLOUD_FIXED);
    for (const bw of [1, 10, 100, 1000]) {
      const d = dagOptimum(a, p, STORE, { bandwidthMbit: bw, rttMs: 5 });
      assert.equal(d.is_split_point, true, `${bw} Mbit/s`);
      assert.equal(d.saved_ms, 0);
      assert.equal(d.total_ms, d.best_split_total_ms);
      const sp = a.splitPoints.find((x) => x.index === d.best_split_index)!;
      assert.equal(d.edge_nodes, sp.position);
    }
  });
});
