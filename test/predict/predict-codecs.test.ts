/**
 * predict and recommend --tensor_codec: the profile's codec rows (bytes of every split point's
 * coded payload, each codec's speed) read back as written; predicted bytes on the wire equal
 * run_all's measured transfer_bytes exactly for every codec on a real model (the same seeded
 * inputs, so the same cut tensors), and result_bytes too; the CSVs join on (split_index, tensor_codec); recommend
 * chooses over split points x codecs and names the codec (set costs).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { DEFAULTS } from '../../src/config/defaults.js';
import { fitCodecCost, PROFILED_CODECS, profileCodecs } from '../../src/profile/codec-profile.js';
import { readProfile, writeProfile, type LayerProfile } from '../../src/profile/layer-profile.js';
import { cycleTimes, splitFacts } from '../../src/predict/predict.js';
import { predictedCandidates, recommend } from '../../src/predict/recommend.js';
import { NO_STORE_COSTS } from '../../src/predict/store-costs.js';
import { createSession } from '../../src/runtime/ort.js';
import { analyzeFile, type ModelAnalysis } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { nodeTimingProfile } from './node-timing.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-predict-codecs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const csv = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
const SETTINGS = { execType: 'CPU', threads: 1, graphOpt: 'disabled', backend: 'local' };
const CODECS = ['raw', 'fp16', 'bf16', 'int8', 'int8:axis=1', 'deflate', 'zstd'];

describe('predict and recommend --tensor_codec', () => {
  const file = writeZooModel('lenet5', dir);
  const measured = join(dir, 'lenet5.csv');
  const profileFile = join(dir, 'lenet5.profile.csv');
  let a: ModelAnalysis;
  let profile: LayerProfile;

  before(async () => {
    a = await analyzeFile(file, { createSession });
    const codecs = await profileCodecs(a, randomInputs(a, DEFAULTS.seed), createSession, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 }, 2);
    profile = { ...(await nodeTimingProfile(a, { session: { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 }, settings: SETTINGS, reps: 2, warmup: 1 })), codecs };
    await writeProfile(profileFile, profile);
    const r = await cli(['run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--graph_opt', 'disabled', '--threads', '1', '--tensor_codec', ...CODECS, '--results_file', measured]);
    assert.equal(r.code, 0, r.err);
  });

  it('writes the codec rows into the profile and reads them back as they were', async () => {
    const back = await readProfile(profileFile);
    assert.ok(back.codecs, 'codec rows read');
    assert.deepEqual(Object.keys(back.codecs.speed).sort(), [...PROFILED_CODECS].sort());
    assert.ok(PROFILED_CODECS.includes('int8:axis=1'));
    assert.deepEqual(back.codecs.speed, profile.codecs!.speed);
    assert.deepEqual(back.codecs.wire, profile.codecs!.wire);
    assert.equal(Object.keys(back.codecs.wire).length, a.splitPoints.length - 1, 'every split point that sends something');
    for (const s of Object.values(back.codecs.speed)) assert.ok(s.encode.callMs + s.encode.perMbMs > 0 && s.decode.callMs + s.decode.perMbMs > 0, 'a cost measured');
  });

  it("predicts run_all's transfer_bytes exactly for every codec, and the CSVs join on (split_index, tensor_codec)", async () => {
    const out = join(dir, 'lenet5.predict.csv');
    const r = await cli(['predict', '--onnx_file', file, '--profile', profileFile, '--tensor_codec', ...CODECS, '--measured', measured, '--results_file', out]);
    assert.equal(r.code, 0, r.err);
    const pred = csv(out);
    assert.equal(pred.length, a.splitPoints.length * CODECS.length);
    const key = (x: Record<string, string>) => `${x.split_index}/${x.tensor_codec}`;
    const byKey = new Map(pred.map((p) => [key(p), p]));
    assert.equal(byKey.size, pred.length, 'one predicted row per (split_index, tensor_codec)');
    const rows = csv(measured);
    const summary = new Map(csv(measured.replace(/\.csv$/, '.summary.csv')).map((x) => [key(x), x]));
    let compared = 0;
    for (const m of rows) {
      const p = byKey.get(key(m));
      assert.ok(p, `predicted row for ${key(m)}`);
      assert.equal(p.split_layer, m.split_layer);
      assert.equal(p.tensor_bytes, m.tensor_bytes);
      // Repetition 0 is written without its rep field; the others are byte for byte what was sent.
      if (m.rep === '0') continue;
      assert.equal(p.transfer_bytes, m.transfer_bytes, `split ${m.split_index} ${m.tensor_codec} rep ${m.rep}: input payload bytes`);
      // The cloud reports its codec's decode time in the result when the payload carried coded tensors.
      assert.equal(p.result_bytes, m.result_bytes, `split ${m.split_index} ${m.tensor_codec} rep ${m.rep}: result payload bytes`);
      // The measured column and the summary hold what a repetition sends, not repetition 0's odd size
      // (without its rep field its first tensor's alignment padding moves, a few bytes either way).
      assert.equal(p.measured_transfer_bytes, m.transfer_bytes, `split ${m.split_index} ${m.tensor_codec}: measured_transfer_bytes`);
      assert.equal(summary.get(key(m))!.transfer_bytes, m.transfer_bytes, `split ${m.split_index} ${m.tensor_codec}: the summary's transfer_bytes`);
      compared++;
    }
    assert.equal(compared, rows.length / 2);
    for (const p of pred) {
      const edgeOnly = p.transfer_bytes === '0';
      if (p.tensor_codec === 'raw' || edgeOnly) {
        assert.equal(Number(p.codec_encode_ms) + Number(p.cloud_codec_decode_ms), 0, `${key(p)}: no codec time`);
        continue;
      }
      assert.ok(Number(p.codec_encode_ms) > 0 && Number(p.cloud_codec_decode_ms) > 0, `${key(p)}: codec time predicted`);
      assert.ok(Number(p.encode_ms) >= Number(p.codec_encode_ms), 'the codec is part of encode_ms');
    }
    const raw = (s: string) => Number(byKey.get(`${s}/raw`)!.transfer_bytes);
    for (const p of pred.filter((x) => x.tensor_codec === 'fp16' && x.transfer_bytes !== '0')) assert.ok(Number(p.transfer_bytes) < raw(p.split_index!), `fp16 sends fewer bytes at ${p.split_index}`);
    assert.match(r.out, /x 7 tensor codecs/);
    assert.match(r.out, /^against .* \(\d+ split point and codec pairs\): compute/m, 'the error line counts pairs, not split points');
    assert.match(r.out, /^among the \d+ measured split point and codec pairs, the predicted best, split \d+.*, is (the measured best|not the measured best, split \d+.*: measured, it is [\d.]+% slower)$/m);
    assert.doesNotMatch(r.out, /not compared/, 'every measured codec was predicted');
    // Only raw predicted against a sweep of several codecs: the others are named, not dropped silently.
    const rawOnly = await cli(['predict', '--onnx_file', file, '--profile', profileFile, '--measured', measured, '--results_file', join(dir, 'raw.predict.csv')]);
    assert.equal(rawOnly.code, 0, rawOnly.err);
    const others = CODECS.filter((c) => c !== 'raw');
    assert.match(rawOnly.out, new RegExp(`^note: .* also holds \\d+ split point\\(s\\) sent as ${others.join(', ')}, not compared: give --tensor_codec raw ${others.join(' ')} to predict them too$`, 'm'));
    // The edge-only split sends nothing: its rows were compared under raw, so only the others count.
    const sending = rows.filter((m) => m.tensor_codec !== 'raw' && m.transfer_bytes !== '0');
    const pairs = new Set(sending.map((m) => `${m.split_index}/${m.tensor_codec}`)).size;
    assert.match(rawOnly.out, new RegExp(`also holds ${pairs} split point\\(s\\) sent as`), 'the split point that sends nothing was compared');
    assert.match(rawOnly.out, /^among the \d+ measured split points, the predicted best/m);
  });

  it('refuses a codec the profile has no measurements of, in one line', async () => {
    const { codecs: _c, ...old } = profile;
    const oldFile = join(dir, 'old.profile.csv');
    await writeProfile(oldFile, old);
    const r = await cli(['predict', '--onnx_file', file, '--profile', oldFile, '--tensor_codec', 'raw', 'zstd', '--results_file', join(dir, 'old.predict.csv')]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /no measurements of tensor codec zstd.*profile the model again/);
    assert.equal(r.err.trim().split('\n').length, 1);
    const rawOnly = await cli(['predict', '--onnx_file', file, '--profile', oldFile, '--results_file', join(dir, 'old.predict.csv')]);
    assert.equal(rawOnly.code, 0, rawOnly.err);
  });

  it('recommends a compressing codec on a slow link when it wins by the model, raw on a fast one (set costs)', async () => {
    // Compute 20 ms per node on the edge, 0.01 ms on the cloud; every codec costs 0.5 ms per tensor plus 10 ms per MB each way.
    const set: LayerProfile = {
      ...profile,
      nodes: profile.nodes.map((n) => ({ ...n, medianMs: n.side === 'edge' ? 20 : 0.01, p95Ms: 20 })),
      codecs: {
        ...profile.codecs!,
        speed: Object.fromEntries(Object.keys(profile.codecs!.speed).map((c) => [c, { encode: { callMs: 0.5, perMbMs: 10 }, decode: { callMs: 0.5, perMbMs: 10 }, tensors: 1, runs: 1 }])),
      },
    };
    const cands = CODECS.flatMap((c) => predictedCandidates(splitFacts(a, set, c), NO_STORE_COSTS));
    const slow = recommend(cands, { bandwidthMbit: 1, rttMs: 10 });
    // By the model: the fastest candidate of all, computed here from cycleTimes.
    let want = { total: Infinity, split: -1, codec: '' };
    for (const c of CODECS) {
      for (const f of splitFacts(a, set, c)) {
        const t = cycleTimes({ edgeMs: f.edgeMs, cloudMs: f.cloudMs, inputBytes: f.transfer_bytes, resultBytes: f.result_bytes, edgeOnly: f.edgeOnly, codecEncodeMs: f.codecEncodeMs, codecDecodeMs: f.codecDecodeMs }, NO_STORE_COSTS, { bandwidthMbit: 1, rttMs: 10 }).total_ms;
        if (t < want.total) want = { total: t, split: f.split_index, codec: c };
      }
    }
    assert.equal(slow.best.tensor_codec, want.codec);
    assert.equal(slow.best.split_index, want.split);
    assert.ok(slow.best.tensor_codec !== 'raw', `a compressing codec wins at 1 Mbit/s (${slow.best.tensor_codec})`);
    assert.ok(slow.crossover.every((c) => typeof c.tensor_codec === 'string'), 'the crossover table names the codec');
    const fast = recommend(cands, { rttMs: 10 });
    assert.equal(fast.best.tensor_codec, 'raw', 'without a link the codec only costs time');
    // The command line says which codec.
    const setFile = join(dir, 'set.profile.csv');
    await writeProfile(setFile, set);
    const r = await cli(['recommend', '--onnx_file', file, '--profile', setFile, '--tensor_codec', ...CODECS, '--bandwidth', '1', '--rtt', '10']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`best split for 1 Mbit/s, rtt 10 ms .*: ${want.split} \\(.*\\) with the cut tensors sent as ${want.codec}`));
    assert.match(r.out, /tensor_codec/);
  });

  it('names no codec for a best split point that sends nothing, as recommend does', async () => {
    // Nodes nearly free on the edge and slow in the cloud: the edge-only split wins under every codec.
    const edgeWins: LayerProfile = { ...profile, nodes: profile.nodes.map((n) => ({ ...n, medianMs: n.side === 'edge' ? 0.001 : 50, p95Ms: 50 })) };
    const edgeFile = join(dir, 'edge-wins.profile.csv');
    await writeProfile(edgeFile, edgeWins);
    const last = a.splitPoints.length - 1;
    const r = await cli(['predict', '--onnx_file', file, '--profile', edgeFile, '--tensor_codec', 'fp16', 'int8', '--measured', measured, '--results_file', join(dir, 'edge-wins.predict.csv')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^predicted best split: ${last} \\([^)]*\\), total`, 'm'));
    assert.doesNotMatch(r.out, /predicted best split: .*sent as/, 'the edge-only split sends no cut tensor');
    assert.match(r.out, new RegExp(`the predicted best, split ${last}, is `), 'nor in the comparison with the sweep');
    const rec = await cli(['recommend', '--onnx_file', file, '--profile', edgeFile, '--tensor_codec', 'fp16', 'int8']);
    assert.equal(rec.code, 0, rec.err);
    assert.match(rec.out, new RegExp(`: ${last} \\([^)]*\\)\n`));
  });

  it('recommend from a run_all CSV with several codecs chooses among them', async () => {
    const r = await cli(['recommend', '--onnx_file', file, '--results_file', measured, '--bandwidth', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { splits: { tensor_codec: string }[] };
    assert.deepEqual([...new Set(j.splits.map((s) => s.tensor_codec))].sort(), [...CODECS].sort());
    const one = await cli(['recommend', '--onnx_file', file, '--results_file', measured, '--tensor_codec', 'fp16', '--json']);
    assert.equal(one.code, 0, one.err);
    assert.deepEqual([...new Set((JSON.parse(one.out) as { splits: { tensor_codec: string }[] }).splits.map((s) => s.tensor_codec))], ['fp16']);
  });

  it('measures only the codecs asked for, each once, raw never; none without running the model', async () => {
    const feeds = randomInputs(a, DEFAULTS.seed);
    const options = { graphOptimizationLevel: 'disabled' as const, intraOpNumThreads: 1 };
    const some = await profileCodecs(a, feeds, createSession, options, 1, ['raw', 'zstd', 'fp16', 'zstd']);
    assert.deepEqual(some.profiled, ['zstd', 'fp16']);
    assert.deepEqual(Object.keys(some.speed), ['zstd', 'fp16']);
    for (const [split, w] of Object.entries(some.wire)) assert.deepEqual(w, { zstd: profile.codecs!.wire[Number(split)]!.zstd, fp16: profile.codecs!.wire[Number(split)]!.fp16 }, `split ${split}: the same payloads as when every codec is measured`);
    let sessions = 0;
    const none = await profileCodecs(a, feeds, async (m, o) => (sessions++, createSession(m, o)), options, 1, ['raw']);
    assert.deepEqual(none, { profiled: [], speed: {}, wire: {} });
    assert.equal(sessions, 0, 'no session made');
  });

  it('fits a codec cost per tensor and per MB, never negative', () => {
    const c = fitCodecCost([1, 2, 4].map((mb) => ({ mb, ms: 0.5 + 3 * mb })));
    assert.ok(Math.abs(c.callMs - 0.5) < 1e-9 && Math.abs(c.perMbMs - 3) < 1e-9);
    assert.deepEqual(fitCodecCost([{ mb: 2, ms: 4 }, { mb: 2, ms: 4 }]), { callMs: 0, perMbMs: 2 });
    const neg = fitCodecCost([{ mb: 1, ms: 1 }, { mb: 2, ms: 4 }]);
    assert.ok(neg.callMs >= 0 && neg.perMbMs >= 0);
  });
});

