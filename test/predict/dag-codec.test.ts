/**
 * The DAG optimum with tensor codecs: a codec's bytes per tensor are the bytes its encoder
 * really writes (exactly for the casts and int8, per tensor or per channel; lossless ones from the
 * profile's own payloads), and on small graphs the min-cut answer with a codec equals the brute
 * force over every predecessor-closed node set, for each codec, and the best cut x codec over
 * several codecs is the least of them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../src/config/defaults.js';
import type { DagOptimum } from '../../src/predict/dag.js';
import { writeProfile } from '../../src/profile/layer-profile.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { cli } from '../cli-helper.js';
import { tensorCodecCost } from '../../src/predict/dag-codec.js';
import { dagCutCosts, dagOptimum, payloadEnvelope } from '../../src/predict/dag.js';
import { profileCodecs, type CodecProfile } from '../../src/profile/codec-profile.js';
import type { LayerProfile } from '../../src/profile/layer-profile.js';
import { createSession } from '../../src/runtime/ort.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { optimalCut } from '../../src/split/min-cut.js';
import { encodeTensors } from '../../src/tensor/codecs/index.js';
import { analyze, feedsFor, tempDirs, writeZooModel, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';
import { Rng } from '../models/builder.js';
import { closedSets, costByDefinition, inceptionBlock, randomDag, residualBlocks, subjectOf } from '../split/dags.js';
import { profileOf, STORE } from './dag-profile.js';
import { cutTensors } from '../tensor/cut-tensors.js';

const tempDir = tempDirs();
const CODECS = ['fp16', 'bf16', 'int8', 'int8:axis=1', 'deflate', 'zstd'];
const FIXED = { run_call: 0.3, feed_per_mb: 0.7, fetch_per_mb: 0.9 };

/** Codec speeds drawn at random, and lossless payloads of every split point at a random ratio each. */
function randomCodecs(a: ModelAnalysis, rng: Rng): CodecProfile {
  const cost = () => ({ callMs: rng.uniform(0, 0.5), perMbMs: rng.uniform(0, 2000) });
  const speed = Object.fromEntries(CODECS.map((c) => [c, { encode: cost(), decode: cost(), tensors: 1, runs: 1 }]));
  const wire: CodecProfile['wire'] = {};
  for (const p of a.splitPoints) {
    const numeric = p.cutTensors.filter((t) => a.shapes.get(t.name)!.elemType !== 8);
    const raw = numeric.reduce((s, t) => s + t.bytes, 0);
    const input = p.transferBytes + 200;
    wire[p.index] = Object.fromEntries(['deflate', 'zstd'].map((c) => [c, { wireBytes: input - raw + Math.round(raw * rng.uniform(0.2, 1.1)), codedTensorBytes: raw, codedTensors: numeric.length }]));
  }
  return { speed, wire };
}

/** How often the optimum sends tensors (with a codec), and how often a codec other than raw wins. */
const seen = { offloaded: 0, coded: 0, draws: 0 };

function check(a: ModelAnalysis, draws: number, seed: number): void {
  const sets = closedSets(a);
  const rng = new Rng(seed);
  const envelope = payloadEnvelope(a);
  for (let d = 0; d < draws; d++) {
    const t = new Map(a.index.dataNodes.map((n) => [n, [rng.uniform(0, 20), rng.uniform(0, 2)]]));
    const p: LayerProfile = { ...profileOf(a, (n, side) => t.get(n)![side === 'edge' ? 0 : 1]!, FIXED), codecs: randomCodecs(a, rng) };
    const link = { bandwidthMbit: rng.uniform(0.02, 2), rttMs: rng.uniform(0, 2) };
    let least = { total: Infinity, codec: '' };
    for (const codec of ['raw', ...CODECS]) {
      const costs = dagCutCosts(a, p, STORE, link, envelope, codec);
      const brute = Math.min(...sets.map((s) => costByDefinition(a, costs, s)));
      const r = optimalCut(a, costs);
      const what = `${a.model.label} draw ${d} ${codec}`;
      assert.ok(Math.abs(costByDefinition(a, costs, new Set(r.best.edgeNodes)) - r.best.totalMs) <= 1e-9 * Math.max(1, brute), `${what}: its reported cost is its cost`);
      assert.ok(Math.abs(r.best.totalMs - brute) <= 1e-9 * Math.max(1, brute), `${what}: min-cut ${r.best.totalMs} = brute force ${brute}`);
      if (brute < least.total) least = { total: brute, codec };
      if (codec !== 'raw' && r.best.cutTensors.some((x) => costs.transferMs(a.shapes.get(x)!.bytes, x) !== costs.transferMs(a.shapes.get(x)!.bytes))) seen.offloaded++;
    }
    seen.draws++;
    if (least.codec !== 'raw') seen.coded++;
    const all = dagOptimum(a, p, STORE, link, envelope, ['raw', ...CODECS]);
    assert.ok(Math.abs(all.total_ms - least.total) <= 1e-9 * Math.max(1, least.total), `${a.model.label} draw ${d}: the best cut x codec ${all.total_ms} = ${least.total}`);
    const one = dagOptimum(a, p, STORE, link, envelope, [all.tensor_codec]);
    assert.ok(Math.abs(one.total_ms - all.total_ms) <= 1e-9 * Math.max(1, least.total), `${a.model.label} draw ${d}: the codec named is the one that gives it`);
  }
}

describe('the DAG optimum with tensor codecs', () => {
  it('equals the brute force over all closed node sets with each codec, and picks the best cut x codec, on small graphs', async () => {
    for (let seed = 1; seed <= 10; seed++) check(await analyze(subjectOf(randomDag(seed, 4 + (seed % 9)))), 4, seed);
    for (const model of [inceptionBlock().model, residualBlocks()]) check(await analyze(subjectOf(model)), 10, 3);
    assert.ok(seen.offloaded > seen.draws, `optima that send coded tensors (${seen.offloaded} of ${seen.draws * CODECS.length})`);
    assert.ok(seen.coded > seen.draws / 4 && seen.coded < seen.draws, `a codec wins in some draws, raw in others (${seen.coded} of ${seen.draws})`);
  });

  it("charges each codec the bytes its encoder writes for every cut tensor of a real model", async () => {
    const a = await analyze(zooSubject(zoo.find((z) => z.name === 'resnet_like')!));
    const codecs = await profileCodecs(a, feedsFor(a), createSession, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 }, 1);
    const p: LayerProfile = { ...profileOf(a, () => 1, FIXED), codecs };
    const tensors = await cutTensors('resnet_like');
    let sole = 0;
    for (const codec of CODECS) {
      const cost = tensorCodecCost(a, p, codec);
      for (const [key, t] of tensors) {
        const name = key.slice(key.indexOf(':') + 1);
        const e = await encodeTensors(new Map([[name, t]]), codec);
        const body = e.coded.get(name)?.body.byteLength;
        const got = cost.codedBytes(name);
        if (codec !== 'deflate' && codec !== 'zstd') {
          assert.equal(got, body, `${codec} ${key}: the bytes the encoder writes`);
          continue;
        }
        // A split point's only cut tensor: its own size, up to the encoding's few bytes of codec name and check.
        const point = a.splitPoints.find((sp) => sp.cutTensors.length === 1 && sp.cutTensors[0]!.name === name);
        if (point && body !== undefined) {
          assert.ok(Math.abs(got! - body) <= 32, `${codec} ${key}: ${got} vs ${body} written`);
          sole++;
        }
      }
    }
    assert.ok(sole > 4, `lossless sizes checked on tensors cut alone (${sole})`);
  });

  it('recommend --tensor_codec reports the best cut x codec and names the codec', async () => {
    const dir = await tempDir('dag-codec');
    const file = writeZooModel('lenet5', dir);
    const a = await analyzeFile(file, { createSession });
    const codecs = await profileCodecs(a, randomInputs(a, DEFAULTS.seed), createSession, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 }, 1);
    // The edge is slow, the cloud fast, the codecs cheap: at 1 Mbit/s the bytes decide.
    const cheap = { callMs: 0.01, perMbMs: 1 };
    const p: LayerProfile = { ...profileOf(a, (_, side) => (side === 'edge' ? 20 : 0.01), FIXED), codecs: { ...codecs, speed: Object.fromEntries(Object.keys(codecs.speed).map((c) => [c, { encode: cheap, decode: cheap, tensors: 1, runs: 1 }])) } };
    const profile = join(dir, 'lenet5.profile.csv');
    await writeProfile(profile, p);
    const r = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--tensor_codec', 'raw', 'fp16', 'int8', '--bandwidth', '1', '--rtt', '2', '--json']);
    assert.equal(r.code, 0, r.err);
    const d = (JSON.parse(r.out) as { dag: DagOptimum }).dag;
    assert.equal(d.tensor_codec, 'int8', 'the fewest bytes win on a slow link');
    assert.equal(d.cut_wire_bytes, d.cut_bytes / 4);
    const raw = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--bandwidth', '1', '--rtt', '2', '--json']);
    assert.equal(raw.code, 0, raw.err);
    const rd = (JSON.parse(raw.out) as { dag: DagOptimum }).dag;
    assert.equal(rd.tensor_codec, 'raw');
    // That int8 beats raw is shown by the first call, which weighs raw too under the same store
    // costs; each call measures the store afresh, so totals of two calls are not compared.
    const text = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--tensor_codec', 'raw', 'fp16', 'int8', '--bandwidth', '1', '--rtt', '2']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /DAG optimum \(min-cut over all cuts, constraints not applied\): total [\d.]+ ms, \d+ edge node\(s\), \d+ cut tensor\(s\), .* sent as int8 \(/);
    assert.match(text.out, /the best split point \(\d+ with int8\) is optimal/);
  });
});
