/**
 * Bad input at the library level: files that are not ONNX models, graphs that cannot be split,
 * split layers that do not exist or cannot be cut, and output folders that cannot be written. Each
 * gives the right error class from src/errors.ts with a one-line message naming the file and the
 * problem, and a failed write leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FileError, GraphError, OnnxFormatError, OnnxManagerError, SplitError, UsageError } from '../../src/errors.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { loadModel } from '../../src/onnx/model.js';
import type { ModelProto, NodeProto } from '../../src/onnx/types.js';
import { runChain } from '../../src/runtime/chain.js';
import { createSession } from '../../src/runtime/ort.js';
import { analyzeFile, analyzeModel, type ModelAnalysis } from '../../src/split/analysis.js';
import { buildParts, splitFolder, writeAllSplits, writeSplitAt } from '../../src/split/split.js';
import { analyze, assertSameTensor, feedsFor, inputShapes, partSession, zooSubject, tempDirs } from '../helpers.js';
import { DataType, IR_VERSION, OPSET_VERSION, valueInfo } from '../models/builder.js';
import { installed, realModels, resnetLike, zoo } from '../models/zoo.js';

const freshDir = tempDirs();

const resnetZoo = zoo.find((z) => z.name === 'resnet_like')!;
const constantZoo = zoo.find((z) => z.name === 'constant_nodes')!;

/** Asserts `promise` rejects with an error of `type` whose one-line message matches every pattern. */
async function rejectsWith(promise: Promise<unknown>, type: abstract new (...args: never[]) => OnnxManagerError, patterns: (RegExp | string)[]): Promise<Error> {
  let caught: Error | undefined;
  await assert.rejects(promise, (err: Error) => {
    caught = err;
    assert.ok(err instanceof type, `expected ${type.name}, got ${err.name}: ${err.message}`);
    assert.ok(!/[\r\n]/.test(err.message), `one line: ${JSON.stringify(err.message)}`);
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(err.message.includes(p), `message ${JSON.stringify(err.message)} should contain ${JSON.stringify(p)}`);
      else assert.match(err.message, p);
    }
    return true;
  });
  return caught!;
}

/** Every file and folder under `dir`, relative, with '/' separators, folders marked with a trailing '/'. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(path.join(d, e.name), r);
      } else {
        out.push(r);
      }
    }
  };
  await walk(dir, '');
  return out.sort();
}

// ------------------------------------------------------------------------------ not a model

describe('files that are not ONNX models', () => {
  it('a text file: OnnxFormatError', async () => {
    const dir = await freshDir('bad-text');
    const file = path.join(dir, 'notes.onnx');
    await writeFile(file, 'This is not an ONNX model.\nJust some text, really.\n');
    const err = await rejectsWith(loadModel(file), OnnxFormatError, [file, 'not a valid ONNX model']);
    assert.equal((err as OnnxFormatError).file, file);
  });

  it('an empty file: OnnxFormatError saying it is empty', async () => {
    const dir = await freshDir('bad-empty');
    const file = path.join(dir, 'empty.onnx');
    await writeFile(file, '');
    await rejectsWith(loadModel(file), OnnxFormatError, [file, 'not a valid ONNX model', 'empty']);
  });

  it('a truncated file (first half of a model): OnnxFormatError saying it is truncated', async () => {
    const dir = await freshDir('bad-trunc');
    const bytes = encodeModel(resnetLike());
    const file = path.join(dir, 'half.onnx');
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejectsWith(loadModel(file), OnnxFormatError, [file, 'not a valid ONNX model', 'truncated']);
  });

  it('a truncated real model: OnnxFormatError', async () => {
    const real = realModels.find((r) => r.name === 'ppocr_mobile_v2_cls')!;
    const dir = await freshDir('bad-trunc-real');
    const bytes = await readFile(installed(real.path));
    const file = path.join(dir, path.basename(real.path));
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejectsWith(loadModel(file), OnnxFormatError, [file, 'not a valid ONNX model', 'truncated']);
  });

  it('a missing file: FileError', async () => {
    const dir = await freshDir('bad-missing');
    const file = path.join(dir, 'nope.onnx');
    const err = await rejectsWith(loadModel(file), FileError, [file, 'no such file']);
    assert.equal((err as FileError).file, file);
  });

  it('a directory: FileError', async () => {
    const dir = await freshDir('bad-dir');
    const file = path.join(dir, 'model.onnx');
    await mkdir(file);
    await rejectsWith(loadModel(file), FileError, [file, 'is a directory']);
  });
});

// ------------------------------------------------------------------------------ bad graphs

/** opts.shapeless: x declares no shape, so any --input_shape is taken for it. */
function tinyModel(nodes: NodeProto[], opts: { outputs?: string[]; shapeless?: boolean } = {}): ModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: 'bad-input-test',
    graph: {
      name: 'tiny',
      node: nodes,
      input: [opts.shapeless ? { name: 'x', type: { tensorType: { elemType: DataType.FLOAT } } } : valueInfo('x', DataType.FLOAT, [1, 4])],
      output: (opts.outputs ?? ['y']).map((o) => valueInfo(o, DataType.FLOAT, [1, 4])),
    },
  };
}

async function writeModel(proto: ModelProto, tag: string, name = 'model.onnx'): Promise<string> {
  const file = path.join(await freshDir(tag), name);
  await writeFile(file, encodeModel(proto));
  return file;
}

const analyzeOpts = { createSession, inputShapes: { x: [1, 4] } };

describe('declared shapes that contradict the graph', () => {
  const chain = [
    { opType: 'Relu', input: ['x'], output: ['h'], name: 'relu' },
    { opType: 'Sigmoid', input: ['h'], output: ['y'], name: 'sigmoid' },
  ];
  const withInfo = (info: ReturnType<typeof valueInfo>[], extra: Partial<ModelProto['graph']> = {}): ModelProto => {
    const m = tinyModel(chain);
    m.graph = { ...m.graph!, valueInfo: info, ...extra };
    return m;
  };

  it('value_info far larger than any tensor can be: SplitError naming the tensor and its bytes', async () => {
    const file = await writeModel(withInfo([valueInfo('h', DataType.FLOAT, [1, 1e6, 1e6, 1e6])]), 'vi-huge');
    await rejectsWith(analyzeFile(file, { createSession }), SplitError, [file, "value_info of 'h'", '1x1000000x1000000x1000000', '4000000000000000000 bytes']);
  });

  it('value_info with another element type than the node makes: SplitError naming the tensor, both types and the node', async () => {
    const file = await writeModel(withInfo([valueInfo('h', DataType.DOUBLE, [1, 4])]), 'vi-double');
    await rejectsWith(analyzeFile(file, { createSession }), SplitError, [file, "value_info of 'h' says float64", "Relu node 'relu' makes float32"]);
  });

  it('value_info with another shape than the graph implies for an elementwise node: SplitError naming both shapes', async () => {
    const file = await writeModel(withInfo([valueInfo('h', DataType.FLOAT, [1, 8])]), 'vi-shape');
    await rejectsWith(analyzeFile(file, { createSession }), SplitError, [file, "value_info of 'h' says 1x8", "Relu node 'relu' makes 1x4"]);
  });

  it('a declared output with another element type than its producer makes: SplitError', async () => {
    const m = tinyModel(chain);
    m.graph!.output = [valueInfo('y', DataType.DOUBLE, [1, 4])];
    const file = await writeModel(m, 'out-double');
    await rejectsWith(analyzeFile(file, { createSession }), SplitError, [file, "output 'y' says float64", "Sigmoid node 'sigmoid' makes float32"]);
  });

  it('an initializer named like the graph input with another shape: SplitError naming the input and both shapes', async () => {
    const m = tinyModel(chain);
    m.graph!.initializer = [{ name: 'x', dims: [10], dataType: DataType.FLOAT, floatData: Array(10).fill(0) }];
    const file = await writeModel(m, 'init-input');
    await rejectsWith(analyzeFile(file, { createSession }), SplitError, [file, "input 'x' is declared 1x4 float32", 'an initializer of the same name holds 10 float32']);
  });

  it('value_info that agrees with the graph is used as before', async () => {
    const file = await writeModel(withInfo([valueInfo('h', DataType.FLOAT, [1, 4])]), 'vi-good');
    const a = await analyzeFile(file, { createSession });
    assert.equal(a.splitPoints.length, 3);
  });
});

describe('inputs too large to allocate', () => {
  const relu = [{ opType: 'Relu', input: ['x'], output: ['y'], name: 'relu' }];
  for (const [dims, bytes] of [
    [[1, 1e9, 1e9], '4000000000000000000 bytes'],
    [[2 ** 62, 1], 'not an exact integer'],
    [[1, 3, 100000, 100000], '120000000000 bytes (111.8 GiB)'],
  ] as const) {
    it(`x: ${dims.join('x')}: SplitError naming the input, its shape and what it would need`, async () => {
      const file = await writeModel(tinyModel(relu, { shapeless: true }), 'huge-input');
      const err = await rejectsWith(analyzeFile(file, { createSession, inputShapes: { x: [...dims] } }), SplitError, [file, "input 'x'", bytes]);
      assert.ok(!/Invalid typed array length/.test(err.message));
    });
  }
});

describe('--batch on a model that fixes every batch dimension', () => {
  it('names each input\'s declared shape, free dimensions by their names, not as 0', async () => {
    const model = tinyModel([{ opType: 'Relu', input: ['x'], output: ['y'], name: 'relu' }]);
    model.graph!.input = [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimParam: 'width' }] } } } }];
    const file = await writeModel(model, 'batch-fixed');
    await rejectsWith(analyzeFile(file, { createSession, batch: 4 }), UsageError, ['--batch 4', "('x' 1xwidth)", 'no batch to bind']);
  });
});

/** Relu then Sigmoid on an input x of no declared shape: every shape is measured by running it. */
const undeclared = (tag: string) =>
  writeModel(tinyModel([
    { opType: 'Relu', input: ['x'], output: ['h'], name: 'relu' },
    { opType: 'Sigmoid', input: ['h'], output: ['y'], name: 'sigmoid' },
  ], { shapeless: true }), tag);

/** createSession that notes each session it makes in `seen`. */
const countingSessions = (seen: string[]) => async (m: Uint8Array, o: Parameters<typeof createSession>[1]) => (seen.push('session'), createSession(m, o));

describe('measuring the shapes a model does not declare', () => {
  it('tells onProbe how many tensors it measures and on how many bytes of inputs, before it runs anything', async () => {
    const file = await undeclared('probe-note');
    const seen: string[] = [];
    await analyzeFile(file, { createSession: countingSessions(seen), inputShapes: { x: [2, 8] }, onProbe: (tensors, bytes) => void seen.push(`probe ${tensors} ${bytes}`) });
    assert.equal(seen[0], 'probe 2 64', seen.join(', '));
    assert.equal(seen.filter((s) => s.startsWith('probe')).length, 1);
  });
});

describe('the shapes a run measures', () => {
  it('data-dependent dims, a string tensor (its bytes are its content) and a tensor named like the probe\'s own Shape outputs are measured as onnxruntime computes them', async () => {
    const taken = 'onnx_manager_shape_probe_0';
    const m = tinyModel(
      [
        { opType: 'Relu', input: ['x'], output: [taken], name: 'relu' },
        { opType: 'NonZero', input: [taken], output: ['nz'], name: 'nonzero' },
        { opType: 'Cast', input: ['x'], output: ['s'], name: 'to_text', attribute: [{ name: 'to', type: 2, i: DataType.STRING }] },
      ],
      { shapeless: true },
    );
    m.graph!.output = [{ name: 'nz' }, { name: 's' }];
    const x = { type: 'float32', dims: [2, 3], data: new Float32Array([1, -1, 2, 0, 3, -2]) };
    const a = await analyzeFile(await writeModel(m, 'probe-kinds'), { createSession, inputShapes: { x: [2, 3] }, feeds: { x } });
    const info = (n: string) => ({ elemType: a.shapes.get(n)!.elemType, dims: a.shapes.get(n)!.dims, source: a.shapes.get(n)!.source });
    assert.deepEqual(info(taken), { elemType: DataType.FLOAT, dims: [2, 3], source: 'run' });
    // Three of the six are positive: NonZero gives [rank, count].
    assert.deepEqual(info('nz'), { elemType: DataType.INT64, dims: [2, 3], source: 'run' });
    assert.deepEqual(info('s'), { elemType: DataType.STRING, dims: [2, 3], source: 'run' });
    assert.equal(a.shapes.get('s')!.bytes, Buffer.byteLength(['1', '-1', '2', '0', '3', '-2'].join('')));
  });
});

describe('shapes too costly to measure', () => {
  it('undeclared shapes behind a 384 MB input: SplitError naming the input and its bytes, before anything runs', async () => {
    const file = await undeclared('probe-huge');
    const seen: string[] = [];
    await rejectsWith(analyzeFile(file, { createSession: countingSessions(seen), inputShapes: { x: [1, 3, 32, 1e6] } }), SplitError, [file, "input 'x'", '384000000 bytes', 'declare']);
    assert.deepEqual(seen, [], 'no session made');
  });
});

describe('graphs that cannot be split', () => {
  it('no nodes: GraphError', async () => {
    const file = await writeModel(tinyModel([], { outputs: ['x'] }), 'graph-empty');
    await loadModel(file); // a valid model, just nothing to split
    await rejectsWith(analyzeFile(file, analyzeOpts), GraphError, [file, 'no nodes']);
  });

  it('a cycle: GraphError naming the nodes in it', async () => {
    const nodes: NodeProto[] = [
      { name: 'loop_add', opType: 'Add', input: ['x', 'loop_back'], output: ['a'] },
      { name: 'loop_relu', opType: 'Relu', input: ['a'], output: ['b'] },
      { name: 'loop_neg', opType: 'Neg', input: ['b'], output: ['loop_back'] },
      { name: 'out', opType: 'Identity', input: ['a'], output: ['y'] },
    ];
    const file = await writeModel(tinyModel(nodes), 'graph-cycle');
    await rejectsWith(analyzeModel(await loadModel(file), analyzeOpts), GraphError, [file, 'cycle', "'loop_add'", "'loop_relu'", "'loop_neg'"]);
  });

  it('a node reading a tensor nobody provides: GraphError naming the node and the tensor', async () => {
    const nodes: NodeProto[] = [
      { name: 'first', opType: 'Relu', input: ['x'], output: ['a'] },
      { name: 'reads_ghost', opType: 'Add', input: ['a', 'ghost'], output: ['y'] },
    ];
    const file = await writeModel(tinyModel(nodes), 'graph-ghost');
    await rejectsWith(analyzeModel(await loadModel(file), analyzeOpts), GraphError, [file, "'reads_ghost'", "'ghost'"]);
  });

  it('a graph output nobody produces: GraphError', async () => {
    const nodes: NodeProto[] = [{ name: 'first', opType: 'Relu', input: ['x'], output: ['a'] }];
    const file = await writeModel(tinyModel(nodes, { outputs: ['y'] }), 'graph-no-output');
    await rejectsWith(analyzeModel(await loadModel(file), analyzeOpts), GraphError, [file, "'y'"]);
  });

  it('no graph outputs: GraphError saying so', async () => {
    const nodes: NodeProto[] = [{ name: 'first', opType: 'Relu', input: ['x'], output: ['a'] }];
    const file = await writeModel(tinyModel(nodes, { outputs: [] }), 'graph-no-outputs');
    await rejectsWith(analyzeModel(await loadModel(file), analyzeOpts), GraphError, [file, 'the graph has no outputs']);
  });

  it('a model onnxruntime refuses to load (every shape declared, so nothing ran it): GraphError naming the file and the reason', async () => {
    const nodes: NodeProto[] = [{ name: 'odd', opType: 'NoSuchOp', input: ['x'], output: ['y'] }];
    const file = await writeModel(tinyModel(nodes), 'graph-unloadable');
    await rejectsWith(analyzeModel(await loadModel(file), analyzeOpts), GraphError, [file, 'onnxruntime cannot load the model', 'NoSuchOp']);
  });

  it('an input whose element type has no host tensor, when a shape must be measured: SplitError naming the input and its type', async () => {
    const m = tinyModel([
      { name: 'cast', opType: 'Cast', input: ['x'], output: ['h'], attribute: [{ name: 'to', type: 2, i: DataType.FLOAT }] },
      { name: 'relu', opType: 'Relu', input: ['h'], output: ['y'] },
    ]);
    m.graph!.input = [valueInfo('x', 16 /* BFLOAT16 */, [1, 4])];
    const file = await writeModel(m, 'input-bfloat16');
    await rejectsWith(analyzeModel(await loadModel(file), { createSession }), SplitError, [file, "input 'x'", 'bfloat16']);
  });

  it('nodes out of order but acyclic: sorted, and every split reproduces the model', async () => {
    const proto = resnetLike();
    const expectedBytes = encodeModel(proto);
    // Reverse the nodes, then interleave the halves: nothing is in order any more.
    const rev = [...proto.graph!.node!].reverse();
    const half = Math.ceil(rev.length / 2);
    const shuffled: NodeProto[] = [];
    for (let i = 0; i < half; i++) {
      shuffled.push(rev[i]!);
      if (rev[half + i]) shuffled.push(rev[half + i]!);
    }
    const file = await writeModel({ ...proto, graph: { ...proto.graph!, node: shuffled } }, 'graph-unsorted', 'unsorted.onnx');
    const a = await analyzeFile(file, { createSession, inputShapes: inputShapes(resnetZoo.inputs) });
    assert.equal(a.index.sorted, true);
    const sortedA = await analyze(zooSubject(resnetZoo));
    assert.equal(a.splitPoints.length, sortedA.splitPoints.length);

    const feeds = feedsFor(a);
    const full = await createSession(expectedBytes, { graphOptimizationLevel: 'disabled' });
    const expected = await full.run(feeds);
    await full.release();
    for (const point of a.splitPoints) {
      const parts = buildParts(a, [point.position]);
      for (const p of parts) assertTopological(a, p.plan.nodes, p.plan.inputs, `split ${point.index} ${p.file}`);
      const sessions = await Promise.all(parts.map((p) => partSession(p)));
      try {
        const { tensors: pool } = await runChain(sessions, feeds);
        for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `unsorted split ${point.index} output ${o}`);
      } finally {
        await Promise.all(sessions.map((s) => s.release()));
      }
    }
    // And written to disk, loaded by path.
    const outDir = await freshDir('graph-unsorted-out');
    const manifest = await writeAllSplits(a, outDir);
    const mid = manifest.splits[Math.floor(manifest.splits.length / 2)]!;
    const sessions = [];
    for (const p of mid.parts) sessions.push(await createSession(path.join(outDir, p), { graphOptimizationLevel: 'disabled' }));
    try {
      const { tensors: pool } = await runChain(sessions, feeds);
      for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `unsorted split ${mid.index} from disk, output ${o}`);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  });
});

/** The part's nodes, in the order given, only read inputs, weights or earlier nodes' outputs. */
function assertTopological(a: ModelAnalysis, nodes: number[], inputs: string[], what: string): void {
  const available = new Set<string>([...inputs, ...a.index.initializers.keys()]);
  for (const n of nodes) {
    for (const r of a.index.nodeInputs[n]!) assert.ok(available.has(r), `${what}: node ${a.index.nodes[n]!.name} reads '${r}' before it is produced`);
    for (const o of a.index.nodes[n]!.output ?? []) if (o) available.add(o);
  }
}

// ------------------------------------------------------------------------------ bad split layers

describe('split layers that cannot be cut', () => {
  it("a misspelt layer: SplitError suggesting the closest names ('conv_0_ot' -> 'conv_0_out')", async () => {
    const a = await analyze(zooSubject(resnetZoo));
    const outDir = path.join(await freshDir('split-unknown'), 'out');
    const err = await rejectsWith(writeSplitAt(a, ['conv_0_ot'], outDir), SplitError, ['resnet_like.onnx', "'conv_0_ot'", 'conv_0_out']);
    // The best guess comes first.
    assert.match(err.message, /closest: conv_0_out\b/);
    assert.ok(!existsSync(outDir), 'nothing written');
  });

  it('an initializer: SplitError saying it is a constant', async () => {
    const a = await analyze(zooSubject(resnetZoo));
    const outDir = path.join(await freshDir('split-init'), 'out');
    await rejectsWith(writeSplitAt(a, ['conv_0_W'], outDir), SplitError, ['resnet_like.onnx', "'conv_0_W'", 'initializer', 'constant']);
    assert.ok(!existsSync(outDir), 'nothing written');
  });

  it('outputs of the constant Shape/Gather/Concat subgraph (and a Constant node): SplitError saying it is a constant', async () => {
    const a = await analyze(zooSubject(constantZoo));
    const names = ['shape_0_out', 'gather_0_out', 'concat_0_out', 'const_4_out', 'concat_0'];
    for (const layer of names) {
      const outDir = path.join(await freshDir('split-const'), 'out');
      await rejectsWith(writeSplitAt(a, [layer], outDir), SplitError, ['constant_nodes.onnx', `'${layer}'`, 'constant']);
      assert.ok(!existsSync(outDir), 'nothing written');
    }
    // ...while the data-dependent Reshape after them is a valid cut.
    const outDir = path.join(await freshDir('split-const-ok'), 'out');
    await writeSplitAt(a, ['reshape_0_out'], outDir);
    assert.deepEqual((await readdir(outDir)).sort(), ['manifest.json', 'part1.onnx', 'part2.onnx']);
  });

  it('multi split with layers out of order or repeated: SplitError', async () => {
    const a = await analyze(zooSubject(resnetZoo));
    const outDir = path.join(await freshDir('split-order'), 'out');
    await rejectsWith(writeSplitAt(a, ['relu_2_out', 'relu_0_out'], outDir), SplitError, ['resnet_like.onnx', "'relu_0_out'", "'relu_2_out'", 'order']);
    await rejectsWith(writeSplitAt(a, ['relu_0_out', 'relu_1_out', 'relu_1_out'], outDir), SplitError, ['resnet_like.onnx', "'relu_1_out'", 'distinct']);
    // A node name and its output tensor are the same cut.
    await rejectsWith(writeSplitAt(a, ['relu_0', 'relu_0_out'], outDir), SplitError, ['resnet_like.onnx', 'distinct']);
    assert.ok(!existsSync(outDir), 'nothing written');
  });

  it('no split layer at all: SplitError', async () => {
    const a = await analyze(zooSubject(resnetZoo));
    const outDir = path.join(await freshDir('split-none'), 'out');
    await rejectsWith(writeSplitAt(a, [], outDir), SplitError, ['resnet_like.onnx', 'no split layer']);
  });
});

// ------------------------------------------------------------------------------ nothing left behind

describe('a failed write leaves nothing behind', () => {
  let a: ModelAnalysis;
  const getA = async () => (a ??= await analyze(zooSubject(resnetZoo)));

  /** Runs writeAllSplits into `outDir` prepared by `prepare`; afterwards the folder is exactly as prepared. */
  async function failingRun(tag: string, prepare: (outDir: string) => Promise<unknown>, patterns: (RegExp | string)[]): Promise<void> {
    const outDir = path.join(await freshDir(tag), 'out');
    await mkdir(outDir);
    await prepare(outDir);
    const before = await tree(outDir);
    await rejectsWith(writeAllSplits(await getA(), outDir), FileError, patterns);
    const afterRun = await tree(outDir);
    assert.deepEqual(afterRun, before, 'the output folder is as it was');
    assert.ok(!afterRun.some((f) => /\.tmp-/.test(f)), 'no temporaries');
    assert.ok(!afterRun.includes('manifest.json'), 'no manifest');
  }

  it('a directory where a part file goes (found when moving files into place)', async () => {
    await failingRun('fail-part1', (out) => mkdir(path.join(out, 'split_002', 'part1.onnx'), { recursive: true }), ['split_002', 'part1.onnx']);
  });

  it('a directory where the second part of a split goes, after the first was moved into place', async () => {
    await failingRun('fail-part2', (out) => mkdir(path.join(out, 'split_002', 'part2.onnx'), { recursive: true }), ['split_002', 'part2.onnx']);
  });

  it('a file where a split folder goes (found while writing)', async () => {
    await failingRun('fail-folder', (out) => writeFile(path.join(out, 'split_003'), 'in the way'), ['split_003', 'cannot create folder']);
  });

  it('a directory where manifest.json goes (every split already moved into place)', async () => {
    await failingRun('fail-manifest', (out) => mkdir(path.join(out, 'manifest.json')), ['manifest.json']);
  });

  it('a successful run leaves exactly manifest.json and split_NNN/part*.onnx', async () => {
    const a = await getA();
    const outDir = path.join(await freshDir('ok'), 'out');
    const manifest = await writeAllSplits(a, outDir);
    const expected = ['manifest.json'];
    for (const s of manifest.splits) {
      const folder = splitFolder(s.index);
      expected.push(`${folder}/`);
      for (const p of s.parts) {
        assert.match(p, new RegExp(`^${folder}/part\\d+\\.onnx$`));
        expected.push(p);
      }
    }
    assert.deepEqual(await tree(outDir), expected.sort());
    assert.equal(manifest.splits.length, a.splitPoints.length);
    assert.deepEqual(JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8')), manifest);
    // Cloud only and edge only are single parts; every other split has both.
    assert.deepEqual(manifest.splits[0]!.parts, ['split_000/part2.onnx']);
    assert.deepEqual(manifest.splits.at(-1)!.parts, [`${splitFolder(manifest.splits.at(-1)!.index)}/part1.onnx`]);
  });
});
