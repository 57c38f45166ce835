/**
 * The min-cut optimum equals the brute-force optimum over every predecessor-closed node set, for
 * random small DAGs, an Inception-like block and residual blocks under many random costs; it is
 * never worse than the best split point; so does the best cut that sends something to the cloud
 * (bestOffloadingCut) over the closed sets other than all nodes; on the Inception-like block it strictly beats every
 * split point with two of four branches on the edge.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { macsCutCosts } from '../../src/split/macs-costs.js';
import { bestOffloadingCut, evaluateCut, optimalCut, splitPointEdgeNodes, type CutCosts } from '../../src/split/min-cut.js';
import { analyze, zooSubject } from '../helpers.js';
import { Rng } from '../models/builder.js';
import { zoo } from '../models/zoo.js';
import { ancestors, closedSets, costByDefinition, inceptionBlock, isClosed, randomClosedSet, randomDag, residualBlocks, subjectOf } from './dags.js';

function randomCosts(a: ModelAnalysis, rng: Rng): CutCosts {
  const n = a.index.nodes.length;
  // Some nodes cost nothing on one side, so that ties and degenerate capacities occur.
  const draw = (hi: number) => Float64Array.from({ length: n }, () => (rng.next() < 0.15 ? 0 : rng.uniform(0, hi)));
  const perByte = rng.uniform(0, 0.2);
  const perTensor = rng.next() < 0.3 ? 0 : rng.uniform(0, 3);
  return { edgeMs: draw(10), cloudMs: draw(rng.uniform(0.5, 10)), transferMs: (b) => b * perByte + perTensor, fixedMs: rng.next() < 0.3 ? 0 : rng.uniform(0, 5) };
}

function checkAgainstBruteForce(a: ModelAnalysis, draws: number, seed: number): void {
  const sets = closedSets(a);
  const rng = new Rng(seed);
  for (let d = 0; d < draws; d++) {
    const costs = randomCosts(a, rng);
    const brute = Math.min(...sets.map((s) => costByDefinition(a, costs, s)));
    const r = optimalCut(a, costs);
    const what = `${a.model.label} draw ${d}`;
    assert.ok(isClosed(a.index, new Set(r.best.edgeNodes)), `${what}: the optimum is closed`);
    assert.ok(Math.abs(costByDefinition(a, costs, new Set(r.best.edgeNodes)) - r.best.totalMs) <= 1e-9 * Math.max(1, brute), `${what}: its reported cost is its cost`);
    assert.ok(Math.abs(r.best.totalMs - brute) <= 1e-9 * Math.max(1, brute), `${what}: min-cut ${r.best.totalMs} = brute force ${brute}`);
    const splits = a.splitPoints.map((p) => costByDefinition(a, costs, new Set(splitPointEdgeNodes(a.index, p))));
    assert.ok(Math.abs(r.bestSplit.cost.totalMs - Math.min(...splits)) <= 1e-9 * Math.max(1, brute), `${what}: best split point`);
    assert.ok(r.best.totalMs <= r.bestSplit.cost.totalMs + 1e-12, `${what}: never worse than the best split point`);
    assert.ok(Math.abs(r.savedMs - (r.bestSplit.cost.totalMs - r.best.totalMs)) <= 1e-9 * Math.max(1, brute));
    // The best cut that sends something to the cloud: the brute force over the other closed sets.
    const offloading = Math.min(...sets.filter((s) => s.size < a.index.dataNodes.length).map((s) => costByDefinition(a, costs, s)));
    const off = bestOffloadingCut(a, costs);
    assert.ok(off.edgeNodes.length < a.index.dataNodes.length && isClosed(a.index, new Set(off.edgeNodes)), `${what}: the offloading cut offloads and is closed`);
    assert.ok(Math.abs(off.totalMs - offloading) <= 1e-9 * Math.max(1, offloading), `${what}: offloading min-cut ${off.totalMs} = brute force ${offloading}`);
  }
}

describe('optimalCut', () => {
  it('equals the brute-force optimum over all closed node sets on random DAGs', async () => {
    let nonChain = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const a = await analyze(subjectOf(randomDag(seed, 4 + (seed % 9))));
      if (closedSets(a).length > a.index.dataNodes.length + 1) nonChain++;
      checkAgainstBruteForce(a, 20, seed);
    }
    assert.ok(nonChain >= 15, `most random graphs have cuts no split point makes (${nonChain} of 30)`);
  });

  it('equals the brute-force optimum on an Inception-like block and on residual blocks', async () => {
    for (const model of [inceptionBlock().model, residualBlocks()]) checkAgainstBruteForce(await analyze(subjectOf(model)), 150, 5);
  });

  it('strictly beats every split point with two of four Inception branches on the edge', async () => {
    const block = inceptionBlock();
    const a = await analyze(subjectOf(block.model));
    const { index } = a;
    const branch = block.branches.map((t) => ancestors(index, [index.producer.get(t)!]));
    // Branches 1 and 3 are cheap on the edge and dear in the cloud; the others the other way round.
    const edgeMs = new Float64Array(index.nodes.length).fill(100);
    const cloudMs = new Float64Array(index.nodes.length).fill(0);
    for (const b of [branch[0]!, branch[2]!]) for (const n of b) (edgeMs[n] = 0), (cloudMs[n] = 50);
    const costs: CutCosts = { edgeMs, cloudMs, transferMs: () => 1, fixedMs: 2 };
    const r = optimalCut(a, costs);
    const expected = index.dataNodes.filter((n) => branch[0]!.has(n) || branch[2]!.has(n));
    assert.deepEqual(r.best.edgeNodes, expected);
    // The input (for branches 2 and 4), the outputs of branches 1 and 3, the result, one request.
    assert.deepEqual(r.best.cutTensors, ['input', block.branches[0], block.branches[2]]);
    assert.deepEqual(r.best.returnedOutputs, ['output']);
    assert.equal(r.best.totalMs, 4 + 2);
    assert.equal(r.isSplitPoint, false);
    for (const p of a.splitPoints) assert.ok(evaluateCut(a, costs, splitPointEdgeNodes(index, p)).totalMs > r.best.totalMs, `split ${p.index} is worse`);
    assert.ok(r.savedMs > 0);
    assert.equal(r.bestSplit.cost.totalMs - r.best.totalMs, r.savedMs);
  });

  it('on zoo models is closed, never worse than a split point or a random closed set', async () => {
    for (const name of ['inception_like', 'resnet_like', 'two_outputs', 'constant_nodes', 'transformer_block']) {
      const a = await analyze(zooSubject(zoo.find((z) => z.name === name)!));
      const rng = new Rng(9);
      for (let d = 0; d < 10; d++) {
        const costs = randomCosts(a, rng);
        const r = optimalCut(a, costs);
        assert.ok(isClosed(a.index, new Set(r.best.edgeNodes)), `${name}: closed`);
        assert.ok(r.best.totalMs <= r.bestSplit.cost.totalMs + 1e-9);
        for (let k = 0; k < 30; k++) {
          const other = costByDefinition(a, costs, randomClosedSet(a.index, rng, rng.next() * 0.5));
          assert.ok(r.best.totalMs <= other + 1e-9 * Math.max(1, other), `${name}: a random closed set costs ${other} < ${r.best.totalMs}`);
        }
      }
    }
  });

  it('refuses costs that are negative or not numbers, naming them', async () => {
    const a = await analyze(subjectOf(residualBlocks()));
    const n = a.index.nodes.length;
    const ok = { edgeMs: new Float64Array(n), cloudMs: new Float64Array(n), transferMs: () => 0 };
    const first = a.index.dataNodes[0]!;
    const bad = new Float64Array(n);
    bad[first] = -1;
    assert.throws(() => optimalCut(a, { ...ok, edgeMs: bad }), new RegExp(`costs\\.edgeMs\\[${first}\\] must be a finite number >= 0, got -1`));
    assert.throws(() => optimalCut(a, { ...ok, cloudMs: [] }), /costs\.cloudMs\[\d+\] must be a finite number >= 0, got undefined/);
    assert.throws(() => optimalCut(a, { ...ok, transferMs: () => NaN }), /costs\.transferMs\(\d+\) for '.+' must be a finite number >= 0, got NaN/);
    assert.throws(() => optimalCut(a, { ...ok, fixedMs: -2 }), /costs\.fixedMs must be a finite number >= 0, got -2/);
  });
});

describe('macsCutCosts', () => {
  it('times nodes by their MACs, tensors by their bits over the link, a request by two round trips', async () => {
    const a = await analyze(subjectOf(residualBlocks()));
    const c = macsCutCosts(a, { edgeGmacs: 2, slowdown: 8, bandwidthMbit: 8, rttMs: 15 });
    const conv = a.index.dataNodes.find((n) => a.index.nodes[n]!.opType === 'Conv')!;
    // Conv: output elements x (input channels x kernel) = 4*6*6 x 4*3*3 MACs.
    assert.equal(a.costs.macs[conv], 144 * 36);
    assert.equal(c.edgeMs[conv], (144 * 36) / 2e6);
    assert.equal(c.cloudMs[conv], (144 * 36) / 2e6 / 8);
    assert.equal(c.transferMs(1e6), 1000, '1 MB at 8 Mbit/s');
    assert.equal(c.fixedMs, 30);
    assert.throws(() => macsCutCosts(a, { edgeGmacs: 0, slowdown: 8, bandwidthMbit: 8, rttMs: 0 }), /edgeGmacs must be a finite number > 0, got 0/);
    assert.throws(() => macsCutCosts(a, { edgeGmacs: 1, slowdown: 8, bandwidthMbit: 8, rttMs: -1 }), /rttMs must be a finite number >= 0, got -1/);
  });
});
