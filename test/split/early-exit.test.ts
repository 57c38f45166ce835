/**
 * Early exits: for multi-exit models of the test zoo, the zoo's two_outputs model, internal
 * tensors of a zoo model and of real models (PP-OCR cls, PP-OCRv4 det) asked for as exits, the parts written
 * by writeEarlyExits and run in the manifest's order by runEarlyExits give every exit exactly as
 * the full model computes it (onnxruntime, graph optimisation off on both sides). The structure
 * is checked against the nodes each exit needs, found here by walking the decoded part files and
 * the original graph, apart from the splitter: every exit's parts hold exactly its nodes, every
 * node sits in one part only (the shared trunk is written once, as the first part), and each
 * part reads only model inputs and outputs of earlier parts.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import type { ModelProto, NodeProto } from '../../src/onnx/types.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import type { EarlyExitManifest } from '../../src/split/early-exit-manifest.js';
import { buildEarlyExitParts, writeEarlyExits } from '../../src/split/early-exit-parts.js';
import { runEarlyExits } from '../../src/split/early-exit-run.js';
import { analyze, assertSameTensor, feedsFor, realSubject, tempDirs, zooSubject, type TestSubject } from '../helpers.js';
import { valueInfo } from '../models/builder.js';
import { earlyExitZoo } from '../models/early-exit-zoo.js';
import { realModels, zoo } from '../models/zoo.js';

const freshDir = tempDirs();
const disabled = { graphOptimizationLevel: 'disabled' as const };

/** A node's key: its first output (unique, and present where names are not). */
const key = (n: NodeProto) => (n.output ?? []).find((o) => o)!;

/** The full model with `exits` added to its outputs, run once: the reference for every exit. */
async function reference(a: ModelAnalysis, exits: readonly string[], feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const proto = decodeModel(a.model.bytes);
  const g = proto.graph!;
  const declared = new Set((g.output ?? []).map((o) => o.name));
  for (const e of exits) {
    if (declared.has(e)) continue;
    const info = a.shapes.get(e)!;
    g.output = [...(g.output ?? []), valueInfo(e, info.elemType, info.dims)];
  }
  const session = await createSession(encodeModel(proto), disabled);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Node keys each exit needs, found by walking producers in the original graph from the exit tensor. */
function neededNodes(proto: ModelProto, exit: string): Set<string> {
  const byOutput = new Map<string, NodeProto>();
  for (const n of proto.graph!.node ?? []) for (const o of n.output ?? []) if (o) byOutput.set(o, n);
  const seen = new Set<string>();
  const stack = [exit];
  while (stack.length > 0) {
    const n = byOutput.get(stack.pop()!);
    if (!n || seen.has(key(n))) continue;
    seen.add(key(n));
    for (const i of n.input ?? []) if (i) stack.push(i);
    for (const attr of n.attribute ?? []) if (attr.g || attr.graphs?.length) throw new Error('subgraphs are not walked here');
  }
  return seen;
}

interface Case {
  subject: TestSubject;
  exits: string[];
}

async function checkEarlyExits({ subject, exits }: Case): Promise<EarlyExitManifest> {
  const a = await analyze(subject);
  const feeds = feedsFor(a);
  const expected = await reference(a, exits, feeds);
  const dir = path.join(await freshDir(`exit-${subject.name}`), 'out');
  const manifest = await writeEarlyExits(a, exits, dir);
  const what = `${subject.name} [${exits.join(', ')}]`;

  // Written as returned, every part's size as stated.
  assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')), manifest);
  const { parts } = manifest.early_exit;
  for (const p of parts) {
    assert.equal((await stat(path.join(dir, p.file))).size, p.bytes, `${what}: ${p.file} size`);
    for (const o of p.outputs) assert.ok(o.exit || o.to.length > 0, `${what}: ${p.file} output ${o.name} is an exit or read by a later part`);
  }

  // Running the parts in order reproduces every exit bit for bit.
  const run = await runEarlyExits(path.join(dir, 'manifest.json'), feeds, { createSession, sessionOptions: disabled });
  assert.deepEqual([...run.exits.keys()], exits);
  for (const e of exits) assertSameTensor(run.exits.get(e), expected[e]!, `${what}: exit ${e}`);
  assert.deepEqual(run.parts, parts.map((p) => p.file), `${what}: all parts run, in order`);

  // Each exit alone runs only its own parts, and still gives its output exactly.
  for (const e of manifest.early_exit.exits) {
    const alone = await runEarlyExits(path.join(dir, 'manifest.json'), feeds, { createSession, sessionOptions: disabled, exits: [e.name] });
    assert.deepEqual(alone.parts, e.parts, `${what}: parts run for ${e.name}`);
    assertSameTensor(alone.exits.get(e.name), expected[e.name]!, `${what}: exit ${e.name} alone`);
  }

  // Structure, from the part files and the original graph.
  const original = decodeModel(a.model.bytes);
  const constant = new Set(a.index.nodes.filter((_, i) => a.index.constantNode[i]).map(key));
  const partNodes = new Map<string, string[]>();
  const available = new Set(a.index.inputs);
  for (const p of parts) {
    const g = decodeModel(await readFile(path.join(dir, p.file))).graph!;
    for (const i of g.input ?? []) {
      if (a.index.initializers.has(i.name!)) continue;
      assert.ok(available.has(i.name!), `${what}: ${p.file} reads '${i.name}', which no model input or earlier part gives`);
    }
    for (const o of g.output ?? []) available.add(o.name!);
    const nodes = (g.node ?? []).map(key);
    partNodes.set(p.file, nodes.filter((n) => !constant.has(n)));
    assert.equal(partNodes.get(p.file)!.length, p.nodes, `${what}: ${p.file} node count`);
  }
  const owner = new Map<string, string>();
  for (const [file, nodes] of partNodes) {
    for (const n of nodes) {
      assert.ok(!owner.has(n), `${what}: node ${n} is in ${owner.get(n)} and in ${file}: shared nodes are written once`);
      owner.set(n, file);
    }
  }
  const neededByAny = new Set<string>();
  for (const e of manifest.early_exit.exits) {
    const needed = [...neededNodes(original, e.name)].filter((n) => !constant.has(n)).sort();
    needed.forEach((n) => neededByAny.add(n));
    const held = e.parts.flatMap((f) => partNodes.get(f)!).sort();
    assert.deepEqual(held, needed, `${what}: the parts of ${e.name} hold exactly the nodes it needs`);
    assert.equal(e.nodes, needed.length);
  }
  assert.deepEqual([...owner.keys()].sort(), [...neededByAny].sort(), `${what}: no part holds a node no exit needs`);
  // The trunk every exit starts from is one part, the first.
  assert.deepEqual(parts[0]!.exits, exits, `${what}: part1 is the shared trunk`);
  return manifest;
}

const zooModel = (name: string) => zooSubject({ ...zoo.find((z) => z.name === name)! });

describe('early exits: each exit reproduced exactly, the trunk written once', () => {
  for (const m of earlyExitZoo) {
    it(`${m.name} (${m.exits.join(', ')})`, async () => {
      const manifest = await checkEarlyExits({ subject: zooSubject({ ...m, outputs: [] }), exits: m.exits });
      // One trunk part, then per exit its own head, and between exits the trunk they still share.
      assert.equal(manifest.early_exit.parts.length, 2 * m.exits.length - 1);
      // Exit i (from 0) needs the i + 1 trunk parts up to it and its head; the last one has no trunk after it.
      const last = m.exits.length - 1;
      assert.deepEqual(manifest.early_exit.exits.map((e) => e.parts.length), m.exits.map((_, i) => (i < last ? i + 2 : last + 1)));
    });
  }

  it('resnet_3_exits asked for its first two exits only: the third stage and its head are left out', async () => {
    const z = earlyExitZoo.find((m) => m.name === 'resnet_3_exits')!;
    const m = await checkEarlyExits({ subject: zooSubject({ ...z, outputs: [] }), exits: ['exit1', 'exit2'] });
    const a = await analyze(zooSubject({ ...z, outputs: [] }));
    const held = m.early_exit.parts.reduce((n, p) => n + p.nodes, 0);
    assert.ok(held < a.index.dataNodes.length, `${held} of ${a.index.dataNodes.length} nodes`);
  });

  it('two_outputs (aux_logits, logits): trunk part1 feeds both heads', async () => {
    const m = await checkEarlyExits({ subject: zooModel('two_outputs'), exits: ['aux_logits', 'logits'] });
    const [trunk, aux, main] = m.early_exit.parts;
    assert.deepEqual([trunk!.file, aux!.exits, main!.exits], ['part1.onnx', ['aux_logits'], ['logits']]);
    assert.deepEqual(trunk!.outputs.map((o) => [o.name, o.to, o.exit]), [['relu_1_out', ['part2.onnx', 'part3.onnx'], false]]);
    assert.deepEqual(aux!.inputs.map((i) => [i.name, i.from]), [['relu_1_out', 'part1.onnx']]);
    assert.deepEqual(trunk!.inputs.map((i) => [i.name, i.from]), [['input', 'input']]);
  });

  it('two_outputs listed deepest first (logits, aux_logits): neither needs the other, so any order is fine', async () => {
    const m = await checkEarlyExits({ subject: zooModel('two_outputs'), exits: ['logits', 'aux_logits'] });
    assert.deepEqual(m.early_exit.parts.map((p) => p.exits), [['logits', 'aux_logits'], ['logits'], ['aux_logits']]);
  });

  it('internal tensors of resnet_like as exits (relu_2_out, relu_3_out, logits): an exit may feed the next', async () => {
    const m = await checkEarlyExits({ subject: zooModel('resnet_like'), exits: ['relu_2_out', 'relu_3_out', 'logits'] });
    const out = m.early_exit.parts[0]!.outputs.find((o) => o.name === 'relu_2_out')!;
    assert.equal(out.exit, true);
    assert.ok(out.to.length > 0, 'the exit tensor is also handed on');
  });

  it('the Concat tensor itself as an exit, before the head after it (concat_exits)', async () => {
    await checkEarlyExits({ subject: zooSubject({ ...earlyExitZoo.find((z) => z.name === 'concat_exits')!, outputs: [] }), exits: ['concat_0_out', 'exit_concat', 'logits'] });
  });

  it('concat_exits: the shared part hands the deeper exit two tensors (the Concat and its pooled features)', async () => {
    const z = earlyExitZoo.find((m) => m.name === 'concat_exits')!;
    const a = await analyze(zooSubject({ ...z, outputs: [] }));
    const { plan } = buildEarlyExitParts(a, z.exits);
    assert.equal(plan.parts.length, 3);
    assert.deepEqual(plan.parts[2]!.plan.inputs, ['concat_0_out', 'flatten_0_out']);
    assert.deepEqual(plan.parts[0]!.plan.outputs, ['concat_0_out', 'flatten_0_out']);
  });

  it('both outputs of one Split node as exits, listed either way round: one part gives both', async () => {
    const z = earlyExitZoo.find((m) => m.name === 'split_exits')!;
    for (const exits of [['split_0_out0', 'split_0_out1', 'left', 'right'], ['split_0_out1', 'split_0_out0', 'right', 'left']]) {
      const m = await checkEarlyExits({ subject: zooSubject({ ...z, outputs: [] }), exits });
      assert.deepEqual(m.early_exit.exits.slice(0, 2).map((e) => e.parts), [['part1.onnx'], ['part1.onnx']]);
    }
  });

  it('parts with their weights in external data files run from the manifest as well', async () => {
    const z = earlyExitZoo.find((m) => m.name === 'resnet_3_exits')!;
    const a = await analyze(zooSubject({ ...z, outputs: [] }));
    const dir = path.join(await freshDir('exit-external'), 'out');
    const manifest = await writeEarlyExits(a, z.exits, dir, { externalThreshold: 0 });
    const files = (await readdir(dir)).sort();
    // Tensors under 1 KiB stay inline, so the heads' small weights keep some parts without a data file.
    assert.ok(files.includes('part1.onnx.data'), 'the trunk has its data file');
    for (const p of manifest.early_exit.parts) {
      const data = files.includes(`${p.file}.data`) ? (await stat(path.join(dir, `${p.file}.data`))).size : 0;
      assert.equal((await stat(path.join(dir, p.file))).size + data, p.bytes, `${p.file}: bytes of the part and its data file`);
    }
    const feeds = feedsFor(a);
    const expected = await reference(a, z.exits, feeds);
    const run = await runEarlyExits(path.join(dir, 'manifest.json'), feeds, { createSession, sessionOptions: disabled });
    for (const e of z.exits) assertSameTensor(run.exits.get(e), expected[e]!, `external data: exit ${e}`);
  });

  it('a real model: PP-OCR cls with three internal tensors as extra exits before its softmax', async () => {
    const cls = realModels.find((r) => r.name === 'ppocr_mobile_v2_cls')!;
    const m = await checkEarlyExits({ subject: await realSubject(cls), exits: ['p2o.Add.7', 'hardswish_11.tmp_0', 'p2o.Add.87', 'softmax_0.tmp_0'] });
    // A chain: each exit adds one part, the last exit (softmax of the logits) one node.
    assert.deepEqual(m.early_exit.exits.map((e) => e.parts.length), [1, 2, 3, 4]);
    assert.equal(m.early_exit.parts.at(-1)!.nodes, 1);
  });

  it('a real model with skip connections: PP-OCRv4 det (FPN), three internal exits; its last part reads from every earlier part', async () => {
    const det = realModels.find((r) => r.name === 'ppocrv4_det')!;
    const m = await checkEarlyExits({ subject: await realSubject(det), exits: ['p2o.Add.75', 'p2o.Mul.109', 'p2o.GlobalAveragePool.5', 'sigmoid_0.tmp_0'] });
    const last = m.early_exit.parts.at(-1)!;
    assert.deepEqual([...new Set(last.inputs.map((i) => i.from))].sort(), ['part1.onnx', 'part2.onnx', 'part3.onnx']);
  });
});
