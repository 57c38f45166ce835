import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  ImageError,
  IMAGE_EXTENSIONS,
  NORMALISATION_PRESETS,
  float32ToFloat16Bits,
  imageFolderToTensor,
  imageToTensor,
  layoutFromInputShape,
  type ImageLayout,
} from '../../src/tensor/images.js';
import { OnnxManagerError, UsageError } from '../../src/errors.js';

// A 4 (wide) x 3 (high) RGB image whose every (y, x, c) value is distinct: 6 * ((y*4 + x)*3 + c + 1).
const W = 4;
const H = 3;
const srcValue = (y: number, x: number, c: number): number => 6 * ((y * W + x) * 3 + c + 1);
const SRC = Buffer.alloc(W * H * 3);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) SRC[(y * W + x) * 3 + c] = srcValue(y, x, c);

const GRAY = Buffer.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]); // 4x3, one channel

let dir: string;
const p = (name: string): string => join(dir, name);

function layout(over: Partial<ImageLayout> = {}): ImageLayout {
  return { layout: 'NCHW', channels: 3, height: H, width: W, dtype: 'float32', ...over };
}

function solid(r: number, g: number, b: number, w = 8, h = 8): ReturnType<typeof sharp> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } });
}

/** Awaits a rejection and checks its class, that the message is one line and mentions `mention`. */
async function rejects(pr: Promise<unknown>, cls: typeof OnnxManagerError, mention: string | RegExp): Promise<void> {
  await assert.rejects(pr, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    if (typeof mention === 'string') assert.ok(e.message.includes(mention), `'${e.message}' does not mention ${mention}`);
    else assert.match(e.message, mention);
    return true;
  });
}

function throwsOneLine(fn: () => unknown, cls: typeof OnnxManagerError, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, re);
    return true;
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-manager-images-'));
  const raw3 = { raw: { width: W, height: H, channels: 3 as const } };
  await sharp(SRC, raw3).png().toFile(p('grid.png'));
  await sharp(GRAY, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toFile(p('gray.png'));
  await solid(200, 100, 50).jpeg({ quality: 95 }).toFile(p('solid.jpg'));
  // 3 wide x 2 high, EXIF orientation 6 (display rotated 90 degrees clockwise: 2 wide x 3 high)
  const six = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
  await sharp(six, { raw: { width: 3, height: 2, channels: 3 } }).png().withMetadata({ orientation: 6 }).toFile(p('orient6.png'));
  await sharp(six, { raw: { width: 3, height: 2, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toFile(p('orient6.jpg'));
  // RGBA: a transparent red and a half-transparent green pixel
  await sharp(Buffer.from([255, 0, 0, 0, 0, 255, 0, 128]), { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(p('alpha.png'));
  await sharp(SRC, raw3).toColourspace('rgb16').png().toFile(p('grid16.png'));
  await writeFile(p('not-an-image.png'), 'hello, I am text\n');
  const jpeg = await solid(1, 2, 3).jpeg().toBuffer();
  await writeFile(p('truncated.jpg'), jpeg.subarray(0, 60));

  // a folder of images in scrambled creation order, plus things to skip
  await mkdir(p('batch'));
  await solid(30, 30, 30, 5, 5).png().toFile(p('batch/b.png'));
  await solid(10, 10, 10, 7, 3).png().toFile(p('batch/a.png'));
  await solid(50, 50, 50, 4, 4).webp({ lossless: true }).toFile(p('batch/c.WEBP'));
  await solid(40, 40, 40, 2, 2).gif().toFile(p('batch/B2.gif')); // upper case sorts before lower case
  await solid(60, 60, 60, 2, 2).tiff().toFile(p('batch/d.tiff'));
  await writeFile(p('batch/notes.txt'), 'not an image');
  await writeFile(p('batch/.hidden.png'), 'macOS resource fork, not an image');
  await mkdir(p('batch/sub.png')); // a folder named like an image
  await mkdir(p('empty'));
  await mkdir(p('noimages'));
  await writeFile(p('noimages/readme.md'), '# nothing');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('imageToTensor layouts', () => {
  it('NCHW is a transpose of the interleaved pixels, not a reshape', async () => {
    const t = await imageToTensor(p('grid.png'), layout(), NORMALISATION_PRESETS.raw);
    assert.equal(t.type, 'float32');
    assert.deepEqual(t.dims, [1, 3, H, W]);
    const d = t.data as Float32Array;
    assert.ok(d instanceof Float32Array);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(d[c * H * W + y * W + x], srcValue(y, x, c), `c=${c} y=${y} x=${x}`);
    // (c=0, y=0, x=1) is element 1: the transpose gives the red of pixel (0,1), a reshape would give the green of pixel (0,0)
    assert.equal(d[1], srcValue(0, 1, 0));
    assert.notEqual(d[1], SRC[1]);
    // (c=2, y=2, x=3) is the last element in both, but (c=1, y=0, x=0) = element 12 differs
    assert.equal(d[12], srcValue(0, 0, 1));
    assert.notEqual(d[12], SRC[12]);
  });

  it('NCHW with unit normalisation by default', async () => {
    const t = await imageToTensor(p('grid.png'), layout());
    const d = t.data as Float32Array;
    // (c=1, y=2, x=3)
    assert.ok(Math.abs(d[1 * H * W + 2 * W + 3]! - srcValue(2, 3, 1) / 255) < 1e-7);
  });

  it('NHWC keeps the pixels interleaved', async () => {
    const t = await imageToTensor(p('grid.png'), layout({ layout: 'NHWC' }), NORMALISATION_PRESETS.raw);
    assert.deepEqual(t.dims, [1, H, W, 3]);
    assert.deepEqual([...(t.data as Float32Array)], [...SRC]);
  });

  it('accepts a buffer', async () => {
    const buf = await sharp(SRC, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
    const t = await imageToTensor(buf, layout({ layout: 'NHWC' }), { scale: 1 });
    assert.deepEqual([...(t.data as Float32Array)], [...SRC]);
  });

  it('grayscale: one channel, a gray PNG exactly, a color image by luminance', async () => {
    const g = await imageToTensor(p('gray.png'), layout({ channels: 1 }), { scale: 1 });
    assert.deepEqual(g.dims, [1, 1, H, W]);
    assert.deepEqual([...(g.data as Float32Array)], [...GRAY]);
    const n = await imageToTensor(p('gray.png'), layout({ channels: 1, layout: 'NHWC' }), { scale: 1 });
    assert.deepEqual(n.dims, [1, H, W, 1]);
    const c = await imageToTensor(p('grid.png'), layout({ channels: 1 }), { scale: 1 });
    assert.deepEqual(c.dims, [1, 1, H, W]);
    // Rec. 709 luminance of each pixel, to the rounding of 8-bit output (the channel mean is 0.8 off).
    const cd = c.data as Float32Array;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const want = 0.2126 * srcValue(y, x, 0) + 0.7152 * srcValue(y, x, 1) + 0.0722 * srcValue(y, x, 2);
        assert.ok(Math.abs(cd[y * W + x]! - want) <= 0.5, `y=${y} x=${x}: ${cd[y * W + x]} for luminance ${want.toFixed(2)}`);
      }
    // a gray PNG read for a 3-channel model: three equal planes
    const g3 = await imageToTensor(p('gray.png'), layout(), { scale: 1 });
    const d3 = g3.data as Float32Array;
    for (let c2 = 0; c2 < 3; c2++) assert.deepEqual([...d3.subarray(c2 * H * W, (c2 + 1) * H * W)], [...GRAY]);
  });

  it('BGR channel order, with mean/std indexed by the model channel', async () => {
    const t = await imageToTensor(p('grid.png'), layout(), { scale: 1, channelOrder: 'BGR' });
    const d = t.data as Float32Array;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        assert.equal(d[0 * H * W + y * W + x], srcValue(y, x, 2));
        assert.equal(d[1 * H * W + y * W + x], srcValue(y, x, 1));
        assert.equal(d[2 * H * W + y * W + x], srcValue(y, x, 0));
      }
    const n = await imageToTensor(p('grid.png'), layout({ layout: 'NHWC' }), { scale: 1, mean: [1, 2, 3], channelOrder: 'BGR' });
    const e = n.data as Float32Array;
    assert.equal(e[0], srcValue(0, 0, 2) - 1);
    assert.equal(e[1], srcValue(0, 0, 1) - 2);
    assert.equal(e[2], srcValue(0, 0, 0) - 3);
  });

  it('imagenet normalisation, exact to 1e-6', async () => {
    const t = await imageToTensor(p('grid.png'), layout(), NORMALISATION_PRESETS.imagenet);
    const d = t.data as Float32Array;
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const want = (srcValue(y, x, c) / 255 - mean[c]!) / std[c]!;
          assert.ok(Math.abs(d[c * H * W + y * W + x]! - want) < 1e-6, `c=${c} y=${y} x=${x}`);
        }
    // one worked number: red 6 at (0,0): (6/255 - 0.485)/0.229
    assert.ok(Math.abs(d[0]! - -2.0151554) < 1e-6);
  });

  it('paddleocr normalisation maps 0..255 to -1..1', async () => {
    const t = await imageToTensor(p('grid.png'), layout({ layout: 'NHWC' }), NORMALISATION_PRESETS.paddleocr);
    const d = t.data as Float32Array;
    for (let i = 0; i < SRC.length; i++) assert.ok(Math.abs(d[i]! - (SRC[i]! / 255 - 0.5) / 0.5) < 1e-6);
  });

  it('resizes to the given sizes, for every fit', async () => {
    for (const fit of ['fill', 'cover', 'contain'] as const) {
      const t = await imageToTensor(p('grid.png'), layout({ height: 6, width: 10 }), undefined, { fit });
      assert.deepEqual(t.dims, [1, 3, 6, 10], fit);
      assert.equal((t.data as Float32Array).length, 3 * 6 * 10);
    }
    const n = await imageToTensor(p('solid.jpg'), layout({ layout: 'NHWC', height: 5, width: 3 }), { scale: 1 });
    assert.deepEqual(n.dims, [1, 5, 3, 3]);
    // a solid JPEG stays (nearly) solid through lossy coding and resizing
    const d = n.data as Float32Array;
    for (let i = 0; i < 15; i++) {
      assert.ok(Math.abs(d[i * 3]! - 200) <= 3 && Math.abs(d[i * 3 + 1]! - 100) <= 3 && Math.abs(d[i * 3 + 2]! - 50) <= 3, `pixel ${i}`);
    }
    // contain letterboxes on black: the 8x8 image in a 3 wide x 9 high box fills rows 3..5 only
    const c = await imageToTensor(p('solid.jpg'), layout({ layout: 'NHWC', height: 9, width: 3 }), { scale: 1 }, { fit: 'contain' });
    const cd = c.data as Float32Array;
    assert.deepEqual([...cd.subarray(0, 3)], [0, 0, 0]);
    assert.ok(Math.abs(cd[4 * 3 * 3]! - 200) <= 3);
  });

  it('applies the EXIF orientation before anything else', async () => {
    const t = await imageToTensor(p('orient6.png'), layout({ layout: 'NHWC', height: 3, width: 2 }), { scale: 1 });
    assert.deepEqual(t.dims, [1, 3, 2, 3]);
    // stored rows [1 2 3|4 5 6|7 8 9] and [10 11 12|13 14 15|16 17 18], rotated 90 degrees clockwise
    assert.deepEqual([...(t.data as Float32Array)], [10, 11, 12, 1, 2, 3, 13, 14, 15, 4, 5, 6, 16, 17, 18, 7, 8, 9]);
    const meta = await sharp(p('orient6.jpg')).metadata();
    assert.equal(meta.orientation, 6);
    // a 3x2 JPEG that displays 2x3: asked for 2 wide x 3 high, 'cover' needs no crop when rotated first
    const j = await imageToTensor(p('orient6.jpg'), layout({ layout: 'NHWC', height: 3, width: 2 }), { scale: 1 }, { fit: 'cover' });
    assert.deepEqual(j.dims, [1, 3, 2, 3]);
  });

  it('drops alpha, keeping the colour underneath', async () => {
    const t = await imageToTensor(p('alpha.png'), layout({ layout: 'NHWC', height: 1, width: 2 }), { scale: 1 });
    assert.deepEqual([...(t.data as Float32Array)], [255, 0, 0, 0, 255, 0]);
  });

  it('reads a 16-bit PNG as 8-bit values', async () => {
    const t = await imageToTensor(p('grid16.png'), layout({ layout: 'NHWC' }), { scale: 1 });
    assert.deepEqual([...(t.data as Float32Array)], [...SRC]);
  });

  it('uint8 inputs get the raw pixels; float16 inputs half-precision bits', async () => {
    const u = await imageToTensor(p('grid.png'), layout({ dtype: 'uint8', layout: 'NHWC' }));
    assert.equal(u.type, 'uint8');
    assert.ok(u.data instanceof Uint8Array);
    assert.deepEqual([...(u.data as Uint8Array)], [...SRC]);
    const ub = await imageToTensor(p('grid.png'), layout({ dtype: 'uint8' }), { channelOrder: 'BGR' });
    assert.equal((ub.data as Uint8Array)[0], srcValue(0, 0, 2));
    await rejects(imageToTensor(p('grid.png'), layout({ dtype: 'uint8' }), NORMALISATION_PRESETS.imagenet), UsageError, 'uint8');

    const h = await imageToTensor(p('grid.png'), layout({ dtype: 'float16' }), { scale: 1 / 6 });
    assert.equal(h.type, 'float16');
    assert.ok(h.data instanceof Uint16Array);
    const hd = h.data as Uint16Array;
    // element 0 is 6/6 = 1.0, element 1 (c=0,y=0,x=1) is 24/6 = 4.0
    assert.equal(hd[0], 0x3c00);
    assert.equal(hd[1], 0x4400);
    assert.equal(float32ToFloat16Bits(0.5), 0x3800);
    assert.equal(float32ToFloat16Bits(-2), 0xc000);
    assert.equal(float32ToFloat16Bits(0.1), 0x2e66);
    assert.equal(float32ToFloat16Bits(65504), 0x7bff);
    assert.equal(float32ToFloat16Bits(1e6), 0x7c00);
    assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001);
    assert.equal(float32ToFloat16Bits(0), 0);
  });
});

describe('imageFolderToTensor', () => {
  it('stacks the images in name order, skipping non-images, hidden files and folders', async () => {
    const l = layout({ height: 2, width: 2 });
    const t = await imageFolderToTensor(p('batch'), l, { scale: 1 });
    assert.deepEqual(t.dims, [5, 3, 2, 2]);
    const d = t.data as Float32Array;
    const per = 3 * 2 * 2;
    // B2.gif, a.png, b.png, c.WEBP, d.tiff
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => d[i * per]), [40, 10, 30, 50, 60]);
    for (let i = 0; i < 5; i++) assert.ok(d.subarray(i * per, (i + 1) * per).every((v) => v === d[i * per]));
  });

  it('takes the first `limit` images', async () => {
    const t = await imageFolderToTensor(p('batch'), layout({ height: 2, width: 2, layout: 'NHWC', dtype: 'uint8' }), undefined, { limit: 2 });
    assert.deepEqual(t.dims, [2, 2, 2, 3]);
    assert.deepEqual([(t.data as Uint8Array)[0], (t.data as Uint8Array)[12]], [40, 10]);
  });

  it('knows the common image extensions', () => {
    for (const ext of ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']) assert.ok(IMAGE_EXTENSIONS.includes(ext), ext);
  });
});

describe('layoutFromInputShape', () => {
  it('reads NCHW and NHWC', () => {
    assert.deepEqual(layoutFromInputShape([1, 3, 224, 224], {}), { layout: 'NCHW', channels: 3, height: 224, width: 224, dtype: 'float32' });
    assert.deepEqual(layoutFromInputShape(['N', 224, 160, 3], {}), { layout: 'NHWC', channels: 3, height: 224, width: 160, dtype: 'float32' });
    assert.deepEqual(layoutFromInputShape([null, 76, 32, 1], { dtype: 'float16' }), { layout: 'NHWC', channels: 1, height: 76, width: 32, dtype: 'float16' });
    assert.deepEqual(layoutFromInputShape([1, 1, 28, 28], { height: 28 }), { layout: 'NCHW', channels: 1, height: 28, width: 28, dtype: 'float32' });
  });

  it('takes dynamic H/W from the sizes', () => {
    assert.deepEqual(layoutFromInputShape(['N', 3, 48, 'W'], { width: 320 }), { layout: 'NCHW', channels: 3, height: 48, width: 320, dtype: 'float32' });
    assert.deepEqual(layoutFromInputShape(['N', 'H', 'W', 3], { width: 64, height: 32 }), { layout: 'NHWC', channels: 3, height: 32, width: 64, dtype: 'float32' });
    assert.deepEqual(layoutFromInputShape(['N', 'C', 'H', 'W'], { width: 8, height: 8, grayscale: true }).channels, 1);
    assert.deepEqual(layoutFromInputShape(['N', 'C', 'H', 'W'], { width: 8, height: 8 }).layout, 'NCHW');
  });

  it('refuses what it cannot read', () => {
    throwsOneLine(() => layoutFromInputShape(['N', 3, 'H', 'W'], { width: 10 }), UsageError, /height/);
    throwsOneLine(() => layoutFromInputShape([1, 3, 224], {}), UsageError, /4-D/);
    throwsOneLine(() => layoutFromInputShape([1, 4, 224, 224], {}), UsageError, /layout/);
    throwsOneLine(() => layoutFromInputShape([1, 3, 224, 224], { width: 100 }), UsageError, /differs/);
    throwsOneLine(() => layoutFromInputShape([1, 3, 224, 224], { grayscale: true }), UsageError, /grayscale/);
    // Colour asked for by a model of one channel: refused as the other way round is, not overridden.
    throwsOneLine(() => layoutFromInputShape([1, 1, 28, 28], { grayscale: false }), UsageError, /colour was asked for \(--image_is_grayscale false\) but the model's input .* takes 1 channel/);
    throwsOneLine(() => layoutFromInputShape(['N', 3, 'H', 'W'], { width: 0, height: 10 }), UsageError, /width must be a positive/);
    throwsOneLine(() => layoutFromInputShape(['N', 3, 'H', 'W'], { width: 10, height: -5 }), UsageError, /height must be a positive/);
  });
});

describe('errors', () => {
  it('a missing file', async () => {
    const f = p('nope.png');
    await rejects(imageToTensor(f, layout()), ImageError, f);
    await rejects(imageToTensor(f, layout()), ImageError, /not found/);
  });

  it('a folder named as an image file', async () => {
    await rejects(imageToTensor(dir, layout()), ImageError, /is a folder, not an image file$/);
  });

  it('a file that is not an image, or a damaged one', async () => {
    await rejects(imageToTensor(p('not-an-image.png'), layout()), ImageError, p('not-an-image.png'));
    await rejects(imageToTensor(p('not-an-image.png'), layout()), ImageError, /not an image/);
    await rejects(imageToTensor(p('truncated.jpg'), layout()), ImageError, p('truncated.jpg'));
    await rejects(imageToTensor(Buffer.from('text'), layout()), ImageError, /not an image/);
    await rejects(imageToTensor(p('batch'), layout()), ImageError, /folder/);
  });

  it('an empty folder, a folder without images, a missing folder, a file as folder', async () => {
    await rejects(imageFolderToTensor(p('empty'), layout()), ImageError, p('empty'));
    await rejects(imageFolderToTensor(p('noimages'), layout()), ImageError, /no image files/);
    await rejects(imageFolderToTensor(p('missing'), layout()), ImageError, /not found/);
    await rejects(imageFolderToTensor(p('grid.png'), layout()), ImageError, /not a folder/);
    await rejects(imageFolderToTensor(p('batch'), layout(), undefined, { limit: 0 }), UsageError, /limit/);
  });

  it('a bad image in a folder names the file', async () => {
    const bad = p('badbatch');
    await mkdir(bad);
    await solid(1, 1, 1).png().toFile(join(bad, 'a.png'));
    await writeFile(join(bad, 'b.jpg'), 'no jpeg');
    await rejects(imageFolderToTensor(bad, layout()), ImageError, join(bad, 'b.jpg'));
  });

  it('mean/std of the wrong length, std with 0', async () => {
    await rejects(imageToTensor(p('grid.png'), layout(), { mean: [0.5, 0.5] }), UsageError, /mean has 2 values/);
    await rejects(imageToTensor(p('grid.png'), layout(), { std: [1, 1, 1, 1] }), UsageError, /std has 4 values/);
    await rejects(imageToTensor(p('grid.png'), layout({ channels: 1 }), NORMALISATION_PRESETS.imagenet), UsageError, /mean has 3 values .* 1 channel/);
    await rejects(imageToTensor(p('grid.png'), layout(), { std: [0.2, 0, 0.2] }), UsageError, /std\[1\] must be positive/);
    await rejects(imageToTensor(p('grid.png'), layout(), { std: [0] }), UsageError, /std/);
    await rejects(imageFolderToTensor(p('batch'), layout(), { mean: [1, 2] }), UsageError, /mean/);
    await rejects(imageToTensor(p('grid.png'), layout(), { scale: 0 }), UsageError, /scale/);
  });

  it('non-positive sizes and bad options', async () => {
    await rejects(imageToTensor(p('grid.png'), layout({ width: 0 })), UsageError, /width/);
    await rejects(imageToTensor(p('grid.png'), layout({ height: -3 })), UsageError, /height/);
    await rejects(imageToTensor(p('grid.png'), layout({ height: 2.5 })), UsageError, /height/);
    await rejects(imageFolderToTensor(p('batch'), layout({ width: 0 })), UsageError, /width/);
    await rejects(imageToTensor(p('grid.png'), layout(), undefined, { fit: 'stretch' as 'fill' }), UsageError, /fit/);
  });
});
