/**
 * Every split point of every test model: the parts, run in order, reproduce the full model's
 * outputs exactly (graph optimisation disabled), and transfer_bytes equals the bytes of the
 * tensors handed from the edge part to the cloud part.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChain } from '../../src/runtime/chain.js';
import { createSession } from '../../src/runtime/ort.js';
import { hostTensorBytes } from '../../src/tensor/host.js';
import { buildParts } from '../../src/split/split.js';
import { analyze, assertSameTensor, feedsFor, partSession, realSubject, zooSubject, type TestSubject } from '../helpers.js';
import { realModels, zoo } from '../models/zoo.js';

async function checkAllSplits(subject: TestSubject, opts: { relTol?: number; optimized?: boolean } = {}): Promise<number> {
  const a = await analyze(subject);
  const feeds = feedsFor(a);
  const level = opts.optimized ? 'all' : 'disabled';
  const full = await createSession(a.model.bytes, { graphOptimizationLevel: level });
  const expected = await full.run(feeds);
  await full.release();
  assert.ok(a.splitPoints.length >= 2, 'at least the two extremes');
  assert.equal(a.splitPoints[0]!.position, 0);
  assert.equal(a.splitPoints.at(-1)!.position, a.index.dataNodes.length);
  assert.equal(a.splitPoints.at(-1)!.transferBytes, 0, 'edge only moves nothing');
  for (const point of a.splitPoints) {
    const parts = buildParts(a, [point.position]);
    const sessions = await Promise.all(parts.map((p) => partSession(p, { graphOptimizationLevel: level })));
    try {
      const { tensors: pool } = await runChain(sessions, feeds);
      for (const name of a.index.outputs) {
        assertSameTensor(pool.get(name), expected[name]!, `${subject.name} split ${point.index} (${point.splitLayer}) output ${name}`, opts.relTol ?? 0);
      }
      // What the cloud part reads from the edge is exactly the cut set, and its bytes are transfer_bytes.
      const cloud = parts.find((p) => p.plan.number === 2);
      const handed = cloud ? cloud.plan.inputs : [];
      assert.deepEqual([...handed].sort(), point.cutTensors.map((t) => t.name).sort(), `${subject.name} split ${point.index}: cut set`);
      const measured = handed.reduce((s, n) => s + hostTensorBytes(pool.get(n)!), 0);
      assert.equal(point.transferBytes, measured, `${subject.name} split ${point.index}: transfer bytes`);
      for (const t of point.cutTensors) assert.deepEqual(t.shape, [...pool.get(t.name)!.dims], `${t.name} shape`);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }
  return a.splitPoints.length;
}

describe('every split point reproduces the full model', () => {
  for (const z of zoo) {
    it(z.name, async () => {
      const n = await checkAllSplits(zooSubject(z));
      assert.ok(n > 2);
    });
  }
  for (const r of realModels) {
    it(r.name, async () => {
      const n = await checkAllSplits(await realSubject(r));
      assert.ok(n > 2);
    });
  }
  it('with graph optimisation on, outputs agree within 1e-5 (resnet_like)', async () => {
    await checkAllSplits(zooSubject(zoo.find((z) => z.name === 'resnet_like')!), { optimized: true, relTol: 1e-5 });
  });
});
