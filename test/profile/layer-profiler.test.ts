/**
 * Per-layer profiles with real onnxruntime sessions: every node of every test model attributed
 * (none lost to fusion, at every optimisation level), node times adding up to the kernels'
 * total, the cloud side measured in the worker process, and the profile file readable (the job
 * backends' profiles: test/backends/ and cloud-profile.test.ts).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildRunConfig } from '../../src/config/run-config.js';
import { encodeModel } from '../../src/onnx/codec.js';
import type { GraphIndex } from '../../src/onnx/graph.js';
import { readProfile, writeProfile, FIXED_COSTS } from '../../src/profile/layer-profile.js';
import { profileModel, sideRows } from '../../src/profile/layer-profiler.js';
import { CODEC_RUNS } from '../../src/profile/codec-decode.js';
import { CALIBRATION_REP, EDGE_ONLY_REP, calibrationPoints, edgeOnlyPoint } from '../../src/profile/cycle-calibration.js';
import { predictCompute } from '../../src/predict/model.js';
import { coverKernels, distribute } from '../../src/profile/layer-profiler-attribution.js';
import { measureSide } from '../../src/profile/layer-profiler-side.js';
import { profileFileFor } from '../../src/cli/ops/profile.js';
import { createSession } from '../../src/runtime/ort.js';
import type { GraphOptimizationLevel } from '../../src/runtime/session.js';
import { cli } from '../cli-helper.js';
import { analyze, feedsFor, realSubject, tempDirs, zooSubject, type TestSubject } from '../helpers.js';
import { realModels, zoo } from '../models/zoo.js';

const tempDir = tempDirs();
const side = { rep: 2, warmup: 1 };

/** Nodes whose values do not depend on the input's values (only on weights and static shapes): onnxruntime may fold them when it loads. */
function valueIndependent(index: GraphIndex): Set<number> {
  const dependent = new Set<string>(index.inputs);
  const independent = new Set<number>();
  for (const i of index.order) {
    const n = index.nodes[i]!;
    const reads = index.nodeInputs[i]!.some((t) => dependent.has(t));
    if (reads && n.opType !== 'Shape' && n.opType !== 'Size') for (const t of n.output ?? []) dependent.add(t);
    else independent.add(i);
  }
  return independent;
}

async function checkAttribution(s: TestSubject, level: GraphOptimizationLevel): Promise<void> {
  const a = await analyze(s);
  const m = await measureSide(createSession, a.model.bytes, { graphOptimizationLevel: level, intraOpNumThreads: 1 }, feedsFor(a), side);
  const what = `${s.name} at ${level}`;
  assert.ok(m.kernels.length > 0, `${what}: kernels in the trace`);
  for (const k of m.kernels) assert.ok(k.covers.length > 0, `${what}: kernel ${k.node} (${k.opType}) covers no node of the model`);
  const covered = new Set(m.kernels.flatMap((k) => k.covers));
  // Fusion never merges two convolutions: a kernel of its own (not a layout reorder serving its
  // consumers) covering several has lumped layers together.
  const convs = new Set(a.index.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name));
  for (const k of m.kernels.filter((x) => !x.shared)) assert.ok(k.covers.filter((c) => convs.has(c)).length <= 1, `${what}: kernel ${k.node} covers ${k.covers.join(', ')}`);
  const { nodes } = sideRows(a, 'edge', m);
  assert.equal(nodes.length, a.index.nodes.length, `${what}: one row per node of the model`);
  assert.equal(new Set(nodes.map((n) => n.node)).size, nodes.length, `${what}: node names unique`);
  const foldable = valueIndependent(a.index);
  nodes.forEach((n, i) => {
    if (!covered.has(n.node)) assert.ok(foldable.has(i), `${what}: node ${n.node} (${n.opType}) depends on the input and no kernel covers it`);
    assert.ok(n.medianMs >= 0 && n.p95Ms >= n.medianMs, `${what}: ${n.node} median ${n.medianMs} p95 ${n.p95Ms}`);
  });
  // Per run, the nodes add up to the kernels' total (scaled to the unprofiled run).
  for (let r = 0; r < side.rep; r++) {
    const kernels = m.kernels.reduce((acc, k) => acc + k.ms[r]!, 0) * m.kernelScale;
    const one = sideRows(a, 'edge', { ...m, runMs: [m.runMs[r]!], kernels: m.kernels.map((k) => ({ ...k, ms: [k.ms[r]!] })) }).nodes;
    const sum = one.reduce((acc, n) => acc + n.medianMs, 0);
    assert.ok(Math.abs(sum - kernels) <= 1e-9 * Math.max(1, kernels), `${what}: run ${r}: nodes ${sum} ms, kernels ${kernels} ms`);
  }
  for (const f of FIXED_COSTS) assert.ok(m.fixed[f].length === side.rep && m.fixed[f].every((v) => v >= 0), `${what}: ${f} ${m.fixed[f]}`);
}

describe('per-layer profile attribution', () => {
  for (const z of zoo) {
    it(`attributes every kernel of ${z.name} to its nodes, at every optimisation level`, async () => {
      for (const level of ['all', 'extended', 'basic', 'disabled'] as const) await checkAttribution(zooSubject(z), level);
    });
  }
  for (const r of realModels) {
    it(`attributes every kernel of the real model ${r.name} to its nodes (all optimisations)`, async () => {
      await checkAttribution(await realSubject(r), 'all');
    });
  }

  it('maps optimised nodes back by output, NCHWc name, own name and fusion name; a reorder shares its consumers', () => {
    const node = (name: string, opType: string, input: string[], output: string[]) => ({ name, opType, input, output });
    const graph = (nodes: ReturnType<typeof node>[], inputs = ['x']) => ({ graph: { name: 'g', node: nodes, input: inputs.map((name) => ({ name })), initializer: [{ name: 'w' }] } });
    const original = graph([
      node('conv', 'Conv', ['x', 'w'], ['c']),
      node('bn', 'BatchNormalization', ['c'], ['b']),
      node('relu', 'Relu', ['b'], ['r']),
      node('conv2', 'Conv', ['r', 'w'], ['c2']),
      node('add', 'Add', ['c2', 'r'], ['a']),
      node('sig', 'Sigmoid', ['a'], ['s']),
      node('mul', 'Mul', ['a', 's'], ['m']),
      node('out', 'Relu', ['m'], ['y']),
    ]);
    const optimised = graph([
      node('ReorderInput', 'ReorderInput', ['x'], ['t0']),
      node('r_nchwc', 'Conv', ['t0', 'w'], ['t1']),
      node('c2_nchwc', 'Conv', ['t1', 'w'], ['t2']),
      node('add', 'Add', ['t2', 't1'], ['t3']),
      node('ReorderOutput', 'ReorderOutput', ['t3'], ['a']),
      node('mul/QuickGeluFusion/', 'QuickGelu', ['a'], ['t4']),
      node('out', 'Relu', ['t4'], ['y']),
    ]);
    const got = Object.fromEntries(coverKernels(original as never, optimised as never).map((k) => [k.node, [k.covers.join(','), k.shared]]));
    assert.deepEqual(got, {
      ReorderInput: ['conv,bn,relu', true],
      r_nchwc: ['conv,bn,relu', false],
      c2_nchwc: ['conv2', false],
      add: ['add', false],
      ReorderOutput: ['add', false],
      'mul/QuickGeluFusion/': ['sig,mul', false],
      out: ['out', false],
    });
  });

  it('splits a fused kernel over its nodes by MACs, equally where they have none', () => {
    const covers = new Map([
      ['fused', ['conv', 'bn', 'relu']],
      ['pair', ['a', 'b']],
      ['lost', []],
    ]);
    const macs: Record<string, number> = { conv: 300, bn: 100, relu: 0, a: 0, b: 0 };
    const r = distribute(
      [
        { node: 'fused', ms: 2 },
        { node: 'pair', ms: 1 },
        { node: 'lost', ms: 0.5 },
      ],
      covers,
      (n) => macs[n]!,
    );
    assert.deepEqual(Object.fromEntries(r.ms), { conv: 1.5, bn: 0.5, relu: 0, a: 0.5, b: 0.5 });
    assert.equal(r.unattributedMs, 0.5);
  });
});

describe('profile through the local worker', () => {
  it('measures the cloud side in the worker process and writes a profile readProfile reads', async () => {
    const a = await analyze(zooSubject(zoo.find((z) => z.name === 'resnet_like')!));
    const config = buildRunConfig({ cloud: 'local', threads: 1, warmup: 1 }, {});
    const { profile, measurements, calibration, store } = await profileModel(a, config, { feeds: feedsFor(a), rep: 3, env: {}, storeCosts: true });
    assert.equal(measurements.edge.pid, process.pid);
    // Real cycles at the calibration points, every one of them ok, give both sides' cycle cost.
    assert.deepEqual(
      calibration.points.map((p) => [p.split_index, p.cycles]),
      calibrationPoints(a).map((p) => [p.index, CALIBRATION_REP]),
    );
    assert.equal(calibration.points.length, 3);
    for (const s of ['edge', 'cloud'] as const) {
      assert.deepEqual([profile.fixed[s].cycle_ms, profile.fixed[s].cycle_scale], [calibration.cost[s].cycle_ms, calibration.cost[s].cycle_scale]);
      assert.ok(calibration.cost[s].cycle_ms.medianMs >= 0 && calibration.cost[s].cycle_scale.medianMs >= 1);
    }
    assert.equal(calibration.cost.edge.cycle_ms.runs, calibration.points.length * CALIBRATION_REP);
    // The edge-only split's own cycles give its scale over its hot time, and predict uses it there.
    const alone = edgeOnlyPoint(a)!;
    assert.equal(calibration.edgeOnly?.split_index, alone.index);
    assert.equal(calibration.edgeOnly?.cycles, EDGE_ONLY_REP);
    assert.equal(profile.fixed.edge.edge_only_scale?.medianMs, calibration.edgeOnly!.measured / calibration.edgeOnly!.predicted);
    assert.equal(profile.fixed.cloud.edge_only_scale, undefined);
    const last = predictCompute(a, profile)[a.splitPoints.indexOf(alone)]!;
    assert.ok(Math.abs(last.edge.ms - calibration.edgeOnly!.measured) < 1e-9, `${last.edge.ms} vs ${calibration.edgeOnly!.measured}`);
    assert.ok(store && store.store === 'embedded' && store.costs.requests > 0 && store.costs.put.fixedMs > 0);
    assert.notEqual(measurements.cloud.pid, process.pid, 'the cloud side ran in the worker process');
    // The worker timed decoding the coded cut tensors it was sent: the cloud rows are its figures.
    assert.ok(measurements.cloud.codecDecode?.length, 'the cloud timed codec decoding');
    assert.ok(measurements.cloud.codecDecode.every((t) => t.ms.length === CODEC_RUNS));
    for (const s of ['edge', 'cloud'] as const) {
      const nodes = profile.nodes.filter((n) => n.side === s);
      assert.deepEqual(
        nodes.map((n) => n.node),
        a.index.nodes.map((n) => n.name),
      );
      assert.ok(nodes.every((n) => n.runs === 3 && n.medianMs >= 0));
      assert.ok(nodes.some((n) => n.medianMs > 0 && n.macs > 0), `${s}: some node takes time`);
      assert.equal(profile.settings[s].threads, 1);
      assert.equal(profile.settings[s].graphOpt, 'all');
    }
    assert.equal(profile.settings.cloud.backend, 'local');
    const file = join(await tempDir('profile-local'), 'm.profile.csv');
    await writeProfile(file, profile);
    assert.deepEqual(await readProfile(file), JSON.parse(JSON.stringify(profile)));
  });

  it('runs as the profile operation and writes beside --results_file', async () => {
    const dir = await tempDir('profile-cli');
    const model = join(dir, 'lenet5.onnx');
    await writeFile(model, encodeModel(zoo[0]!.build()));
    const r = await cli(['profile', '--onnx_file', model, '--rep', '2', '--threads', '1', '--results_file', join(dir, 'sweep.csv')], { env: { MINIO_ENDPOINT: undefined } });
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'sweep.profile.csv'));
    assert.equal(p.nodes.length, 2 * 12);
    assert.match(r.out, /profile written to .*sweep\.profile\.csv/);
    assert.equal(p.calibrationLink, undefined, 'calibrated without a link');
    // CALIBRATION_REP cycles per calibration point, all ok.
    const points = calibrationPoints(await analyze(zooSubject(zoo[0]!))).length;
    assert.ok(points > 0);
    assert.equal(p.fixed.cloud.cycle_ms?.runs, points * CALIBRATION_REP);
  });

  it('calibrates behind the link asked for, measures the store without it, and predict says when a profile was calibrated for another link', async () => {
    const dir = await tempDir('profile-link');
    const model = join(dir, 'lenet5.onnx');
    await writeFile(model, encodeModel(zoo[0]!.build()));
    const env = { MINIO_ENDPOINT: undefined };
    const r = await cli(['predict', '--onnx_file', model, '--profile_rep', '2', '--threads', '1', '--bandwidth', '50', '--rtt', '60', '--json', '--results_file', join(dir, 'm.predict.csv')], { env });
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'm.profile.csv'));
    assert.deepEqual(p.calibrationLink, { bandwidthMbit: 50, rttMs: 60 });
    // Behind a link as without one: CALIBRATION_REP cycles per calibration point.
    assert.equal(p.fixed.cloud.cycle_ms?.runs, calibrationPoints(await analyze(zooSubject(zoo[0]!))).length * CALIBRATION_REP);
    // The store's requests were timed directly: none of them took the link's 60 ms round trip
    // (which the proxy adds to every request through it, whatever the load).
    const costs = JSON.parse(r.out.slice(r.out.indexOf('{'))).store_costs;
    assert.ok(costs.put.fixedMs < 60 && costs.get.fixedMs < 60, JSON.stringify(costs));
    assert.doesNotMatch(r.out, /^note: /m);
    const same = await cli(['predict', '--onnx_file', model, '--profile', join(dir, 'm.profile.csv'), '--bandwidth', '50', '--rtt', '60', '--results_file', join(dir, 'again.predict.csv')], { env });
    assert.equal(same.code, 0, same.err);
    assert.doesNotMatch(same.out, /^note: /m);
    const other = await cli(['predict', '--onnx_file', model, '--profile', join(dir, 'm.profile.csv'), '--bandwidth', '5', '--rtt', '20', '--results_file', join(dir, 'other.predict.csv')], { env });
    assert.equal(other.code, 0, other.err);
    assert.match(other.out, /^note: the profile's cycle costs were calibrated for 50 Mbit\/s, rtt 60 ms, not 5 Mbit\/s, rtt 20 ms; .*profile for this link/m);
  });

  it('names the profile file after the results file or the model', () => {
    assert.equal(profileFileFor({ onnx_file: 'models/m.onnx' }), join('results', 'm.profile.csv'));
    assert.equal(profileFileFor({ onnx_file: 'm.onnx', results_file: 'out/x.csv' }), 'out/x.profile.csv');
    assert.equal(profileFileFor({ onnx_file: 'm.onnx', results_file: 'out/x.profile.csv' }), 'out/x.profile.csv');
  });
});
