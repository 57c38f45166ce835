/**
 * A results file that cannot be written (a directory, or under a file) is refused in one line
 * naming the path, before anything is measured; nothing is written.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();
let dir: string;
let model: string;

before(async () => {
  dir = await temp('output-paths');
  model = writeZooModel('lenet5', dir);
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'plain'), 'x');
});

const cases: [string, string[]][] = [
  ['run_all', ['--rep', '1', '--splits', '1']],
  ['run', ['--split_layer', 'relu_2_out', '--rep', '1']],
  ['profile', ['--rep', '1']],
  ['predict', ['--profile_rep', '1']],
];

describe('results files that cannot be written', () => {
  for (const [op, extra] of cases) {
    it(`${op}: a directory, or a path under a file, is refused naming it`, async () => {
      const before = readdirSync(dir).sort();
      const folder = join(dir, 'folder');
      const d = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', folder]);
      assert.equal(d.code, 2, d.err);
      assert.deepEqual(d.errLines, [`onnx-manager: --results_file ${folder} is a directory; name a file`]);
      const under = join(dir, 'plain', 'x.csv');
      const u = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', under]);
      assert.equal(u.code, 2, u.err);
      assert.deepEqual(u.errLines, [`onnx-manager: --results_file ${under}: ${join(dir, 'plain')} is a file, not a folder`]);
      assert.deepEqual(readdirSync(dir).sort(), before);
      assert.deepEqual(readdirSync(folder), []);
    });
  }
});
