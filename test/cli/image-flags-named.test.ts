/**
 * The image flags a picture needs are named by their flags: a free height or width asks for
 * --image_size_y / --image_size_x, and a colour preset against a one-channel model names the
 * preset and what to give instead (it said "mean has 3 values ... (give 1)" of a mean never given).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { realModels } from '../models/zoo.js';

const temp = tempDirs();
const cls = realModels.find((m) => m.name === 'ppocr_mobile_v2_cls')!.path;

async function picture(dir: string): Promise<string> {
  const f = join(dir, 'p.png');
  await sharp({ create: { width: 60, height: 30, channels: 3, background: { r: 200, g: 120, b: 40 } } }).png().toFile(f);
  return f;
}

describe('image flags named in the messages', () => {
  it('a free height or width names --image_size_y or --image_size_x', async () => {
    const dir = await temp('image-flags');
    const image = await picture(dir);
    const out = join(dir, 'x.pb');
    const h = await cli(['data_processing', '--onnx_file', cls, '--image_file', image, '--output_file', out]);
    assert.equal(h.code, 2, h.err);
    assert.equal(h.errLines.length, 1, h.err);
    assert.match(h.errLines[0]!, /input height is not fixed .*: give --image_size_y$/);
    const w = await cli(['data_processing', '--onnx_file', cls, '--image_file', image, '--image_size_y', '48', '--output_file', out]);
    assert.equal(w.code, 2, w.err);
    assert.match(w.errLines[0]!, /input width is not fixed .*: give --image_size_x$/);
    assert.ok(!existsSync(out));
  });

  it('--normalisation imagenet on a one-channel model names the preset and what to give instead', async () => {
    const dir = await temp('image-preset');
    const image = await picture(dir);
    const lenet = writeZooModel('lenet5', dir);
    const r = await cli(['data_processing', '--onnx_file', lenet, '--image_file', image, '--normalisation', 'imagenet', '--output_file', join(dir, 'x.pb')]);
    assert.equal(r.code, 2, r.err);
    assert.deepEqual(r.errLines, [
      "onnx-manager: --normalisation imagenet has a mean and std for 3 colour channels, but input 'input' takes 1 channel; give --mean and --std with one value each (or --normalisation unit or raw)",
    ]);
    const m = await cli(['data_processing', '--onnx_file', lenet, '--image_file', image, '--mean', '0.1', '0.2', '0.3', '--output_file', join(dir, 'x.pb')]);
    assert.equal(m.code, 2, m.err);
    assert.deepEqual(m.errLines, ["onnx-manager: --mean has 3 values, but input 'input' takes 1 channel; give 1"]);
    const ok = await cli(['data_processing', '--onnx_file', lenet, '--image_file', image, '--normalisation', 'imagenet', '--mean', '0.5', '--std', '0.25', '--output_file', join(dir, 'x.pb')]);
    assert.equal(ok.code, 0, ok.err);
  });
});
