/**
 * An --input_shape onnxruntime would refuse is refused at the flag (a dimension of 0, another
 * rank than declared, another value for a fixed dimension): one line naming the input and the
 * position, exit 2, before anything starts; onnxruntime's own log line never shows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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
