/**
 * An output flag that names a file the operation reads (the results CSV, a file beside it, the
 * model, the profile, the picture) is refused in one line, exit 2, and that file is left as it
 * was: before, report --output_file X.csv replaced the measurements with the page, predict
 * --results_file X.csv --measured X.csv replaced them with predictions, and data_processing
 * --output_file model.onnx replaced the model with a payload.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { projectRoot, realModels } from '../models/zoo.js';

const temp = tempDirs();
const samples = join(projectRoot(), 'results');
const clsModel = realModels.find((m) => m.name === 'ppocr_mobile_v2_cls')!.path;

let dir: string;
let csv: string;
let summary: string;
let profile: string;
let model: string;
let image: string;

before(async () => {
  dir = await temp('output-over-input');
  for (const f of ['ppocr_mobile_v2_cls.csv', 'ppocr_mobile_v2_cls.summary.csv', 'ppocr_mobile_v2_cls.profile.csv']) copyFileSync(join(samples, f), join(dir, f));
  csv = join(dir, 'ppocr_mobile_v2_cls.csv');
  summary = join(dir, 'ppocr_mobile_v2_cls.summary.csv');
  profile = join(dir, 'ppocr_mobile_v2_cls.profile.csv');
  model = join(dir, 'cls.onnx');
  copyFileSync(clsModel, model);
  image = join(dir, 'line.png');
  await sharp({ create: { width: 192, height: 48, channels: 3, background: { r: 240, g: 240, b: 240 } } }).png().toFile(image);
});

/** Runs the command and checks that it is refused in one line (exit 2), with every file of the folder as it was. */
async function refused(args: string[], pattern: RegExp): Promise<void> {
  const files = readdirSync(dir).sort();
  const contents = files.map((f) => readFileSync(join(dir, f)));
  const r = await cli(args);
  assert.equal(r.code, 2, r.err);
  assert.equal(r.errLines.length, 1, r.err);
  assert.match(r.errLines[0]!, pattern);
  assert.deepEqual(readdirSync(dir).sort(), files, 'no file added or removed');
  files.forEach((f, i) => assert.deepEqual(readFileSync(join(dir, f)), contents[i], `${f} is as it was`));
}

describe('an output that is one of the inputs', () => {
  it('report --output_file: the results CSV, a file beside it that the page reads, or the model', async () => {
    await refused(['report', '--results_file', csv, '--output_file', csv], /^onnx-manager: --output_file .*ppocr_mobile_v2_cls\.csv is the results file \(--results_file\), which report reads; name another file$/);
    await refused(['report', '--results_file', csv, '--output_file', summary], /^onnx-manager: --output_file .*summary\.csv is the summary beside the results file, which report reads; name another file$/);
    await refused(['report', '--results_file', csv, '--onnx_file', model, '--output_file', model], /^onnx-manager: --output_file .*cls\.onnx is the model \(--onnx_file\), which report reads; name another file$/);
    // The same file by another name is the same file.
    const link = join(dir, 'link.csv');
    symlinkSync(csv, link);
    try {
      await refused(['report', '--results_file', link, '--output_file', csv], /is the results file \(--results_file\)/);
    } finally {
      (await import('node:fs')).rmSync(link);
    }
  });

  it('predict --results_file: the --measured CSV, the --profile or the model', async () => {
    const base = ['predict', '--onnx_file', model, '--input_shape', 'x:1x3x48x192', '--profile', profile];
    await refused([...base, '--measured', csv, '--results_file', csv], /^onnx-manager: --results_file .*ppocr_mobile_v2_cls\.csv is the measured results \(--measured\), which predict reads; name another file$/);
    await refused([...base, '--results_file', profile], /^onnx-manager: --results_file .*profile\.csv is the profile \(--profile\), which predict reads; name another file$/);
    await refused([...base, '--results_file', model], /^onnx-manager: --results_file .*cls\.onnx is the model \(--onnx_file\), which predict reads; name another file$/);
  });

  it('data_processing --output_file: the model or the picture', async () => {
    const base = ['data_processing', '--onnx_file', model, '--image_size_x', '192', '--image_size_y', '48'];
    await refused([...base, '--image_file', image, '--output_file', model], /^onnx-manager: --output_file .*cls\.onnx is the model \(--onnx_file\), which data_processing reads; name another file$/);
    await refused([...base, '--image_file', image, '--output_file', image], /^onnx-manager: --output_file .*line\.png is the image \(--image_file\), which data_processing reads; name another file$/);
    await refused([...base, '--image_batch', dir, '--output_file', image], /^onnx-manager: --output_file .*line\.png is an image of --image_batch .*, which data_processing reads; name another file$/);
  });

  it('split_model, multi_split_model, split_model_all and early_exit_split_model: an --onnx_path where a part would take the model\'s place', async () => {
    const folder = await temp('split-over-model');
    const lenet = writeZooModel('lenet5', folder);
    const asPart = (name: string): string => {
      const f = join(folder, name);
      mkdirSync(join(f, '..'), { recursive: true });
      copyFileSync(lenet, f);
      return f;
    };
    const cases: [string[], string][] = [
      [['split_model', '--split_layer', '3'], 'part1.onnx'],
      [['multi_split_model', '--split_layers', '3', '6'], 'part3.onnx'],
      [['split_model_all'], join('split_004', 'part2.onnx')],
      [['split_model', '--split_layer', '3'], 'manifest.json'],
    ];
    for (const [args, name] of cases) {
      const model = asPart(name);
      const bytes = readFileSync(model);
      const r = await cli([...args, '--onnx_file', model, '--onnx_path', folder]);
      assert.equal(r.code, 2, `${args[0]}: ${r.err}`);
      assert.deepEqual(r.errLines, [`onnx-manager: --onnx_path ${folder} would write ${name} over the model (--onnx_file ${model}); give another --onnx_path`]);
      assert.deepEqual(readFileSync(model), bytes, `${args[0]}: the model is as it was`);
    }
    const two = join(folder, 'exits', 'part2.onnx');
    mkdirSync(join(folder, 'exits'));
    writeZooModel('two_outputs', join(folder, 'exits'));
    copyFileSync(join(folder, 'exits', 'two_outputs.onnx'), two);
    const r = await cli(['early_exit_split_model', '--onnx_file', two, '--outputs', 'aux_logits', 'logits', '--onnx_path', join(folder, 'exits')]);
    assert.equal(r.code, 2, r.err);
    assert.deepEqual(r.errLines, [`onnx-manager: --onnx_path ${join(folder, 'exits')} would write part2.onnx over the model (--onnx_file ${two}); give another --onnx_path`]);
    assert.deepEqual(readdirSync(join(folder, 'exits')).sort(), ['part2.onnx', 'two_outputs.onnx']);
  });

  it('list_layers --cut_out: the model is refused, a missing folder is made, a folder is refused, in one line each', async () => {
    const folder = await temp('cut-out');
    const lenet = writeZooModel('lenet5', folder);
    const bytes = readFileSync(lenet);
    const over = await cli(['list_layers', '--onnx_file', lenet, '--optimal', '--cut_out', lenet]);
    assert.equal(over.code, 2, over.err);
    assert.deepEqual(over.errLines, [`onnx-manager: --cut_out ${lenet} is the model (--onnx_file), which list_layers reads; name another file`]);
    assert.deepEqual(readFileSync(lenet), bytes);
    const dirOut = await cli(['list_layers', '--onnx_file', lenet, '--optimal', '--cut_out', folder]);
    assert.equal(dirOut.code, 2, dirOut.err);
    assert.deepEqual(dirOut.errLines, [`onnx-manager: --cut_out ${folder} is a directory; name a file`]);
    const nested = join(folder, 'cuts', 'edge.json');
    const ok = await cli(['list_layers', '--onnx_file', lenet, '--optimal', '--cut_out', nested]);
    assert.equal(ok.code, 0, ok.err);
    assert.ok(Array.isArray(JSON.parse(readFileSync(nested, 'utf8')).edge_nodes));
    assert.deepEqual(readdirSync(join(folder, 'cuts')), ['edge.json'], 'no temporary left');
  });

  it('predict --results_file does not replace a run_all results file or a file of the user\'s; an earlier prediction it does', async () => {
    const base = ['predict', '--onnx_file', model, '--input_shape', 'x:1x3x48x192', '--profile', profile];
    await refused([...base, '--results_file', csv], /^onnx-manager: --results_file .*ppocr_mobile_v2_cls\.csv holds run_all results, which predict would replace; name another file \(predict writes <name>\.predict\.csv by default\)$/);
    const notes = join(dir, 'notes.csv');
    (await import('node:fs')).writeFileSync(notes, 'my notes\n');
    await refused([...base, '--results_file', notes], /^onnx-manager: --results_file .*notes\.csv holds something other than predict results \(its first line: 'my notes'\), which predict would replace; name another file$/);
    const earlier = join(dir, 'earlier.predict.csv');
    copyFileSync(join(samples, 'ppocr_mobile_v2_cls.predict.csv'), earlier);
    const r = await cli([...base, '--results_file', earlier]);
    assert.equal(r.code, 0, r.err);
    assert.notDeepEqual(readFileSync(earlier), readFileSync(join(samples, 'ppocr_mobile_v2_cls.predict.csv')), 'the earlier prediction replaced');
  });

  it('recommend --results_file and predict --measured name a predict CSV as such, and what they take instead', async () => {
    const predicted = join(dir, 'given.predict.csv');
    copyFileSync(join(samples, 'ppocr_mobile_v2_cls.predict.csv'), predicted);
    for (const args of [
      ['recommend', '--onnx_file', model, '--input_shape', 'x:1x3x48x192', '--results_file', predicted],
      ['predict', '--onnx_file', model, '--input_shape', 'x:1x3x48x192', '--profile', profile, '--measured', predicted, '--results_file', join(dir, 'p.predict.csv')],
    ]) {
      await refused(args, /^onnx-manager: .*given\.predict\.csv: a predict CSV, not run_all results \(no column rep, status\); give the run_all CSV the rows were measured in$/);
    }
  });
});
