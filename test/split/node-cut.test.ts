/**
 * Cuts given as a node set: the two parts, run in order with real onnxruntime sessions, reproduce
 * the full model's outputs exactly; the cloud part reads exactly the cut tensors and their bytes
 * are transfer_bytes; a set that is not closed under predecessors, and bad cut files, are refused
 * with one-line errors; split_model and run take --cut_file.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { runChain } from '../../src/runtime/chain.js';
import { createSession } from '../../src/runtime/ort.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { optimalCut } from '../../src/split/min-cut.js';
import { edgeNodeNames, edgeNodesFromNames, nodeCutPoint, readCutFile } from '../../src/split/node-cut.js';
import { buildPointParts } from '../../src/split/split.js';
import { hostTensorBytes } from '../../src/tensor/host.js';
import { cli } from '../cli-helper.js';
import { analyze, assertSameTensor, feedsFor, partSession, realSubject, tempDirs, zooSubject, type TestSubject } from '../helpers.js';
import { Rng } from '../models/builder.js';
import { installed, realModels, zoo } from '../models/zoo.js';
import { ancestors, inceptionBlock, randomClosedSet, residualBlocks, subjectOf } from './dags.js';

const temp = tempDirs();

/** The edge nodes of `a` with two of the four branches of `block` (branches 1 and 3). */
function twoBranches(a: ModelAnalysis, branches: string[]): number[] {
  const edge = new Set([...ancestors(a.index, [a.index.producer.get(branches[0]!)!]), ...ancestors(a.index, [a.index.producer.get(branches[2]!)!])]);
  return a.index.dataNodes.filter((n) => edge.has(n));
}

async function checkCut(a: ModelAnalysis, edgeNodes: number[], what: string): Promise<boolean> {
  const feeds = feedsFor(a);
  const full = await createSession(a.model.bytes, { graphOptimizationLevel: 'disabled' });
  const expected = await full.run(feeds);
  await full.release();
  const point = nodeCutPoint(a, edgeNodes, 'test');
  const parts = buildPointParts(a, point);
  const sessions = await Promise.all(parts.map((p) => partSession(p)));
  try {
    const { tensors: pool } = await runChain(sessions, feeds);
    for (const name of a.index.outputs) assertSameTensor(pool.get(name), expected[name]!, `${what} output ${name}`);
    const cloud = parts.find((p) => p.plan.number === 2);
    const handed = cloud ? cloud.plan.inputs : [];
    assert.deepEqual([...handed].sort(), point.cutTensors.map((t) => t.name).sort(), `${what}: cut set`);
    assert.equal(point.transferBytes, handed.reduce((s, n) => s + hostTensorBytes(pool.get(n)!), 0), `${what}: transfer bytes`);
    const edge = parts.find((p) => p.plan.number === 1);
    assert.equal(edge?.plan.nodes.filter((n) => !a.index.constantNode[n]).length ?? 0, edgeNodes.length, `${what}: the edge part holds the edge nodes`);
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  return point.edgeNodes !== undefined;
}

async function checkRandomCuts(subject: TestSubject, count: number): Promise<number> {
  const a = await analyze(subject);
  const rng = new Rng(21);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const edge = randomClosedSet(a.index, rng, 0.05 + 0.4 * rng.next());
    if (await checkCut(a, a.index.dataNodes.filter((n) => edge.has(n)), `${subject.name} random cut ${i}`)) off++;
  }
  return off;
}

describe('a cut given as a node set', () => {
  it('reproduces the full model with two of four Inception branches on the edge', async () => {
    const block = inceptionBlock();
    const a = await analyze(subjectOf(block.model));
    assert.equal(await checkCut(a, twoBranches(a, block.branches), 'two branches'), true, 'no split point');
  });

  it('reproduces the full model at random closed node sets (Inception-like, residual and other zoo models)', async () => {
    const subjects = [subjectOf(residualBlocks()), ...['inception_like', 'resnet_like', 'two_outputs', 'input_reuse', 'constant_nodes', 'mixed_dtypes', 'transformer_block'].map((n) => zooSubject(zoo.find((z) => z.name === n)!))];
    for (const s of subjects) {
      const off = await checkRandomCuts(s, 6);
      if (s.name === 'inception_like') assert.ok(off > 0, `${s.name}: some random cuts are no split point`);
    }
  });

  it('reproduces the full model at the min-cut optimum, and a prefix of the execution order is its split point', async () => {
    const a = await analyze(zooSubject(zoo.find((z) => z.name === 'inception_like')!));
    const rng = new Rng(3);
    const n = a.index.nodes.length;
    const costs = { edgeMs: Float64Array.from({ length: n }, () => rng.uniform(0, 5)), cloudMs: Float64Array.from({ length: n }, () => rng.uniform(0, 5)), transferMs: (b: number) => b / 20000 };
    await checkCut(a, optimalCut(a, costs).best.edgeNodes, 'inception_like optimum');
    const k = 5;
    const point = nodeCutPoint(a, a.index.dataNodes.slice(0, k), 'prefix');
    assert.equal(point.edgeNodes, undefined);
    assert.equal(point.position, k);
    assert.ok(a.splitPoints.some((p) => p.index === point.index && p.splitLayer === point.splitLayer));
  });

  it('is refused when not closed under predecessors, naming the node that reads from the cloud side', async () => {
    const block = inceptionBlock();
    const a = await analyze(subjectOf(block.model));
    // The second node of branch 2 without the first one.
    const b2 = [...ancestors(a.index, [a.index.producer.get(block.branches[1]!)!])].sort((x, y) => x - y);
    const names = edgeNodeNames(a.index, [b2.at(-1)!]);
    const reader = a.index.nodes[b2.at(-1)!]!;
    const from = a.index.nodes[a.index.producer.get(reader.input![0]!)!]!;
    const e = (() => {
      try {
        edgeNodesFromNames(a.index, names, 'inception_block.onnx');
      } catch (err) {
        return err as Error;
      }
      throw new Error('accepted');
    })();
    assert.equal(e.name, 'SplitError');
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, new RegExp(`not closed under predecessors: '${reader.name}' \\(${reader.opType}\\) reads '${reader.input![0]}' from '${from.name}' \\(${from.opType}\\), which is on the cloud side`));
  });

  it('reads cut files of node names or output tensor names, and refuses bad ones with one-line errors', async () => {
    const block = inceptionBlock();
    const a = await analyze(subjectOf(block.model));
    const dir = await temp('cutfile');
    const edge = twoBranches(a, block.branches);
    const byNode = join(dir, 'nodes.json');
    await writeFile(byNode, JSON.stringify({ edge_nodes: edgeNodeNames(a.index, edge) }));
    assert.deepEqual(await readCutFile(byNode, a.index, 'm'), edge);
    const byTensor = join(dir, 'tensors.json');
    await writeFile(byTensor, JSON.stringify({ edge_nodes: ['input', ...edge.map((n) => a.index.nodes[n]!.output![0]!).reverse()] }));
    assert.deepEqual(await readCutFile(byTensor, a.index, 'm'), edge, 'output tensor names, any order, the input accepted');
    const cases: [unknown, RegExp][] = [
      ['{ not json', /cut file .*bad\.json: not JSON/],
      [JSON.stringify({ nodes: [] }), /cut file .*bad\.json: expected \{ "edge_nodes": \["node name", \.\.\.\] \}/],
      [JSON.stringify({ edge_nodes: [1] }), /expected \{ "edge_nodes"/],
      [JSON.stringify({ edge_nodes: ['conv_O'] }), /no node or layer named 'conv_O'; closest: conv_0/],
      [JSON.stringify({ edge_nodes: ['conv_0_W'] }), /edge node 'conv_0_W' is a weight/],
      [JSON.stringify({ edge_nodes: ['conv_0'], extra: 1 }), /cut file .*bad\.json: unknown key 'extra'; a cut file holds only \{ "edge_nodes"/],
      [JSON.stringify({ edge_nodes: ['conv_0'], cloud_nodes: [], note: '' }), /unknown keys 'cloud_nodes', 'note'/],
    ];
    const bad = join(dir, 'bad.json');
    for (const [text, re] of cases) {
      await writeFile(bad, String(text));
      await assert.rejects(readCutFile(bad, a.index, 'm'), (err: Error) => re.test(err.message) && !err.message.includes('\n'));
    }
    await assert.rejects(readCutFile(join(dir, 'missing.json'), a.index, 'm'), /cut file .*missing\.json: cannot read it \(no such file\)/);
  });

  it('split_model --cut_file writes both parts and the manifest; run --cut_file runs the cycle and matches the full model', async () => {
    const block = inceptionBlock();
    const a = await analyze(subjectOf(block.model));
    const dir = await temp('cutcli');
    const model = join(dir, 'block.onnx');
    await writeFile(model, encodeModel(block.model));
    const edge = twoBranches(a, block.branches);
    const cutFile = join(dir, 'edge.json');
    await writeFile(cutFile, JSON.stringify({ edge_nodes: edgeNodeNames(a.index, edge) }));
    const out = join(dir, 'parts');
    const r = await cli(['--operation', 'split_model', '--onnx_file', model, '--cut_file', cutFile, '--onnx_path', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`split ${a.splitPoints.length} at the ${edge.length} edge node\\(s\\) of .*edge\\.json: 3 cut tensor\\(s\\)`));
    assert.ok(existsSync(join(out, 'part1.onnx')) && existsSync(join(out, 'part2.onnx')));
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(m.splits[0].edge_nodes, edgeNodeNames(a.index, edge));
    assert.deepEqual(m.splits[0].sides, ['edge', 'cloud']);
    assert.deepEqual(m.splits[0].cut_tensors.map((t: { name: string }) => t.name), ['input', block.branches[0], block.branches[2]]);

    const run = await cli(['--operation', 'run', '--onnx_file', model, '--cut_file', cutFile, '--rep', '1', '--warmup', '0', '--graph_opt', 'disabled', '--verify']);
    assert.equal(run.code, 0, run.err + run.out);
    assert.match(run.out, /verify: max \|split - full\| = \d.* \(match\)/);

    const open = join(dir, 'open.json');
    const b2Last = a.index.producer.get(block.branches[1]!)!;
    await writeFile(open, JSON.stringify({ edge_nodes: edgeNodeNames(a.index, [b2Last]) }));
    for (const op of [['split_model', '--onnx_path', join(dir, 'x')], ['run']]) {
      const bad = await cli(['--operation', op[0]!, '--onnx_file', model, '--cut_file', open, ...op.slice(1)]);
      assert.equal(bad.code, 2, bad.err);
      assert.equal(bad.errLines.length, 1, bad.err);
      assert.match(bad.err, /not closed under predecessors: 'relu_\d+' \(Relu\) reads/);
    }
    const both = await cli(['--operation', 'split_model', '--onnx_file', model, '--cut_file', cutFile, '--split_layer', 'relu_0_out']);
    assert.equal(both.code, 2);
    assert.match(both.err, /cut_file|split_layer/);
  });
});

describe('list_layers --optimal', () => {
  it('finds a cut no split point makes on PP-OCRv4 det, and its --cut_out file reproduces the model', async () => {
    const det = realModels.find((r) => r.name === 'ppocrv4_det')!;
    const subject = await realSubject(det);
    const dir = await temp('optimal');
    const cutOut = join(dir, 'det.json');
    const shape = `${det.inputs[0]!.name}:${det.inputs[0]!.dims.join(',')}`;
    const link = ['--bandwidth', '3', '--rtt', '0', '--edge_gmacs', '0.1', '--edge_slowdown', '100'];
    const r = await cli(['--operation', 'list_layers', '--onnx_file', installed(det.path), '--input_shape', shape, '--optimal', ...link, '--cut_out', cutOut, '--json']);
    assert.equal(r.code, 0, r.err);
    const { optimal, split_points } = JSON.parse(r.out) as {
      optimal: { is_split_point: boolean; saved_ms: number; best_split: { index: number; total_ms: number }; predicted_ms: { total: number }; edge_nodes: string[] };
      split_points: unknown[];
    };
    assert.equal(optimal.is_split_point, false);
    assert.ok(optimal.saved_ms > 0 && Math.abs(optimal.predicted_ms.total + optimal.saved_ms - optimal.best_split.total_ms) < 1e-9);
    assert.ok(optimal.best_split.index < split_points.length);
    const a = await analyze(subject);
    const edge = await readCutFile(cutOut, a.index, det.name);
    assert.equal(edge.length, optimal.edge_nodes.length);
    assert.equal(await checkCut(a, edge, 'ppocrv4_det optimum'), true);
  });

  it('refuses its settings without --optimal', async () => {
    const r = await cli(['--operation', 'list_layers', '--onnx_file', installed(realModels[0]!.path), '--edge_slowdown', '4']);
    assert.equal(r.code, 2);
    assert.match(r.err, /list_layers: --edge_slowdown is for --optimal; add --optimal/);
  });
});
