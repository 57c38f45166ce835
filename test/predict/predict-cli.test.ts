/**
 * predict and recommend from the command line, against a real run_all of a zoo model on this
 * machine: predict's CSV joins run_all's on split_index for every split point with the same
 * bytes on the wire; compute follows the profile's numbers exactly; recommend writes its files
 * beside its input; bad input is refused in one line.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { readProfile, writeProfile, type LayerProfile } from '../../src/profile/layer-profile.js';
import { median } from '../../src/profile/stats.js';
import { edgeMemory, profileNodeKey } from '../../src/predict/model.js';
import { PREDICT_COLUMNS } from '../../src/predict/predict.js';
import { createSession } from '../../src/runtime/ort.js';
import { analyzeFile, type ModelAnalysis } from '../../src/split/analysis.js';
import { cli, expectOneLineFailures } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { nodeTimingProfile } from './node-timing.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-predict-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function model(name: string): string {
  return writeZooModel(name, dir);
}

function csv(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

const SETTINGS = { execType: 'CPU', threads: 1, graphOpt: 'disabled', backend: 'local' };

/** A profile whose every node takes `nodeMs` on each side, with the given fixed costs. */
function syntheticProfile(a: ModelAnalysis, nodeMs: number, fixed: { run_call: number; feed_per_mb: number; fetch_per_mb: number }): LayerProfile {
  const nodes = a.index.dataNodes.flatMap((i) =>
    (['edge', 'cloud'] as const).map((side) => ({ side, node: profileNodeKey(a.index.nodes[i]!), opType: a.index.nodes[i]!.opType ?? '', medianMs: nodeMs, p95Ms: nodeMs, runs: 10, outputBytes: 0, params: 0, macs: 0 })),
  );
  const f = Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, { medianMs: v, p95Ms: v, runs: 10 }])) as LayerProfile['fixed']['edge'];
  return { modelSha256: a.model.sha256, settings: { edge: SETTINGS, cloud: SETTINGS }, nodes, fixed: { edge: f, cloud: f } };
}

describe('predict and recommend', () => {
  const file = model('lenet5');
  const measured = join(dir, 'lenet5.csv');
  const profile = join(dir, 'lenet5.profile.csv');
  let a: ModelAnalysis;

  before(async () => {
    a = await analyzeFile(file, { createSession });
    await writeProfile(profile, await nodeTimingProfile(a, { session: { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 }, settings: SETTINGS, reps: 3, warmup: 1 }));
    const r = await cli(['run_all', '--onnx_file', file, '--rep', '2', '--warmup', '1', '--graph_opt', 'disabled', '--threads', '1', '--results_file', measured]);
    assert.equal(r.code, 0, r.err);
  });

  it("writes one row per split point that joins run_all's rows on split_index, with the same bytes on the wire", async () => {
    const out = join(dir, 'lenet5.predict.csv');
    const r = await cli(['predict', '--onnx_file', file, '--profile', profile, '--bandwidth', '50', '--rtt', '20', '--measured', measured, '--results_file', out]);
    assert.equal(r.code, 0, r.err);
    // Rows measured without a link, compared with a prediction for one: said, once.
    const twoLinks = r.errLines.filter((l) => /--measured .*lenet5\.csv was measured on no link \(the store reached directly\), and this prediction is for 50 Mbit\/s, rtt 20 ms: its errors compare two links/.test(l));
    assert.equal(twoLinks.length, 1, r.err);
    const pred = csv(out);
    assert.deepEqual(Object.keys(pred[0]!).slice(0, PREDICT_COLUMNS.length), [...PREDICT_COLUMNS]);
    const rows = csv(measured);
    const byIndex = new Map(pred.map((p) => [p.split_index, p]));
    assert.equal(pred.length, a.splitPoints.length);
    assert.deepEqual([...byIndex.keys()].sort(), [...new Set(rows.map((x) => x.split_index))].sort(), 'the same split points');
    for (const m of rows) {
      const p = byIndex.get(m.split_index)!;
      assert.equal(p.split_layer, m.split_layer);
      assert.equal(p.cut_tensors, m.cut_tensors);
      assert.equal(p.tensor_bytes, m.tensor_bytes);
      // Repetition 0 is written without its rep field; the others are byte for byte what was sent.
      if (m.rep !== '0') assert.equal(p.transfer_bytes, m.transfer_bytes, `split ${m.split_index} rep ${m.rep}: input payload bytes`);
      if (m.rep !== '0') assert.equal(p.result_bytes, m.result_bytes, `split ${m.split_index} rep ${m.rep}: result payload bytes`);
      assert.equal(p.bandwidth_mbit, '50');
      assert.equal(p.rtt_ms, '20');
    }
    for (const p of pred) {
      const mine = rows.filter((x) => x.split_index === p.split_index).map((x) => Number(x.total_ms));
      assert.ok(Math.abs(Number(p.measured_total_ms) - median(mine)) < 0.001, `split ${p.split_index}: measured median`);
      assert.ok(Number.isFinite(Number(p.total_ape)) && Number.isFinite(Number(p.compute_ape)));
      const parts = ['edge_ms', 'encode_ms', 'upload_ms', 'wait_ms', 'download_ms', 'decode_ms'].reduce((s, c) => s + Number(p[c]), 0);
      assert.ok(Math.abs(parts - Number(p.total_ms)) < 0.01, `split ${p.split_index}: total is its steps`);
      if (p.split_index !== String(a.splitPoints.length - 1)) {
        const wire = ((Number(p.transfer_bytes) + Number(p.result_bytes)) * 8) / 50_000;
        assert.ok(Number(p.transfer_ms) >= 40 + wire - 0.01, `split ${p.split_index}: transfer holds two round trips and the bytes`);
      }
    }
    assert.match(r.out, /compute \(edge \+ cloud\) error median [\d.]+%, p90 [\d.]+%; total_ms error median [\d.]+%, p90 [\d.]+%/);
    assert.match(r.out, /among the \d+ measured split points, the predicted best, split \d+, is (the measured best|not the measured best, split \d+: measured, it is [\d.]+% slower)/);
  });

  it('takes the link from rows measured over one, and joins them too', async () => {
    const linked = join(dir, 'lenet5-link.csv');
    const last = a.splitPoints.length - 1;
    const run = await cli(['run_all', '--onnx_file', file, '--rep', '2', '--warmup', '1', '--graph_opt', 'disabled', '--threads', '1', '--splits', '0', '6', String(last), '--bandwidth', '100', '--rtt', '4', '--results_file', linked]);
    assert.equal(run.code, 0, run.err);
    const out = join(dir, 'lenet5-link.predict.csv');
    const r = await cli(['predict', '--onnx_file', file, '--profile', profile, '--measured', linked, '--results_file', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /for 100 Mbit\/s, rtt 4 ms/);
    assert.doesNotMatch(r.err, /compare two links/, 'the measured rows\' own link');
    assert.match(r.out, /against .*lenet5-link\.csv \(3 split points\)/);
    const pred = csv(out);
    assert.equal(pred.length, a.splitPoints.length, 'every split point is predicted, measured or not');
    for (const m of csv(linked)) {
      const p = pred.find((x) => x.split_index === m.split_index)!;
      assert.deepEqual([p.bandwidth_mbit, p.rtt_ms], [m.bandwidth_mbit, m.rtt_ms]);
      if (m.rep !== '0') assert.equal(p.transfer_bytes, m.transfer_bytes);
      assert.notEqual(p.measured_total_ms, '');
    }
  });

  it("follows the profile's numbers: nodes, run call, feed and fetch per MB", async () => {
    const synthetic = join(dir, 'synthetic.profile.csv');
    await writeProfile(synthetic, syntheticProfile(a, 1, { run_call: 0.5, feed_per_mb: 2, fetch_per_mb: 3 }));
    const r = await cli(['predict', '--onnx_file', file, '--profile', synthetic, '--results_file', join(dir, 'synthetic.csv'), '--json']);
    assert.equal(r.code, 0, r.err);
    const rows = (JSON.parse(r.out) as { splits: Record<string, number>[] }).splits;
    const m = a.index.dataNodes.length;
    const inputBytes = 1 * 1 * 28 * 28 * 4;
    const logitsBytes = 10 * 4;
    for (const p of a.splitPoints) {
      const row = rows[p.index]!;
      const k = p.position;
      // lenet5 is a chain: the edge is fed the input and returns the cut; the cloud is fed the cut and returns the logits.
      const edge = k === 0 ? 0 : k + 0.5 + (2 * inputBytes) / 1e6 + (3 * (k === m ? logitsBytes : p.transferBytes)) / 1e6;
      const cloud = k === m ? 0 : m - k + 0.5 + (2 * p.transferBytes) / 1e6 + (3 * logitsBytes) / 1e6;
      assert.ok(Math.abs(row.edge_ms! - edge) <= 0.0005, `split ${p.index}: edge ${row.edge_ms} vs ${edge}`);
      assert.ok(Math.abs(row.cloud_ms! - cloud) <= 0.0005, `split ${p.index}: cloud ${row.cloud_ms} vs ${cloud}`);
    }
  });

  it("predict and recommend from one profile give the same times: the store's costs measured with the profile, not again", async () => {
    const stored = join(dir, 'stored.profile.csv');
    const costs = { put: { fixedMs: 7, perMbMs: 3 }, get: { fixedMs: 5, perMbMs: 2 }, notifyMs: 0.5, encode: { fixedMs: 0.25, perMbMs: 1 }, decode: { fixedMs: 0.125, perMbMs: 1 }, requests: 18 };
    await writeProfile(stored, { ...syntheticProfile(a, 0.5, { run_call: 0.5, feed_per_mb: 2, fetch_per_mb: 3 }), store: { store: 'embedded', costs } });
    const link = ['--bandwidth', '50', '--rtt', '20'];
    const runs = [];
    for (const i of [1, 2]) {
      const r = await cli(['predict', '--onnx_file', file, '--profile', stored, ...link, '--results_file', join(dir, `stored-${i}.csv`), '--json']);
      assert.equal(r.code, 0, r.err);
      // stdout is the JSON alone: the profile's calibration note (no link, predicted for one) is among its notes.
      const json = JSON.parse(r.out) as { store_costs: Record<string, unknown>; notes: string[]; splits: Record<string, number>[] };
      assert.ok(json.notes.some((n) => /^the profile's cycle costs were calibrated for no link/.test(n)), r.out);
      runs.push(json);
    }
    assert.deepEqual(runs[0]!.splits, runs[1]!.splits, 'two predictions from one profile: the same rows');
    assert.deepEqual({ ...runs[0]!.store_costs, notifyMs: costs.notifyMs }, { ...costs }, "the profile's costs (the cloud's cycle wait added to notifyMs)");
    const text = await cli(['predict', '--onnx_file', file, '--profile', stored, ...link, '--results_file', join(dir, 'stored-3.csv')]);
    assert.match(text.out, /\(store: embedded, its costs from the profile's 18 requests\)/);
    const rec = await cli(['recommend', '--onnx_file', file, '--profile', stored, ...link, '--json']);
    assert.equal(rec.code, 0, rec.err);
    const rr = JSON.parse(rec.out) as { source: string; splits: Record<string, number>[] };
    assert.match(rr.source, /store embedded \(its costs from the profile\)/);
    for (const s of rr.splits) {
      const row: Record<string, number> = runs[0]!.splits.find((x) => x.split_index === s.split_index)!;
      for (const c of ['edge_ms', 'transfer_ms', 'cloud_ms', 'total_ms']) assert.equal(s[c], row[c], `split ${s.split_index}: ${c} as predict's`);
    }
    // Costs measured on another store are not this run's: the embedded store is measured.
    await writeProfile(stored, { ...syntheticProfile(a, 0.5, { run_call: 0.5, feed_per_mb: 2, fetch_per_mb: 3 }), store: { store: 'http://minio.example:9000', costs } });
    const other = await cli(['predict', '--onnx_file', file, '--profile', stored, ...link, '--results_file', join(dir, 'stored-4.csv')]);
    assert.equal(other.code, 0, other.err);
    assert.match(other.out, /\(store: embedded, \d+ requests measured\)/);
  });

  it("estimates the edge's memory from its weights and the activations alive at once", () => {
    const mem = edgeMemory(a);
    const first = a.splitPoints.findIndex((p) => p.position === 1);
    // conv_0: a 6x1x5x5 kernel and 6 biases; the 1x1x28x28 input and the 1x6x28x28 output alive together.
    assert.equal(mem[first]!.paramsBytes, (6 * 25 + 6) * 4);
    assert.equal(mem[first]!.peakActivationBytes, (28 * 28 + 6 * 28 * 28) * 4);
    assert.equal(mem[0]!.paramsBytes, 0, 'cloud only: no weights on the edge');
    for (let i = 1; i < mem.length; i++) assert.ok(mem[i]!.mb >= mem[i - 1]!.mb, 'more nodes on the edge never need less');
  });

  it('recommends from the profile and from the run_all CSV, and writes both files beside the input, one pair each', async () => {
    const written: Record<string, unknown>[] = [];
    for (const [flag, input, base] of [
      ['--profile', profile, join(dir, 'lenet5.profile')],
      ['--results_file', measured, join(dir, 'lenet5')],
    ] as const) {
      assert.equal(`${base}.csv`, input);
      rmSync(`${base}.recommend.json`, { force: true });
      const r = await cli(['recommend', '--onnx_file', file, flag, input, '--bandwidth', '10', '--rtt', '20', '--max_edge_memory_mb', '1', '--json']);
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out) as { best: { split_index: number; edge_memory_mb: number }; crossover: { bandwidth_mbit: number }[]; splits: { feasible: boolean }[] };
      assert.ok(j.best.edge_memory_mb <= 1);
      assert.equal(j.crossover.length, 9);
      assert.equal(j.splits.length, a.splitPoints.length);
      assert.deepEqual(JSON.parse(readFileSync(`${base}.recommend.json`, 'utf8')), j);
      assert.equal(csv(`${base}.recommend.csv`).length, a.splitPoints.length);
      written.push(j as unknown as Record<string, unknown>);
    }
    // The measured recommendation did not overwrite the predicted one.
    const kept = JSON.parse(readFileSync(join(dir, 'lenet5.profile.recommend.json'), 'utf8')) as { source: string };
    assert.deepEqual(kept, written[0]);
    assert.match(kept.source, /^predicted from /);
    assert.match((JSON.parse(readFileSync(join(dir, 'lenet5.recommend.json'), 'utf8')) as { source: string }).source, /^measured in /);
    // Both files or neither: a CSV that cannot be written leaves no JSON either.
    const sub = mkdtempSync(join(dir, 'both-'));
    copyFileSync(profile, join(sub, 'm.profile.csv'));
    mkdirSync(join(sub, 'm.profile.recommend.csv'));
    const failed = await cli(['recommend', '--onnx_file', file, '--profile', join(sub, 'm.profile.csv'), '--bandwidth', '10']);
    assert.equal(failed.code, 1);
    assert.match(failed.err, /m\.profile\.recommend\.csv/);
    assert.deepEqual(readdirSync(sub).sort(), ['m.profile.csv', 'm.profile.recommend.csv']);
    const text = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--bandwidth', '10']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /best split for 10 Mbit\/s, rtt 0 ms/);
    assert.match(text.out, /Pareto set/);
    assert.match(text.out, /Crossover/);
  });

  it('says which split points of a run_all CSV it cannot rank: those without an ok row', async () => {
    const partial = join(dir, 'partial.csv');
    const lines = readFileSync(measured, 'utf8').split('\n');
    writeFileSync(partial, lines.map((l, i) => (i > 0 && /^[123],/.test(l) ? l.replace(',ok,', ',error,') : l)).join('\n'));
    const r = await cli(['recommend', '--onnx_file', file, '--results_file', partial]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^note: 3 of the ${a.splitPoints.length} split points have no ok row in \\S*partial\\.csv and are not ranked: 1, 2, 3 \\(failed or not swept; run_all --resume --results_file \\S*partial\\.csv measures them\\)$`, 'm'));
    const j = await cli(['recommend', '--onnx_file', file, '--results_file', partial, '--json']);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual((JSON.parse(j.out) as { unranked: number[] }).unranked, [1, 2, 3]);
    const whole = await cli(['recommend', '--onnx_file', file, '--results_file', measured]);
    assert.equal(whole.code, 0, whole.err);
    assert.doesNotMatch(whole.out, /not ranked/, 'every split point has ok rows');
  });

  it('profiles both sides first when no --profile is given, and keeps the profile beside the rows', async () => {
    const out = join(dir, 'first.predict.csv');
    const r = await cli(['predict', '--onnx_file', file, '--profile_rep', '3', '--results_file', out]);
    assert.equal(r.code, 0, r.err);
    const kept = join(dir, 'first.profile.csv');
    assert.match(r.out, new RegExp(`profile written to ${kept.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const p = await readProfile(kept);
    assert.deepEqual(new Set(p.nodes.filter((n) => n.side === 'cloud').map((n) => n.node)), new Set(p.nodes.filter((n) => n.side === 'edge').map((n) => n.node)));
    const again = await cli(['predict', '--onnx_file', file, '--profile', kept, '--results_file', join(dir, 'again.predict.csv')]);
    assert.equal(again.code, 0, again.err);
    const rows = (text: string) => text.trim().split('\n').length;
    assert.equal(rows(readFileSync(out, 'utf8')), rows(readFileSync(join(dir, 'again.predict.csv'), 'utf8')), 'one row per split point either way');
    // Asked for raw only, no codec was measured, and the profile says so.
    assert.deepEqual(p.codecs, { profiled: [], speed: {}, wire: {} });
    const fp16 = await cli(['predict', '--onnx_file', file, '--profile', kept, '--tensor_codec', 'raw', 'fp16', '--results_file', join(dir, 'fp16.predict.csv')]);
    assert.notEqual(fp16.code, 0);
    assert.match(fp16.err, /first\.profile\.csv has no measurements of tensor codec fp16 \(it holds raw\): profile the model again with --tensor_codec fp16/);
    assert.equal(fp16.err.trim().split('\n').length, 1);
  });

  it('profiles only the tensor codecs asked for', async () => {
    const out = join(dir, 'codecs.predict.csv');
    const r = await cli(['predict', '--onnx_file', file, '--profile_rep', '2', '--tensor_codec', 'raw', 'int8', '--results_file', out]);
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'codecs.profile.csv'));
    assert.deepEqual(p.codecs?.profiled, ['int8']);
    assert.deepEqual(Object.keys(p.codecs!.speed), ['int8']);
    assert.ok(Object.values(p.codecs!.wire).every((w) => Object.keys(w).join() === 'int8'), 'payloads of int8 only');
    assert.deepEqual([...new Set(csv(out).map((x) => x.tensor_codec))], ['raw', 'int8']);
    const zstd = await cli(['recommend', '--onnx_file', file, '--profile', join(dir, 'codecs.profile.csv'), '--tensor_codec', 'zstd']);
    assert.notEqual(zstd.code, 0);
    assert.match(zstd.err, /no measurements of tensor codec zstd \(it holds raw, int8\): profile the model again with --tensor_codec zstd/);
    const chosen = await cli(['profile', '--onnx_file', file, '--rep', '2', '--tensor_codec', 'bf16', '--results_file', join(dir, 'chosen.csv')]);
    assert.equal(chosen.code, 0, chosen.err);
    assert.match(chosen.out, /tensor codecs measured: bf16\)/);
    assert.deepEqual(Object.keys((await readProfile(join(dir, 'chosen.profile.csv'))).codecs!.speed), ['bf16']);
  });

  it('refuses bad input in one line', async () => {
    const other = model('input_reuse');
    const broken = join(dir, 'broken.profile.csv');
    writeFileSync(broken, readFileSync(profile, 'utf8').replace(/(edge,node,[^,]*,[^,]*,)[^,]*/, '$1fast'));
    const stray = join(dir, 'stray.csv');
    writeFileSync(stray, readFileSync(measured, 'utf8').replace(/\n1,conv_0_out,/g, '\n1,elsewhere,'));
    // Rows of another model whose split layers have the same names (the zoo's models share them): its model_sha256 tells.
    const foreign = join(dir, 'foreign.csv');
    writeFileSync(foreign, readFileSync(measured, 'utf8').replaceAll(a.model.sha256, 'f'.repeat(64)));
    const cases: [string[], RegExp][] = [
      [['predict', '--onnx_file', other, '--profile', profile], /is a profile of another model \(model_sha256/],
      [['predict', '--onnx_file', file, '--profile', measured], /not a profile: it is a run_all results file, with none of a profile's columns/],
      [['predict', '--onnx_file', file, '--profile', broken], /broken\.profile\.csv: line \d+: median_ms 'fast' is not a number >= 0; the profile was edited or damaged/],
      [['predict', '--onnx_file', file, '--profile', profile, '--bandwidth', '0'], /--bandwidth must be a positive number, got 0/],
      [['predict', '--onnx_file', file, '--profile', profile, '--rtt', '-5'], /--rtt must be a number of milliseconds >= 0, got -5/],
      [['predict', '--onnx_file', file, '--profile', profile, '--measured', stray], /split 1 is 'elsewhere', which is not split 1 of .*results of another model/],
      [['predict', '--onnx_file', file, '--profile', profile, '--measured', foreign], /foreign\.csv holds results of another model \(model_sha256 ffffffffffff…, .*lenet5\.onnx is [0-9a-f]{12}…\)/],
      [['recommend', '--onnx_file', file, '--results_file', foreign], /foreign\.csv holds results of another model \(model_sha256 ffffffffffff…, .*lenet5\.onnx is [0-9a-f]{12}…\)/],
      [['recommend', '--onnx_file', file], /recommend takes either --profile .* or --results_file/],
      [['recommend', '--onnx_file', file, '--results_file', join(dir, 'never-run.csv')], /never-run\.csv: no such file/],
      [['predict', '--onnx_file', file, '--profile', profile, '--measured', join(dir, 'never-run.csv')], /never-run\.csv: no such file/],
      [['recommend', '--onnx_file', file, '--profile', profile, '--max_edge_ms', '-1'], /--max_edge_ms must be a number >= 0, got -1/],
      [['recommend', '--onnx_file', file, '--profile', profile, '--max_transfer_bytes', '1', '--max_edge_ms', '0'], /no split point meets the constraints/],
    ];
    await expectOneLineFailures(cases);
  });
});
