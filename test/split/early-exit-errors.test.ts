/**
 * Early exits refused: unknown, repeated, input, weight and constant exits, an exit listed before
 * one it needs, a graph with a cycle (even a graph index forged to have one: the planner stops),
 * bad manifests given to the runner; each with a one-line message, and a failed write leaves
 * the output folder as it was. Also the command line: its table of parts, and its errors.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FileError, GraphError, SplitError, UsageError } from '../../src/errors.js';
import { encodeModel } from '../../src/onnx/codec.js';
import type { GraphIndex } from '../../src/onnx/graph.js';
import { createSession } from '../../src/runtime/ort.js';
import { planEarlyExits } from '../../src/split/early-exit.js';
import { writeEarlyExits } from '../../src/split/early-exit-parts.js';
import { runEarlyExits } from '../../src/split/early-exit-run.js';
import { writeSplitAt } from '../../src/split/split.js';
import { cli } from '../cli-helper.js';
import { analyze, feedsFor, tempDirs, writeZooModel, zooSubject } from '../helpers.js';
import { DataType, IR_VERSION, OPSET_VERSION, valueInfo } from '../models/builder.js';
import { earlyExitZoo } from '../models/early-exit-zoo.js';
import { zoo } from '../models/zoo.js';

const freshDir = tempDirs();
const subject = (name: string) => zooSubject({ outputs: [], ...(zoo.find((z) => z.name === name) ?? earlyExitZoo.find((z) => z.name === name)!) });

/** Asserts `promise` rejects with a `type` whose message is one line containing every string. */
async function refused(promise: Promise<unknown>, type: new (...args: never[]) => Error, parts: string[]): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err.name}: ${err.message}`);
    assert.ok(!/[\r\n]/.test(err.message), `one line: ${err.message}`);
    for (const p of parts) assert.ok(err.message.includes(p), `${JSON.stringify(err.message)} should contain ${JSON.stringify(p)}`);
    return true;
  });
}

describe('early exits that cannot be made', () => {
  it('bad exit names: unknown (closest names), repeated, a model input, a weight, a constant, none', async () => {
    const resnet = await analyze(subject('resnet_like'));
    const constants = await analyze(subject('constant_nodes'));
    const out = path.join(await freshDir('exit-bad'), 'out');
    const cases: [typeof resnet, string[], string[]][] = [
      [resnet, ['relu_3ou', 'logits'], ["no tensor named 'relu_3ou'; closest: relu_3_out"]],
      [resnet, ['logits', 'logit'], ["no tensor named 'logit'; closest: logits"]],
      [resnet, ['relu_2_out', 'logits', 'relu_2_out'], ["exit 'relu_2_out' is given twice"]],
      [resnet, ['input', 'logits'], ["exit 'input' is a model input"]],
      [resnet, ['conv_0_W'], ["exit 'conv_0_W' is a weight"]],
      [constants, ['shape_0_out', 'logits'], ["exit 'shape_0_out' is computed from weights only"]],
      [resnet, [], ['no exit given']],
    ];
    for (const [a, exits, parts] of cases) {
      await refused(writeEarlyExits(a, exits, out), SplitError, [a.model.label, ...parts]);
    }
    assert.ok(!existsSync(out), 'nothing written');
  });

  it('an exit listed before an exit it needs: refused, naming both and the order to use', async () => {
    const a = await analyze(subject('resnet_3_exits'));
    const out = path.join(await freshDir('exit-order'), 'out');
    // exit2 shares the trunk with exit1 but needs nothing of exit1's head: any order of the two is fine.
    await writeEarlyExits(a, ['exit2', 'exit1', 'logits'], out);
    const b = await analyze(subject('resnet_like'));
    await refused(writeEarlyExits(b, ['logits', 'relu_2_out'], path.join(out, 'x')), SplitError, [
      "exit 'logits' needs exit 'relu_2_out', which is listed after it",
      "'relu_2_out' before 'logits'",
    ]);
    assert.ok(!existsSync(path.join(out, 'x')));
  });

  it('a graph with a cycle: refused by the command in one line, nothing written', async () => {
    const dir = await freshDir('exit-cycle');
    const file = path.join(dir, 'cycle.onnx');
    const graph = {
      name: 'cycle',
      node: [
        { name: 'loop_add', opType: 'Add', input: ['x', 'loop_back'], output: ['a'] },
        { name: 'loop_relu', opType: 'Relu', input: ['a'], output: ['b'] },
        { name: 'loop_neg', opType: 'Neg', input: ['b'], output: ['loop_back'] },
        { name: 'out', opType: 'Identity', input: ['a'], output: ['y'] },
      ],
      input: [valueInfo('x', DataType.FLOAT, [1, 4])],
      output: [valueInfo('y', DataType.FLOAT, [1, 4])],
    };
    await writeFile(file, encodeModel({ irVersion: IR_VERSION, opsetImport: [{ domain: '', version: OPSET_VERSION }], graph }));
    const r = await cli(['early_exit_split_model', '--onnx_file', file, '--outputs', 'b', 'y', '--onnx_path', path.join(dir, 'out')]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /cycle\.onnx: the graph has a cycle through 'loop_add'/);
    assert.equal(r.errLines.length, 1);
    assert.ok(!existsSync(path.join(dir, 'out')));
  });

  it('a graph index forged with a cycle: the planner stops with a GraphError instead of looping', () => {
    // a = Add(x, b); b = Relu(a): each reads the other.
    const forged: GraphIndex = {
      nodes: [
        { name: 'add', opType: 'Add', input: ['x', 'b'], output: ['a'] },
        { name: 'relu', opType: 'Relu', input: ['a'], output: ['b'] },
      ],
      order: [0, 1],
      position: Int32Array.from([0, 1]),
      inputs: ['x'],
      outputs: ['b'],
      initializers: new Map(),
      sparseInitializers: new Map(),
      producer: new Map([
        ['a', 0],
        ['b', 1],
      ]),
      nodeInputs: [['x', 'b'], ['a']],
      consumers: new Map([
        ['x', [0]],
        ['b', [0]],
        ['a', [1]],
      ]),
      constantNode: [false, false],
      constantTensors: new Set(),
      dataNodes: [0, 1],
      sorted: false,
    };
    assert.throws(() => planEarlyExits(forged, ['b'], 'forged.onnx'), (err: Error) => err instanceof GraphError && /forged\.onnx: the graph has a cycle through 'add' and 'relu'/.test(err.message));
  });
});

describe('early-exit parts are written all or nothing', () => {
  /** Every entry under `dir`, relative, sorted. */
  const tree = async (dir: string) => (await readdir(dir, { recursive: true })).map(String).sort();

  for (const [what, blocked] of [
    ['a folder where part2.onnx goes', 'part2.onnx'],
    ['a folder where the last part goes', 'part5.onnx'],
    ['a folder where manifest.json goes (every part already moved into place)', 'manifest.json'],
  ] as const) {
    it(what, async () => {
      const a = await analyze(subject('resnet_3_exits'));
      const out = path.join(await freshDir('exit-atomic'), 'out');
      await mkdir(path.join(out, blocked), { recursive: true });
      const before = await tree(out);
      await refused(writeEarlyExits(a, ['exit1', 'exit2', 'logits'], out), FileError, [blocked]);
      assert.deepEqual(await tree(out), before, 'the folder is as it was: no part, no temporary, no manifest');
    });
  }
});

describe('runEarlyExits refuses what it cannot run', () => {
  it('a split_model manifest, an unknown exit, a part outside the folder, a missing input', async () => {
    const a = await analyze(subject('two_outputs'));
    const feeds = feedsFor(a);
    const dir = await freshDir('exit-run');
    await writeSplitAt(a, ['relu_1_out'], path.join(dir, 'split'));
    const opts = { createSession };
    await refused(runEarlyExits(path.join(dir, 'split', 'manifest.json'), feeds, opts), FileError, ['not an early-exit manifest']);
    await refused(runEarlyExits(path.join(dir, 'none', 'manifest.json'), feeds, opts), FileError, ['no such file']);

    const manifest = path.join(dir, 'exits', 'manifest.json');
    await writeEarlyExits(a, ['aux_logits', 'logits'], path.dirname(manifest));
    await refused(runEarlyExits(manifest, feeds, { ...opts, exits: ['aux'] }), UsageError, ["has no exit 'aux'", 'aux_logits, logits']);
    await refused(runEarlyExits(manifest, {}, opts), UsageError, ['part1.onnx', "needs 'input'"]);

    const m = JSON.parse(await readFile(manifest, 'utf8'));
    m.early_exit.parts[1].file = '../elsewhere.onnx';
    const tampered = path.join(dir, 'exits', 'tampered.json');
    await writeFile(tampered, JSON.stringify(m));
    await refused(runEarlyExits(tampered, feeds, opts), FileError, ["part file '../elsewhere.onnx' is not a path inside the manifest's folder"]);
    await writeFile(tampered, '{ not json');
    await refused(runEarlyExits(tampered, feeds, opts), FileError, ['tampered.json: not JSON']);
  });
});

describe('early_exit_split_model on the command line', () => {
  it('writes the parts and prints each with its node count, inputs, outputs and size', async () => {
    const dir = await freshDir('exit-cli');
    const file = writeZooModel('two_outputs', dir);
    const out = path.join(dir, 'exits');
    const r = await cli(['--operation', 'early_exit_split_model', '--onnx_file', file, '--outputs', 'aux_logits', 'logits', '--onnx_path', out]);
    assert.equal(r.code, 0, r.err);
    const m = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual((await readdir(out)).sort(), ['manifest.json', 'part1.onnx', 'part2.onnx', 'part3.onnx']);
    for (const p of m.early_exit.parts) {
      const row = r.out.split('\n').find((l) => l.startsWith(p.file))!;
      assert.ok(row, `a row for ${p.file}`);
      assert.match(row, new RegExp(`^${p.file}\\s+${p.nodes}\\s`));
      for (const t of [...p.inputs, ...p.outputs]) assert.ok(row.includes(t.name), `${p.file} row names ${t.name}`);
    }
    assert.match(r.out, /relu_1_out -> part2\.onnx, part3\.onnx/);
    assert.match(r.out, /\d+(\.\d+)? KiB/);
    assert.match(r.out, /exit 'aux_logits': part1\.onnx \+ part2\.onnx \(\d+ nodes\)/);
    assert.match(r.out, /exit 'logits': part1\.onnx \+ part3\.onnx \(\d+ nodes\)/);
    assert.match(r.out, /^wrote 3 parts and manifest\.json to /m);
    // One exit: one part, said so.
    const one = await cli(['early_exit_split_model', '--onnx_file', file, '--outputs', 'logits', '--onnx_path', path.join(dir, 'one')]);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /^wrote 1 part and manifest\.json to /m);
  });

  it('refuses a misspelt exit and a missing --outputs in one line', async () => {
    const dir = await freshDir('exit-cli-bad');
    const file = writeZooModel('two_outputs', dir);
    const bad = await cli(['early_exit_split_model', '--onnx_file', file, '--outputs', 'aux_logit', 'logits', '--onnx_path', path.join(dir, 'x')]);
    assert.equal(bad.code, 2, 'an exit the model does not have is a bad argument');
    assert.match(bad.err, /two_outputs\.onnx: no tensor named 'aux_logit'; closest: aux_logits/);
    assert.equal(bad.errLines.length, 1);
    const none = await cli(['early_exit_split_model', '--onnx_file', file]);
    assert.equal(none.code, 2);
    assert.match(none.err, /outputs/);
    assert.equal(none.errLines.length, 1);
    assert.ok(!existsSync(path.join(dir, 'x')));
  });
});
