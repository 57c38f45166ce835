/**
 * The command line as users run it: operations, outputs on disk, and one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../cli-helper.js';
import { chainSplitPoints, writeZooModel } from '../helpers.js';
import { IR_VERSION, modelStats, numel } from '../models/builder.js';
import { installed, projectRoot, realModels, zoo } from '../models/zoo.js';

const root = projectRoot();
const bin = join(root, 'dist', 'src', 'cli', 'bin.js');

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'onnx-manager-cli-'));
  made.push(d);
  return d;
}

describe('onnx-manager CLI', () => {
  it('run lists as many top classes as a classifier has, up to 5 (top-2 for a two-class output)', async () => {
    const cls = installed(join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    const r = await cli(['run', '--onnx_file', cls, '--split_layer', '27', '--input_shape', 'x:1x3x48x192', '--rep', '1', '--warmup', '0']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /: float32\[1, 2\] top-2: \d \([-\d.]+\), \d \([-\d.]+\)$/m, r.out);
    assert.doesNotMatch(r.out, /top-5/);
  });

  it('list_layers prints every split point with exact transfer bytes', async () => {
    const dir = tempDir();
    const file = writeZooModel('lenet5', dir);
    const lenet = zoo.find((m) => m.name === 'lenet5')!;
    // A chain: a cut after every node, plus cloud only; cloud only sends the float32 input.
    const points = chainSplitPoints(lenet.build());
    const inputBytes = numel(lenet.inputs[0]!.dims) * Float32Array.BYTES_PER_ELEMENT;
    const r = await cli(['--operation', 'list_layers', '--onnx_file', file]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /split_layer/);
    assert.match(r.out, new RegExp(`\\b${inputBytes}\\b`), `input bytes ${lenet.inputs[0]!.dims.join('x')} float32`);
    assert.match(r.out, new RegExp(`\\b${points} split points`));
    const j = await cli(['--operation', 'list_layers', '--onnx_file', file, '--json']);
    const parsed = JSON.parse(j.out) as { split_points: { index: number; tensor_bytes: number; transfer_bytes: number }[] };
    assert.equal(parsed.split_points.length, points);
    assert.equal(parsed.split_points[0]!.tensor_bytes, inputBytes);
    // On the wire: the payload's envelope around the raw tensor, as run_all's transfer_bytes.
    assert.ok(parsed.split_points[0]!.transfer_bytes > inputBytes && parsed.split_points[0]!.transfer_bytes < inputBytes + 1024, `wire ${parsed.split_points[0]!.transfer_bytes}`);
    assert.match(r.out, new RegExp(`\\b${parsed.split_points[0]!.transfer_bytes}\\b`), 'the table gives the wire bytes too');
    assert.equal(parsed.split_points.at(-1)!.tensor_bytes, 0);
    assert.equal(parsed.split_points.at(-1)!.transfer_bytes, 0);
  });

  it('print_model reports versions, io and the operator histogram', async () => {
    const dir = tempDir();
    const file = writeZooModel('resnet_like', dir);
    const r = await cli(['--operation', 'print_model', '--onnx_file', file, '--json']);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out) as { ir_version: number; inputs: { name: string; type: string }[]; op_types: Record<string, number>; parameters: number };
    const built = zoo.find((m) => m.name === 'resnet_like')!.build();
    const ops: Record<string, number> = {};
    for (const n of built.graph!.node!) ops[n.opType!] = (ops[n.opType!] ?? 0) + 1;
    assert.equal(info.ir_version, IR_VERSION);
    assert.deepEqual(info.inputs, [{ name: 'input', type: 'float32[1, 3, 32, 32]' }]);
    assert.deepEqual(info.op_types, ops);
    assert.equal(info.parameters, modelStats(built).params);
  });

  it('split_model writes part1, part2 and a manifest', async () => {
    const dir = tempDir();
    const file = writeZooModel('resnet_like', dir);
    const out = join(dir, 'parts');
    const r = await cli(['--operation', 'split_model', '--onnx_file', file, '--split_layer', 'relu_1_out', '--onnx_path', out]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(out).sort(), ['manifest.json', 'part1.onnx', 'part2.onnx']);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.splits[0].split_layer, 'relu_1_out');
    assert.deepEqual(m.splits[0].parts, ['part1.onnx', 'part2.onnx']);
    assert.equal(resolve(out, m.model), file, 'manifest names the model');
  });

  it('split_model, multi_split_model and run take a split point by its list_layers index: the same parts as by its name', async () => {
    const dir = tempDir();
    const file = writeZooModel('resnet_like', dir);
    const listed = await cli(['--operation', 'list_layers', '--onnx_file', file, '--json']);
    assert.equal(listed.code, 0, listed.err);
    const points = (JSON.parse(listed.out) as { split_points: { index: number; split_layer: string }[] }).split_points;
    const [a, b] = [points[3]!, points[7]!];
    const byName = join(dir, 'by-name');
    const byIndex = join(dir, 'by-index');
    assert.equal((await cli(['split_model', '--onnx_file', file, '--split_layer', a.split_layer, '--onnx_path', byName])).code, 0);
    const r = await cli(['split_model', '--onnx_file', file, '--split_layer', String(a.index), '--onnx_path', byIndex]);
    assert.equal(r.code, 0, r.err);
    for (const part of ['part1.onnx', 'part2.onnx']) assert.deepEqual(readFileSync(join(byIndex, part)), readFileSync(join(byName, part)), part);
    assert.match(r.out, new RegExp(`^split ${a.index} after '${a.split_layer}':`), 'a split given by index is named by its layer');
    const named = JSON.parse(readFileSync(join(byIndex, 'manifest.json'), 'utf8')) as { splits: { split_layer: string }[] };
    assert.equal(named.splits[0]!.split_layer, a.split_layer);
    const multi = await cli(['multi_split_model', '--onnx_file', file, '--split_layers', String(a.index), String(b.index), '--onnx_path', join(dir, 'multi')]);
    assert.equal(multi.code, 0, multi.err);
    const m = JSON.parse(readFileSync(join(dir, 'multi', 'manifest.json'), 'utf8')) as { splits: { index: number; split_layer: string }[] };
    assert.deepEqual(m.splits.map((s) => s.index), [a.index, b.index]);
    assert.deepEqual(m.splits.map((s) => s.split_layer), [a.split_layer, b.split_layer]);
    const run = await cli(['run', '--onnx_file', file, '--split_layer', String(b.index), '--rep', '1', '--warmup', '0', '--verify']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, new RegExp(`^split ${b.index} after '${b.split_layer}':`, 'm'), 'run names the layer of a split given by index');
    const out = await cli(['split_model', '--onnx_file', file, '--split_layer', String(points.length), '--onnx_path', join(dir, 'x')]);
    // An index out of range is a bad argument (exit 2), as run_all's --splits says of it.
    assert.equal(out.code, 2);
    const sweep = await cli(['run_all', '--onnx_file', file, '--splits', String(points.length), '--results_file', join(dir, 'x.csv')]);
    assert.equal(sweep.code, 2, sweep.err);
    assert.match(out.err.trim(), new RegExp(`^onnx-manager: .*split point ${points.length} is out of range; .* has split points 0\\.\\.${points.length - 1} \\(see list_layers\\)$`));
  });

  it('multi_split_model and deploy name split points given by their list_layers index by their layers, in their errors too', async () => {
    const dir = tempDir();
    const file = writeZooModel('lenet5', dir);
    const multi = await cli(['multi_split_model', '--onnx_file', file, '--split_layers', '3', '7', '--onnx_path', join(dir, 'multi')]);
    assert.equal(multi.code, 0, multi.err);
    // As split_model says it of one cut.
    assert.deepEqual(multi.out.split('\n').slice(0, 2).map((l) => l.replace(/: .*/, '')), ["split 3 after 'maxpool_0_out'", "split 7 after 'reshape_0_out'"]);
    const one = await cli(['split_model', '--onnx_file', file, '--split_layer', '3', '--onnx_path', join(dir, 'one')]);
    assert.equal(one.out.split('\n')[0], multi.out.split('\n')[0]);
    const orders: [string[], string][] = [
      [['7', '3'], "'maxpool_0_out' (split 3) does not come after 'reshape_0_out' (split 7)"],
      [['3', 'maxpool_0_out'], "'maxpool_0_out' (split 3) does not come after 'maxpool_0_out' (split 3)"],
      [['relu_1_out', '2'], "'relu_0_out' (split 2) does not come after 'relu_1_out' (split 5)"],
    ];
    for (const [layers, words] of orders) {
      for (const op of [['multi_split_model', '--onnx_path', join(dir, 'bad')], ['deploy', '--onnx_path', join(dir, 'fdl')]]) {
        const r = await cli([op[0]!, '--onnx_file', file, '--split_layers', ...layers, ...op.slice(1)]);
        assert.equal(r.code, 2, r.err);
        assert.equal(r.errLines.length, 1, r.err);
        assert.ok(r.errLines[0]!.endsWith(`split layers must be distinct and in execution order: ${words}`), `${op[0]} ${layers.join(' ')}: ${r.errLines[0]}`);
      }
    }
    const edgeOnly = await cli(['deploy', '--onnx_file', file, '--split_layer', '12', '--onnx_path', join(dir, 'fdl')]);
    assert.equal(edgeOnly.code, 2, edgeOnly.err);
    assert.deepEqual(edgeOnly.errLines, ["onnx-manager: a cut after 'logits' (split 12) leaves nothing to run in the cloud"]);
  });

  it('run --verify with a lossy codec compares with the parts chained here through the same codec, and passes', async () => {
    const dir = tempDir();
    const file = writeZooModel('lenet5', dir);
    for (const codec of ['int8', 'fp16']) {
      const r = await cli(['run', '--onnx_file', file, '--split_layer', 'relu_1_out', '--rep', '1', '--warmup', '0', '--tensor_codec', codec, '--verify']);
      assert.equal(r.code, 0, r.err + r.out);
      const m = new RegExp(`verify: max \\|split - full\\| = (\\S+) \\(tensor codec ${codec} is lossy\\); max \\|split - parts chained here through ${codec}\\| = (\\S+) \\(match\\)`).exec(r.out);
      assert.ok(m, r.out);
      assert.ok(Number(m[1]) > 0, `${codec} moves the outputs (${m[1]})`);
      assert.ok(Number(m[2]) <= 1e-4, m[2]);
    }
  });

  it('multi_split_model writes k+1 parts', async () => {
    const dir = tempDir();
    const file = writeZooModel('lenet5', dir);
    const out = join(dir, 'multi');
    const r = await cli(['--operation', 'multi_split_model', '--onnx_file', file, '--split_layers', 'relu_0_out', 'relu_1_out', 'relu_2_out', '--onnx_path', out]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(out).sort(), ['manifest.json', 'part1.onnx', 'part2.onnx', 'part3.onnx', 'part4.onnx']);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.splits.length, 3);
    assert.deepEqual(m.splits[0].sides, ['edge', 'cloud', 'cloud', 'cloud']);
  });

  it('split_model_all on a real model with free dimensions', async () => {
    const dir = tempDir();
    const cls = realModels.find((m) => m.name === 'ppocr_mobile_v2_cls')!;
    const r = await cli(['--operation', 'split_model_all', '--onnx_file', cls.path, '--image_size_x', '192', '--image_size_y', '48', '--onnx_path', dir]);
    assert.equal(r.code, 0, r.err);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { splits: { parts: string[] }[]; inputs: { shape: number[] }[] };
    assert.deepEqual(m.inputs[0]!.shape, [1, 3, 48, 192]);
    for (const s of m.splits) for (const p of s.parts) assert.ok(existsSync(join(dir, p)), p);
    assert.deepEqual(m.splits[0]!.parts, ['split_000/part2.onnx']);
    assert.equal(m.splits.at(-1)!.parts.length, 1);
  });

  it('refuses bad input with one line and a non-zero exit', async () => {
    const dir = tempDir();
    const text = join(dir, 'notes.onnx');
    writeFileSync(text, 'this is not a model\n');
    const lenet = writeZooModel('lenet5', dir);
    const cases: [string[], RegExp, number][] = [
      [['--operation', 'list_layers', '--onnx_file', text], /notes\.onnx: not a valid ONNX model/, 2],
      [['--operation', 'list_layers', '--onnx_file', join(dir, 'missing.onnx')], /missing\.onnx: no such file/, 2],
      [['--operation', 'list_layers'], /list_layers needs --onnx_file/, 2],
      [['--operation', 'nonsense'], /unknown operation 'nonsense' \(one of: list_layers, .*data_processing\)/, 2],
      [['--onnx_file', lenet], /missing operation \(one of: list_layers/, 2],
      [['--operation', 'list_layers', '--onnx_file', lenet, '--no_such_flag'], /list_layers does not take --no_such_flag \(see/, 2],
      // A misspelt flag is named with the flag it most likely means, a misspelt required one too.
      [['list_layers', '--onnx_fle', lenet], /^onnx-manager: list_layers needs --onnx_file; list_layers does not take --onnx_fle \(did you mean --onnx_file\?\)$/, 2],
      [['list_layers', '--onnx_file', lenet, '--jsn'], /list_layers does not take --jsn \(did you mean --json\?\)/, 2],
      [['run_all', '--onnx_file', lenet, '--reps', '3'], /run_all does not take --reps \(did you mean --rep\?\)/, 2],
      [['--operation', 'split_model', '--onnx_file', lenet], /needs --split_layer/, 2],
      [['--operation', 'split_model', '--onnx_file', lenet, '--split_layer', 'relu_0_ot', '--onnx_path', join(dir, 'x')], /no layer named 'relu_0_ot'; closest: relu_0_out/, 2],
      [['--operation', 'split_model', '--onnx_file', lenet, '--split_layer', 'conv_0_W', '--onnx_path', join(dir, 'x')], /is a weight/, 2],
      [['--operation', 'list_layers', '--onnx_file', lenet, '--input_shape', 'input=1x1x28x28'], /not of the form/, 2],
      [['--operation', 'run', '--onnx_file', lenet, '--split_layer', 'relu_0_out', '--minio_endpoint', 'admin:S3cretKey@127.0.0.1:9'], /must not contain credentials/, 2],
    ];
    for (const [args, pattern, code] of cases) {
      const r = await cli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, pattern, args.join(' '));
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
      assert.doesNotMatch(r.err, /\n\s+at /);
      assert.doesNotMatch(r.err, /S3cretKey/, 'a secret is never repeated');
    }
    assert.equal(existsSync(join(dir, 'x')), false, 'nothing written for a refused split');
  });

  it('the installed binary exits non-zero without a stack trace, and with one under --verbose', () => {
    const dir = tempDir();
    const bad = join(dir, 'empty.onnx');
    writeFileSync(bad, '');
    const r = spawnSync(process.execPath, [bin, '--operation', 'print_model', '--onnx_file', bad], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^onnx-manager: .*empty\.onnx: .*\n$/);
    const v = spawnSync(process.execPath, [bin, '--operation', 'print_model', '--onnx_file', bad, '--verbose'], { encoding: 'utf8' });
    assert.equal(v.status, 2);
    assert.match(v.stderr, /\n\s+at /);
    const h = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    for (const op of ['list_layers', 'print_model', 'split_model', 'multi_split_model', 'split_model_all']) assert.match(h.stdout, new RegExp(`onnx-manager ${op} --onnx_file`));
  });
});
