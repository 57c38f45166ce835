/**
 * The exit codes README's "Exit codes" table promises: 2 for any input refused (an argument, or a
 * file or model it names), 1 for a failure while running, each with one line and no stack trace.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exitCodeOf } from '../../src/cli/failure.js';
import { FileError, GraphError, OnnxFormatError, SplitError, StoreError, TimeoutError, UnknownSplitError, UsageError, WriteError } from '../../src/errors.js';
import { RuntimeError } from '../../src/runtime/ort.js';
import { ImageError } from '../../src/tensor/images.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();

describe('exit codes', () => {
  it('2 for every kind of input refused, 1 for failures while running', () => {
    for (const e of [new UsageError('u'), new UnknownSplitError('s'), new SplitError('s'), new FileError('f'), new ImageError('i'), new OnnxFormatError('o'), new GraphError('g')]) {
      assert.equal(exitCodeOf(e), 2, e.name);
    }
    for (const e of [new WriteError('w'), new StoreError('s'), new TimeoutError('t'), new RuntimeError('r'), new Error('e')]) assert.equal(exitCodeOf(e), 1, e.name);
  });

  it('the command line: a missing, empty or wrong-kind file, a bad model and a bad cut are refused with 2 in one line', async () => {
    const dir = await temp('exit-codes');
    const model = writeZooModel('lenet5', dir);
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, '');
    const text = join(dir, 'notes.onnx');
    writeFileSync(text, 'not a model\n');
    const png = join(dir, 'one.png');
    await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 10, g: 200, b: 90 } } }).png().toFile(png);
    const cut = join(dir, 'cut.json');
    writeFileSync(cut, '{"edge_nodes": ["no_such_node"]}');
    const payload = join(dir, 'input.pb');
    const made = await cli(['data_processing', '--onnx_file', model, '--image_file', png, '--image_is_grayscale', '--output_file', payload]);
    assert.equal(made.code, 0, made.err);
    const truncated = join(dir, 'half.pb');
    const bytes = readFileSync(payload);
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    const folder = join(dir, 'images');
    mkdirSync(folder);
    const cases: [args: string[], line: RegExp][] = [
      [['list_layers', '--onnx_file', join(dir, 'missing.onnx')], /missing\.onnx: no such file$/],
      [['print_model', '--onnx_file', empty], /empty\.onnx: /],
      [['list_layers', '--onnx_file', text], /notes\.onnx: not a valid ONNX model/],
      [['split_model', '--onnx_file', model, '--cut_file', cut, '--onnx_path', join(dir, 'parts')], /no node or layer named 'no_such_node'/],
      [['split_model', '--onnx_file', model, '--split_layer', 'no_such_layer', '--onnx_path', join(dir, 'parts')], /no layer named 'no_such_layer'/],
      [['plot_results', '--results_file', join(dir, 'missing.csv')], /missing\.csv: no such file$/],
      [['quant_model', '--onnx_file', model, '--quant_type', 'QInt8', '--image_batch', folder], /images/],
      // --input_file of another kind, empty, or a payload that does not decode.
      [['run', '--onnx_file', model, '--split_layer', '3', '--input_file', model], /lenet5\.onnx: not a payload file \(\.pb\) \(it looks like an ONNX model\)/],
      [['run', '--onnx_file', model, '--split_layer', '3', '--input_file', empty], /empty\.onnx: not a payload file \(\.pb\) \(it looks like an empty file\)/],
      [['run', '--onnx_file', model, '--split_layer', '3', '--input_file', truncated], /half\.pb.*truncated/],
    ];
    for (const [args, line] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.errLines.length, 1, r.err);
      assert.match(r.errLines[0]!, line);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
  });

  it('a flag of one value given twice is refused, naming both values (exit 2); a list flag takes several', async () => {
    const dir = await temp('exit-codes-twice');
    const model = writeZooModel('lenet5', dir);
    for (const [args, line] of [
      [['run_all', '--onnx_file', model, '--rep', '2', '--rep', '3'], /^onnx-manager: --rep is given 2 times \(2, 3\); give it once$/],
      [['list_layers', '--onnx_file', model, '--onnx_file=other.onnx'], /^onnx-manager: --onnx_file is given 2 times \(.*lenet5\.onnx, other\.onnx\); give it once$/],
      [['run', '--onnx_file', model, '--split_layer', '3', '--split_layer', '4'], /^onnx-manager: --split_layer is given 2 times \(3, 4\); give it once$/],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.errLines.length, 1, r.err);
      assert.match(r.errLines[0]!, line);
    }
    const lists = await cli(['list_layers', '--onnx_file', model, '--input_shape', 'input:1x1x28x28', '--input_shape', 'input:1x1x28x28', '--json']);
    assert.equal(lists.code, 0, lists.err);
  });
});
