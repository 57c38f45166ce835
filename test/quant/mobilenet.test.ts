/**
 * quant_model on a trained MobileNetV2 (nsfwjs's, converted by test/models/nsfw-mobilenet.ts), on
 * the command line with pictures: per channel it keeps the goals (at most 0.3x the size,
 * logits within 5% relative L2, the same top class), per tensor it is refused nothing but is
 * measurably worse (bench/mobilenet-quant-bench.ts has the figures on photographs).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { imageFolderToTensor, NORMALISATION_PRESETS } from '../../src/tensor/images.js';
import { cli } from '../cli-helper.js';
import { tempDirs } from '../helpers.js';
import { nsfwMobileNetOnnx, NSFW_INPUT } from '../models/nsfw-mobilenet.js';
import { firstOutput, logitsModel, relL2 } from './real-metrics.js';

const temp = tempDirs();

/** `count` 224x224 pictures of soft colour waves with a bright disc, each with its own colours and place. */
async function pictures(dir: string, count: number, seed: number): Promise<string> {
  mkdirSync(dir);
  for (let k = 0; k < count; k++) {
    const s = seed + k;
    const px = Buffer.alloc(224 * 224 * 3);
    const [cx, cy, r] = [40 + ((s * 37) % 140), 40 + ((s * 53) % 140), 20 + ((s * 11) % 40)];
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        for (let c = 0; c < 3; c++) {
          const wave = 0.5 + 0.35 * Math.sin((x * (c + 1 + (s % 3))) / (9 + s) + (y * (3 - c)) / (13 + 2 * s));
          const disc = (x - cx) ** 2 + (y - cy) ** 2 < r * r ? 0.35 * ((s + c) % 2 ? 1 : -1) : 0;
          px[(y * 224 + x) * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, wave + disc)));
        }
      }
    }
    await sharp(px, { raw: { width: 224, height: 224, channels: 3 } }).png().toFile(join(dir, `p${k}.png`));
  }
  return dir;
}

describe('quant_model on a trained MobileNetV2', () => {
  it('per channel, calibrated on other pictures: at most 0.3x the size, logits within 5%, the same top class', async (t) => {
    const dir = await temp('quant-mobilenet');
    const file = join(dir, 'mobilenet_v2.onnx');
    writeFileSync(file, nsfwMobileNetOnnx());
    const measured = await pictures(join(dir, 'measured'), 6, 1);
    const calibration = await pictures(join(dir, 'calibration'), 4, 20);
    const feeds = { [NSFW_INPUT.name]: await imageFolderToTensor(measured, { layout: 'NCHW', channels: 3, height: 224, width: 224, dtype: 'float32' }, NORMALISATION_PRESETS.unit) };
    const floatLogits = await firstOutput(logitsModel(readFileSync(file)).bytes, feeds);
    const errors: Record<string, number> = {};
    for (const [name, flags] of [
      ['per channel', ['--per_channel']],
      ['per channel, calibrated', ['--per_channel', '--calibration_batch', calibration]],
      ['per tensor', []],
    ] as const) {
      const out = join(dir, `${name.replace(/\W+/g, '_')}.onnx`);
      const r = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', ...flags, '--image_batch', measured, '--normalisation', 'unit', '--rounds', '1', '--threads', '1', '--json', '--output_file', out]);
      assert.equal(r.code, 0, r.err);
      const report = JSON.parse(r.out);
      assert.equal(report.samples.count, 6);
      assert.ok(report.sizeRatio <= 0.3, `${name}: size ${report.sizeRatio}`);
      // 52 Conv (BatchNormalization folded per channel) and 3 Gemm.
      assert.equal(report.quantised.length, 55);
      errors[name] = relL2(floatLogits, await firstOutput(logitsModel(readFileSync(out)).bytes, feeds));
      if (name !== 'per tensor') {
        assert.equal(report.folded.length, 52);
        assert.equal(report.comparison.outputs[0].top1Agreement, 1, `${name}: top-1`);
        assert.ok(errors[name]! < 0.05, `${name}: logits relative L2 ${errors[name]}`);
      }
    }
    t.diagnostic(`logits relative L2: ${JSON.stringify(errors)}`);
    assert.ok(errors['per channel, calibrated']! < errors['per channel']!, JSON.stringify(errors));
    assert.ok(errors['per tensor']! > errors['per channel']!, JSON.stringify(errors));
  });
});
