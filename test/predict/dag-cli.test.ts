/**
 * recommend from a profile reports the DAG optimum: on an Inception-like model whose profile makes
 * one branch and the stem cheap on the edge and everything else cheap in the cloud, the optimum is
 * no split point, beats the best one, and its --cut_out file runs through `run --cut_file --verify`
 * and reproduces the model's outputs; from a real profile, the best cut that sends something to the
 * cloud runs over an emulated link and reproduces them exactly; on a chain (lenet5) the optimum is
 * the best split point.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DagOptimum } from '../../src/predict/dag.js';
import { buildRunConfig } from '../../src/config/run-config.js';
import { dagCutCosts } from '../../src/predict/dag.js';
import { measureRunStore } from '../../src/predict/store-costs.js';
import { readRows } from '../../src/profile/csv.js';
import { cycleMs, readProfile, writeProfile } from '../../src/profile/layer-profile.js';
import { bestOffloadingCut } from '../../src/split/min-cut.js';
import { edgeNodeNames } from '../../src/split/node-cut.js';
import { createSession } from '../../src/runtime/ort.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { readCutFile } from '../../src/split/node-cut.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { ancestors } from '../split/dags.js';
import { profileOf } from './dag-profile.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-dag-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FIXED = { run_call: 0.1, feed_per_mb: 0.2, fetch_per_mb: 0.2 };

function model(name: string): string {
  return writeZooModel(name, dir);
}


describe('recommend: the DAG optimum', () => {
  it('finds a cut no split point makes on an Inception-like model, and its cut file reproduces the model', async () => {
    const file = model('inception_like');
    const a = await analyzeFile(file, { createSession });
    const { index } = a;
    // The first module's Concat: its last branch in execution order and the stem before it.
    const concat = index.dataNodes.find((n) => index.nodes[n]!.opType === 'Concat')!;
    const branchEnds = index.nodeInputs[concat]!.map((t) => index.producer.get(t)!);
    const last = branchEnds.reduce((x, y) => (index.dataNodes.indexOf(y) > index.dataNodes.indexOf(x) ? y : x));
    const others = new Set(branchEnds.filter((b) => b !== last).flatMap((b) => [...ancestors(index, [b])]));
    const lastBranch = [...ancestors(index, [last])];
    const edge = new Set(lastBranch);
    const cheapOnEdge = (n: number) => edge.has(n);
    const profile = join(dir, 'inception_like.profile.csv');
    await writeProfile(profile, profileOf(a, (n, side) => ((side === 'edge') === cheapOnEdge(n) ? 0.01 : 50), FIXED));
    const cutOut = join(dir, 'edge.json');
    const r = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--bandwidth', '100', '--rtt', '2', '--cut_out', cutOut, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { best: { split_index: number; total_ms: number }; dag: DagOptimum; crossover: { total_ms: number; dag_total_ms: number }[] };
    const d = j.dag;
    assert.equal(d.is_split_point, false);
    assert.ok(d.saved_ms > 40, `one branch's 50 ms saved at least (${d.saved_ms})`);
    assert.ok(Math.abs(d.saved_pct - (100 * d.saved_ms) / d.best_split_total_ms) < 0.01);
    assert.ok(Math.abs(d.best_split_total_ms - j.best.total_ms) < 0.1, 'the best split point under the cut costs is the one recommend predicts');
    assert.equal(d.best_split_index, j.best.split_index);
    assert.equal(d.edge_nodes, edge.size);
    const stemOut = [...edge].filter((n) => others.has(n));
    assert.ok(stemOut.length > 0, 'the stem is shared by the branches');
    assert.ok(d.cut_tensors.length >= 2, `the stem's output for the other branches and the last branch's output (${d.cut_tensors})`);
    assert.equal(d.cut_bytes, d.cut_tensors.reduce((s, t) => s + a.shapes.get(t)!.bytes, 0));
    for (const c of j.crossover) assert.ok(c.dag_total_ms <= c.total_ms + 1e-3, 'the DAG optimum is never slower than the best split point');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'inception_like.profile.recommend.json'), 'utf8')).dag, d);
    assert.deepEqual(new Set(await readCutFile(cutOut, index, 'm')), edge, 'the cut file holds the optimum');

    const run = await cli(['--operation', 'run', '--onnx_file', file, '--cut_file', cutOut, '--rep', '1', '--warmup', '0', '--graph_opt', 'disabled', '--verify']);
    assert.equal(run.code, 0, run.err + run.out);
    assert.match(run.out, /verify: max \|split - full\| = \d.* \(match\)/);

    const text = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--bandwidth', '100', '--rtt', '2']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /DAG optimum \(min-cut over all cuts, constraints not applied\): total [\d.]+ ms, \d+ edge node\(s\)/);
    assert.match(text.out, /beats the best split point \(\d+, [\d.]+ ms\) by [\d.]+ ms \([\d.]+%\)/);
    assert.match(text.out, /dag_total_ms/);
  });

  it('from a real profile, the best cut with a part on each side runs over an emulated link and reproduces the model', async () => {
    const file = model('inception_like');
    const a = await analyzeFile(file, { createSession });
    const settings = ['--graph_opt', 'disabled', '--threads', '1'];
    const p = await cli(['profile', '--onnx_file', file, ...settings, '--rep', '3', '--results_file', join(dir, 'real.csv')]);
    assert.equal(p.code, 0, p.err);
    const profile = await readProfile(join(dir, 'real.profile.csv'));
    assert.ok(cycleMs(profile, 'edge') >= 0 && profile.fixed.cloud.cycle_ms !== undefined, 'the profile has its cycle costs');
    const link = { bandwidthMbit: 50, rttMs: 4 };
    const { costs: store } = await measureRunStore(buildRunConfig({}), 2);
    const costs = dagCutCosts(a, profile, store, link);
    // The best cut with a part on each side: the model's first node held on the edge (its cloud
    // time above anything), since a profile measured on a busy machine can make cloud-only the
    // best cut that sends something, which has no edge part to run.
    const cloudMs = Float64Array.from(costs.cloudMs);
    cloudMs[a.index.dataNodes[0]!] = 1e9;
    const off = bestOffloadingCut(a, { ...costs, cloudMs });
    assert.ok(off.edgeNodes.length > 0 && off.edgeNodes.length < a.index.dataNodes.length, `an edge part and a cloud part (${off.edgeNodes.length} edge nodes)`);
    const cutFile = join(dir, 'offload.json');
    writeFileSync(cutFile, JSON.stringify({ edge_nodes: edgeNodeNames(a.index, off.edgeNodes) }));
    const rows = join(dir, 'offload.csv');
    const run = await cli(['--operation', 'run', '--onnx_file', file, '--cut_file', cutFile, ...settings, '--rep', '2', '--warmup', '0', '--bandwidth', '50', '--rtt', '4', '--results_file', rows, '--verify']);
    assert.equal(run.code, 0, run.err + run.out);
    assert.match(run.out, /verify: max \|split - full\| = 0 \(match\)/);
    const measured = (await readRows(rows)).filter((r) => r.status === 'ok');
    assert.equal(measured.length, 2);
    for (const r of measured) {
      assert.equal(r.cut_tensors, off.cutTensors.join(';'));
      assert.deepEqual([Number(r.bandwidth_mbit), Number(r.rtt_ms), Number(r.max_abs_diff)], [50, 4, 0]);
    }
  });

  it('on a chain (lenet5) reports the best split point as optimal', async () => {
    const file = model('lenet5');
    const a = await analyzeFile(file, { createSession });
    const profile = join(dir, 'lenet5.profile.csv');
    await writeProfile(profile, profileOf(a, (n, side) => (side === 'edge' ? 1 + (n % 3) : 0.2 + (n % 2)), FIXED));
    const r = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--bandwidth', '20', '--rtt', '10', '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { best: { split_index: number }; dag: DagOptimum };
    assert.equal(j.dag.is_split_point, true);
    assert.equal(j.dag.saved_ms, 0);
    assert.equal(j.dag.best_split_index, j.best.split_index);
    const text = await cli(['recommend', '--onnx_file', file, '--profile', profile, '--bandwidth', '20', '--rtt', '10']);
    assert.match(text.out, new RegExp(`the best split point \\(${j.best.split_index}\\) is optimal`));
    const measuredCut = await cli(['recommend', '--onnx_file', file, '--results_file', join(dir, 'none.csv'), '--cut_out', join(dir, 'x.json')]);
    assert.equal(measuredCut.code, 2, measuredCut.err);
    assert.match(measuredCut.err, /--cut_out needs --profile/);
  });
});
