/**
 * Pictures for a model whose batch dimension is fixed: run and run_all refuse another count before
 * anything is started, in one line with the counts (onnxruntime's own message broke off before them).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();

describe('--image_batch against a fixed batch', () => {
  it('three pictures for a batch of 1: one line naming both counts, exit 2, nothing written; --image_limit 1 runs', async () => {
    const dir = await temp('image-batch-fixed');
    const images = join(dir, 'images');
    mkdirSync(images);
    for (let k = 0; k < 3; k++) await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 60 * k, g: 100, b: 20 } } }).png().toFile(join(images, `i${k}.png`));
    const file = writeZooModel('resnet_like', dir);
    const csv = join(dir, 'r.csv');
    for (const op of [['run_all', '--results_file', csv, '--splits', '3'], ['run', '--split_layer', '3']]) {
      const r = await cli([op[0]!, '--onnx_file', file, '--image_batch', images, '--rep', '1', ...op.slice(1)]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.errLines.length, 1, r.err);
      assert.match(r.err, /--image_batch .*images: 3 pictures, but input 'input' takes a fixed batch of 1 \(1x3x32x32\); give one picture \(--image_file, or --image_limit 1\), or a model whose batch dimension is free/);
    }
    assert.ok(!existsSync(csv), 'nothing written');
    const one = await cli(['run', '--onnx_file', file, '--image_batch', images, '--image_limit', '1', '--rep', '1', '--warmup', '0', '--split_layer', '3']);
    assert.equal(one.code, 0, one.err);
  });
});
