/**
 * An --input_shape onnxruntime would refuse is refused at the flag (a dimension of 0, another
 * rank than declared, another value for a fixed dimension): one line naming the input and the
 * position, exit 2, before anything starts; onnxruntime's own log line never shows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodePayload } from '../../src/tensor/payload/index.js';
import { after, describe, it } from 'node:test';
import { installed, projectRoot } from '../models/zoo.js';

const root = projectRoot();
const bin = join(root, 'dist', 'src', 'cli', 'bin.js');
// PP-OCR's direction classifier: input x of shape ?x3x?x? (its height and width are free).
const cls = installed(join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));

describe('--input_shape onnxruntime would refuse', () => {
  const cases: [shape: string, expected: RegExp][] = [
    ['x:1x3x48x0', /^onnx-manager: --input_shape x:1x3x48x0: a dimension of 0 \(at position 3\); input 'x' needs every dimension at least 1\n$/],
    ['x:1x3x48', /^onnx-manager: --input_shape x:1x3x48: 3 dimensions, but input 'x' has 4 \(the model declares [^ ]+x3x[^ ]+\)\n$/],
    ['x:1x3x48x192x1', /^onnx-manager: --input_shape x:1x3x48x192x1: 5 dimensions, but input 'x' has 4 /],
    ['x:1x1x48x192', /^onnx-manager: --input_shape x:1x1x48x192: dimension 1 is 1, but the model fixes it at 3 for input 'x' \(declared [^ ]+x3x[^ ]+\); only its free dimensions can be chosen\n$/],
  ];
  for (const [shape, expected] of cases) {
    it(`refuses ${shape} in one line, exit 2`, () => {
      const r = spawnSync(process.execPath, [bin, 'list_layers', '--onnx_file', cls, '--input_shape', shape], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, expected);
      assert.equal(r.stdout, '');
    });
  }
});

describe('an --input_shape that passes the declared dims but that the model cannot run on', () => {
  // PP-OCRv4's text detector takes a height and width that are multiples of 32; 48 is not.
  const det = installed(join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx'));
  it('list_layers names the inputs, the failing node and the reason in one line, exit 2, and onnxruntime\'s own log never shows', () => {
    const r = spawnSync(process.execPath, [bin, 'list_layers', '--onnx_file', det, '--input_shape', 'x:1x3x48x320'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^onnx-manager: \S*ch_PP-OCRv4_det_infer\.onnx: onnxruntime failed to run the model on inputs x 1x3x48x320 \(to measure the shapes it does not declare\): node '[^']+' \(Add\): Attempting to broadcast an axis by a dimension other than 1\. 3 by 4; check --input_shape\n$/,
    );
  });
});

describe('--input_shape against a model with fixed dimensions', () => {
  const lenet = join(root, 'models', 'lenet5.onnx');
  for (const [shape, expected] of [
    ['input:1x28x28', /^onnx-manager: --input_shape input:1x28x28: 3 dimensions, but input 'input' has 4 \(the model declares 1x1x28x28\)\n$/],
    ['input:2x1x28x28', /^onnx-manager: --input_shape input:2x1x28x28: dimension 0 is 2, but the model fixes it at 1 for input 'input' \(declared 1x1x28x28\); only its free dimensions can be chosen\n$/],
  ] as const) {
    it(`run refuses ${shape} before it starts anything (not 'inference failed' from onnxruntime), exit 2`, () => {
      const r = spawnSync(process.execPath, [bin, 'run', '--onnx_file', lenet, '--split_layer', '3', '--input_shape', shape], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, expected);
    });
  }
});

describe('inputs whose batch the model does not take', () => {
  const lenet = join(root, 'models', 'lenet5.onnx');
  const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-batch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const onnxManager = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

  it('run --input_file with a payload of batch 2 names the payload and its shape, not an --input_shape never given (exit 2)', () => {
    const file = join(dir, 'b2.pb');
    const tensor = { type: 'float32', dims: [2, 1, 28, 28], data: new Float32Array(2 * 28 * 28) };
    writeFileSync(file, encodePayload({ kind: 'input', runId: '', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map([['input', tensor]]) }).concat());
    const r = onnxManager('run', '--onnx_file', lenet, '--split_layer', '3', '--input_file', file);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^onnx-manager: --input_file .*b2\.pb \(input 'input' of shape 2x1x28x28\): dimension 0 is 2, but the model fixes it at 1 for input 'input' \(declared 1x1x28x28\)/);
    assert.doesNotMatch(r.stderr, /--input_shape/);
  });

  it('--batch 4 on a model whose batch is fixed is refused, not ignored (exit 2); --batch 1 is fine', () => {
    const r = onnxManager('list_layers', '--onnx_file', lenet, '--batch', '4');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^onnx-manager: --batch 4: .*lenet5\.onnx fixes the first dimension of every input \('input' 1x1x28x28\), so there is no batch to bind; run it at its own batch \(leave out --batch\)\n$/);
    assert.equal(onnxManager('list_layers', '--onnx_file', lenet, '--batch', '1').status, 0);
  });

  it('data_processing refuses more pictures than a fixed batch takes, as run does, and writes nothing (exit 2)', async () => {
    const images = join(dir, 'images');
    mkdirSync(images);
    for (const k of [0, 1]) await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 100 * k, g: 50, b: 20 } } }).png().toFile(join(images, `img${k}.png`));
    const out = join(dir, 'two.pb');
    const r = onnxManager('data_processing', '--onnx_file', lenet, '--image_batch', images, '--image_is_grayscale', '--output_file', out);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--image_batch .*images: 2 pictures, but input 'input' takes a fixed batch of 1 \(1x1x28x28\)/);
    assert.ok(!existsSync(out), 'nothing written');
    const one = onnxManager('data_processing', '--onnx_file', lenet, '--image_batch', images, '--image_is_grayscale', '--image_limit', '1', '--output_file', out);
    assert.equal(one.status, 0, one.stderr);
    assert.ok(existsSync(out));
  });
});
