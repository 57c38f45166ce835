/**
 * quant_model on the command line: the file it writes, its report, and bad input refused in one
 * line before anything is written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { modelFromBytes } from '../../src/onnx/model.js';
import { int8Saturates } from '../../src/quant/int8-saturation.js';
import { createSession } from '../../src/runtime/ort.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { realModels } from '../models/zoo.js';

const temp = tempDirs();

function oneLine(r: { code: number; errLines: string[]; err: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  assert.equal(r.errLines.length, 1, r.err);
  assert.ok(!r.errLines[0]!.includes('\n'), r.err);
  assert.match(r.errLines[0]!, pattern);
}

/** `count` images of one colour each (img0.png, ...) in a new folder `dir`. */
async function flatImages(dir: string, count: number, size: number): Promise<string> {
  mkdirSync(dir);
  for (let k = 0; k < count; k++) {
    await sharp({ create: { width: size, height: size, channels: 3, background: { r: 60 * k, g: 200 - 50 * k, b: 90 } } }).png().toFile(join(dir, `img${k}.png`));
  }
  return dir;
}

describe('quant_model command', () => {
  it('a quantised model has the float model\'s MACs in list_layers, whether its Convs are Cast+Mul+Conv or ConvInteger', async () => {
    const dir = await temp('quant-macs');
    const file = writeZooModel('mobilenet_v2_like', dir);
    const macs = async (f: string): Promise<number> => {
      const r = await cli(['list_layers', '--onnx_file', f, '--json']);
      assert.equal(r.code, 0, r.err);
      const points = (JSON.parse(r.out) as { split_points: { edge: { macs: number } }[] }).split_points;
      return points[points.length - 1]!.edge.macs;
    };
    const float = await macs(file);
    assert.ok(float > 4e6, `float model ${float} MACs`);
    for (const extra of [['--per_channel'], ['--conv_pattern', 'integer']]) {
      const out = join(dir, `q${extra.length}.onnx`);
      const q = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', ...extra, '--batch', '1', '--rounds', '1', '--output_file', out]);
      assert.equal(q.code, 0, q.err);
      // Every Conv and the Gemm still multiply as many times; only the elementwise rescaling differs.
      const got = await macs(out);
      assert.ok(Math.abs(got - float) / float < 0.01, `${extra.join(' ')}: ${got} MACs against the float model's ${float}`);
      // Quantising it again would write a 1.000x copy called quantised: refused, nothing written.
      const again = join(dir, `again${extra.length}.onnx`);
      const r = await cli(['quant_model', '--onnx_file', out, '--quant_type', 'QInt8', '--output_file', again]);
      assert.equal(r.code, 2, r.err);
      oneLine(r, /q\d\.onnx is quantised already \(\d+ (DequantizeLinear|ConvInteger|DynamicQuantizeLinear)[^)]*\); quant_model takes the float model$/);
      assert.ok(!existsSync(again));
    }
  });

  it('writes <model>.quant.onnx beside the input and reports size, error and time; --json has the same figures', async () => {
    const dir = await temp('quant-cli');
    const file = writeZooModel('resnet_like', dir);
    const before = readFileSync(file);
    const r = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--per_channel', '--batch', '3', '--rounds', '1']);
    assert.equal(r.code, 0, r.err);
    const out = join(dir, 'resnet_like.quant.onnx');
    assert.ok(existsSync(out));
    assert.deepEqual(readFileSync(file), before, 'the input is untouched');
    assert.match(r.out, /quantised 10 node\(s\) to QInt8 per channel: 9 Conv as Cast\+Mul\+Conv, 1 Gemm as MatMulInteger/);
    assert.match(r.out, new RegExp(`-> .* \\(0\\.\\d+x, ${before.length} -> ${statSync(out).size} bytes\\)`));
    assert.match(r.out, /compared on 3 seeded random samples \(seed 1\):\n {2}logits: max abs diff [\d.e-]+, mean abs diff [\d.e-]+, relative L2 [\d.]+%, top-1 agreement [\d.]+% \(\d\/3\)/);
    assert.match(r.out, /inference, median of 3 warm runs of one sample: float [\d.]+ ms, quantised [\d.]+ ms/);
    const session = await createSession(out);
    assert.deepEqual(session.outputNames, ['logits']);
    await session.release();

    const j = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QUInt8', '--conv_pattern', 'integer', '--batch', '2', '--rounds', '1', '--json', '--output_file', join(dir, 'q.onnx')]);
    assert.equal(j.code, 0, j.err);
    const report = JSON.parse(j.out);
    assert.equal(report.bytesBefore, before.length);
    assert.equal(report.bytesAfter, statSync(join(dir, 'q.onnx')).size);
    assert.equal(report.quantType, 'QUInt8');
    assert.equal(report.samples.count, 2);
    assert.ok(report.quantised.every((q: { as: string }) => q.as === 'ConvInteger' || q.as === 'MatMulInteger'));
    const o = report.comparison.outputs[0];
    assert.equal(o.name, 'logits');
    for (const k of ['maxAbs', 'meanAbs', 'relL2', 'top1Agreement']) assert.equal(typeof o[k], 'number', k);
    assert.ok(o.relL2 < 0.03);
    assert.ok(report.comparison.timing.floatMs > 0 && report.comparison.timing.quantMs > 0);
  });

  it('--no-balance_kernels rounds every weight to nearest: the same layout, other int8 bytes', async () => {
    const dir = await temp('quant-balance');
    const file = writeZooModel('resnet_like', dir);
    const files = [join(dir, 'balanced.onnx'), join(dir, 'nearest.onnx')];
    for (const [k, extra] of [[], ['--no-balance_kernels']].entries()) {
      const r = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--per_channel', '--batch', '1', '--rounds', '1', '--output_file', files[k]!, ...extra]);
      assert.equal(r.code, 0, r.err);
    }
    const [a, b] = files.map((f) => readFileSync(f));
    assert.equal(a!.length, b!.length);
    assert.notDeepEqual(a, b);
  });

  it('compares on a folder of images with the image preprocessing', async () => {
    const dir = await temp('quant-images');
    const images = await flatImages(join(dir, 'images'), 3, 40);
    const file = writeZooModel('resnet_like', dir);
    const r = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--image_batch', images, '--normalisation', 'imagenet', '--rounds', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.samples.count, 3);
    assert.match(report.samples.source, /images of/);
    assert.equal(report.comparison.outputs[0].rows, 3);
  });

  it('--calibration_batch rounds the weights on those images (GPTQ) and says so; --exclude_nodes leaves nodes float, in the report and the file', async () => {
    const dir = await temp('quant-calibration');
    const images = await flatImages(join(dir, 'calibration'), 4, 32);
    const file = writeZooModel('resnet_like', dir);
    const r = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--per_channel', '--calibration_batch', images, '--normalisation', 'imagenet', '--batch', '2', '--rounds', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.deepEqual(report.calibration, { count: 4, source: images, nodes: 10 });
    assert.ok(report.quantised.every((q: { rounding: string }) => q.rounding === 'calibrated'));
    assert.ok(report.comparison.outputs[0].relL2 < 0.03);
    const text = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--per_channel', '--calibration_batch', images, '--batch', '1', '--rounds', '1', '--output_file', join(dir, 'c.onnx')]);
    assert.match(text.out, new RegExp(`rounded the weights of 10 node\\(s\\) on 4 calibration samples of ${images} \\(GPTQ\\)`));

    const first = report.quantised[0].node as string;
    const x = await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--per_channel', '--exclude_nodes', first, '--batch', '1', '--rounds', '1', '--output_file', join(dir, 'x.onnx')]);
    assert.equal(x.code, 0, x.err);
    assert.match(x.out, new RegExp(`quantised 9 node\\(s\\)[^\\n]*\\n {2}left as float: Conv ${first} \\(excluded\\)`));
    assert.ok(statSync(join(dir, 'x.onnx')).size > statSync(join(dir, 'c.onnx')).size);
    oneLine(await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--exclude_nodes', 'no_such_node', '--output_file', join(dir, 'y.onnx')]), /no node 'no_such_node'.*closest/);
    assert.ok(!existsSync(join(dir, 'y.onnx')));
  });

  it('says when the error is measured on the calibration samples themselves, and not on other images', async () => {
    const dir = await temp('quant-same-samples');
    const images = await flatImages(join(dir, 'calibration'), 3, 32);
    const others = await flatImages(join(dir, 'others'), 2, 32);
    const file = writeZooModel('resnet_like', dir);
    const base = ['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--per_channel', '--calibration_batch', images, '--rounds', '1', '--output_file', join(dir, 'q.onnx')];
    const note = `note: compared on the calibration samples (--calibration_batch ${images}): the error on other inputs is likely larger; give other samples with --image_batch or --input_file`;
    const same = await cli([...base, '--image_batch', `${images}/`]);
    assert.equal(same.code, 0, same.err);
    assert.ok(same.out.split('\n').includes(note), same.out);
    const one = await cli([...base, '--image_file', join(images, readdirSync(images).sort()[0]!)]);
    assert.ok(one.out.split('\n').includes(note.replace('on the calibration samples', 'on a calibration sample')), one.out);
    const apart = await cli([...base, '--image_batch', others]);
    assert.equal(apart.code, 0, apart.err);
    assert.doesNotMatch(apart.out, /^note:/m, apart.out);
  });

  it('--image_size_x and --image_size_y bind a free height and width for the random samples, as the error for a free dimension says to', async () => {
    const dir = await temp('quant-free-dims');
    // PP-OCR's direction classifier: input x of shape ?x3x?x? (batch, height and width free).
    const cls = realModels.find((m) => m.name === 'ppocr_mobile_v2_cls')!.path;
    const out = join(dir, 'cls.quant.onnx');
    const unbound = await cli(['quant_model', '--onnx_file', cls, '--quant_type', 'QInt8', '--batch', '1', '--rounds', '1', '--output_file', out]);
    assert.equal(unbound.code, 2, unbound.err);
    oneLine(unbound, /free dimension .* --image_size_x W --image_size_y H/);
    assert.ok(!existsSync(out));
    const r = await cli(['quant_model', '--onnx_file', cls, '--quant_type', 'QInt8', '--image_size_x', '192', '--image_size_y', '48', '--batch', '2', '--rounds', '1', '--output_file', out, '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.samples.count, 2);
    assert.equal(report.comparison.outputs[0].rows, 2);
    assert.ok(existsSync(out));
  });

  it('refuses bad input in one line and writes nothing', async () => {
    const dir = await temp('quant-bad');
    const file = writeZooModel('lenet5', dir);
    oneLine(await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt4']), /quant_type.*QInt4.*QInt8, QUInt8/);
    oneLine(await cli(['quant_model', '--onnx_file', join(dir, 'missing.onnx'), '--quant_type', 'QInt8']), /missing\.onnx: no such file/);
    oneLine(await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--output_file', join(dir, '.', 'lenet5.onnx')]), /is the input model/);
    oneLine(await cli(['quant_model', '--onnx_file', file]), /quant_type/);
    oneLine(await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QUInt8', '--reduce_range']), /^onnx-manager: --reduce_range applies to QInt8 weights only/);
    // Every quantisable node excluded: nothing to quantise, nothing written.
    const weighted = modelFromBytes(readFileSync(file)).proto.graph!.node!.filter((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.opType!)).map((n) => n.name!);
    oneLine(await cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--exclude_nodes', ...weighted]), /no MatMul, Gemm or Conv with a constant float32 weight to quantise \(\d+ left as they are; the first: .*\); nothing written$/);
    assert.deepEqual(readdirSync(dir), ['lenet5.onnx']);
    assert.ok(modelFromBytes(readFileSync(file)).proto.graph!.node!.some((n) => n.opType === 'Conv'), 'the input is as it was');
  });

  it('--reduce_range gives the integer ops 7-bit weights and says so; --no-reduce_range 8; the default follows this CPU and says why', async () => {
    const dir = await temp('quant-range');
    const file = writeZooModel('lenet5', dir);
    const integerMax = (f: string): number => {
      const g = modelFromBytes(readFileSync(f)).proto.graph!;
      const names = new Set((g.node ?? []).filter((n) => n.opType === 'MatMulInteger' || n.opType === 'ConvInteger').map((n) => n.input![1]!));
      const q = (g.initializer ?? []).filter((t) => names.has(t.name!)).flatMap((t) => [...new Int8Array(t.rawData!.buffer, t.rawData!.byteOffset, t.rawData!.byteLength)]);
      assert.ok(q.length > 0, 'integer ops with weights');
      return Math.max(...q.map(Math.abs));
    };
    const quant = (out: string, ...extra: string[]) => cli(['quant_model', '--onnx_file', file, '--quant_type', 'QInt8', '--conv_pattern', 'integer', '--batch', '1', '--rounds', '1', '--output_file', join(dir, out), ...extra]);
    const on = await quant('on.onnx', '--reduce_range');
    assert.equal(on.code, 0, on.err);
    assert.match(on.out, /^weights of the \d+ node\(s\) run as MatMulInteger or ConvInteger take 7 bits \(\[-63, 63\]\): --reduce_range$/m);
    assert.equal(integerMax(join(dir, 'on.onnx')), 63);
    const off = await quant('off.onnx', '--no-reduce_range');
    assert.equal(off.code, 0, off.err);
    assert.match(off.out, /^weights of the \d+ node\(s\) run as MatMulInteger or ConvInteger take 8 bits \(\[-127, 127\]\): --no-reduce_range$/m);
    assert.equal(integerMax(join(dir, 'off.onnx')), 127);
    const auto = await quant('auto.onnx', '--json');
    assert.equal(auto.code, 0, auto.err);
    const saturates = int8Saturates();
    assert.deepEqual(JSON.parse(auto.out).reduceRange, { on: saturates, by: 'cpu' });
    assert.equal(integerMax(join(dir, 'auto.onnx')), saturates ? 63 : 127);
  });
});
