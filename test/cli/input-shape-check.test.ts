/**
 * An --input_shape with a dimension of 0 is refused at the flag:
 * one line naming the input and the position, exit 2; onnxruntime's own log line never shows.
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

describe('--input_shape with a dimension of 0', () => {
  const cases: [shape: string, expected: RegExp][] = [
    ['x:1x3x48x0', /^onnx-manager: --input_shape x:1x3x48x0: a dimension of 0 \(at position 3\); input 'x' needs every dimension at least 1\n$/],
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
