/**
 * quant_model's calibrated rounding (GPTQ), --exclude_nodes and ConvTranspose: the rounding cuts a
 * layer's output error against rounding to nearest, the calibration covers the nodes it should,
 * and on the trained models the error bounds hold on images the calibration never saw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { modelFromBytes } from '../../src/onnx/model.js';
import type { ModelProto } from '../../src/onnx/types.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { compareModels, splitBatch } from '../../src/quant/compare.js';
import { gptqRound, InputMoments, inverseFactor } from '../../src/quant/gptq.js';
import { quantisableNodes, quantiseModel } from '../../src/quant/quantise.js';
import { dequantiseWeight, quantiseWeight } from '../../src/quant/weights.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { imageFolderToTensor, NORMALISATION_PRESETS } from '../../src/tensor/images.js';
import { analyze, realSubject, tempDirs, zooSubject } from '../helpers.js';
import { realModels, zoo } from '../models/zoo.js';
import { heldOutLines, heldOutPages, type HeldOut } from './held-out.js';
import { firstOutput, logitsModel, maskIoU, relL2 } from './real-metrics.js';

const temp = tempDirs();

/** A seeded generator of numbers in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

describe('calibrated rounding (GPTQ)', () => {
  // Inputs with strongly correlated elements (a shared component plus a little noise), as
  // neighbouring pixels and channels are: the case where rounding each weight alone is worst.
  const D = 24;
  const M = 6;
  const rows = (n: number, seed: number) => {
    const r = noise(seed);
    return Array.from({ length: n }, () => {
      const common = r();
      return Float64Array.from({ length: D }, (_, j) => common * (1 + j / D) + 0.1 * r());
    });
  };
  const outputError = (w: Float32Array, q: Float32Array, xs: Float64Array[]) => {
    let e = 0;
    for (const x of xs) {
      for (let m = 0; m < M; m++) {
        let d = 0;
        for (let j = 0; j < D; j++) d += (w[m * D + j]! - q[m * D + j]!) * x[j]!;
        e += d * d;
      }
    }
    return e;
  };

  it('the inverse factor U of the damped moments satisfies Uᵀ U H = I', () => {
    const m = new InputMoments(D);
    for (const x of rows(200, 1)) m.add(x);
    const u = inverseFactor(m)!;
    // H as inverseFactor damps it.
    const h = Float64Array.from({ length: D * D }, (_, k) => {
      const [a, b] = [Math.floor(k / D), k % D];
      return m.sum[Math.min(a, b) * D + Math.max(a, b)]! / m.rows;
    });
    const damp = (0.01 * Array.from({ length: D }, (_, a) => h[a * D + a]!).reduce((x, y) => x + y, 0)) / D;
    for (let a = 0; a < D; a++) h[a * D + a]! += damp;
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < D; b++) {
        let s = 0;
        for (let k = 0; k < D; k++) {
          let inv = 0;
          for (let t = 0; t < D; t++) inv += u[t * D + a]! * u[t * D + k]!;
          s += inv * h[k * D + b]!;
        }
        assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-6, `(${a}, ${b}): ${s}`);
      }
    }
  });

  it('cuts the output error on held-out inputs against rounding to nearest; every weight stays in range', () => {
    const r = noise(7);
    const w = Float32Array.from({ length: M * D }, () => r() * 0.5);
    const m = new InputMoments(D);
    for (const x of rows(400, 2)) m.add(x);
    const factors = [inverseFactor(m)!];
    const heldOut = rows(400, 3);
    for (const type of ['int8', 'uint8'] as const) {
      const nearest = quantiseWeight(w, [M, D], { type, axis: 0 });
      const calibrated = quantiseWeight(w, [M, D], { type, axis: 0, calibrated: { layout: { rows: M, dim: D, at: (row, j) => row * D + j, group: () => 0 }, factors } });
      assert.deepEqual(calibrated.scales, nearest.scales, 'the same scales');
      const [en, ec] = [outputError(w, dequantiseWeight(nearest), heldOut), outputError(w, dequantiseWeight(calibrated), heldOut)];
      assert.ok(ec < 0.5 * en, `${type}: output error ${ec} calibrated against ${en} nearest`);
      if (type === 'int8') assert.ok(calibrated.data.every((v) => v >= -127 && v <= 127));
    }
  });

  it('gptqRound with an identity H (uncorrelated inputs) is rounding to nearest', () => {
    const r = noise(11);
    const w = Float32Array.from({ length: M * D }, () => r());
    const m = new InputMoments(D);
    for (let j = 0; j < D; j++) m.add(Float64Array.from({ length: D }, (_, k) => (k === j ? 1 : 0)));
    const data = new Int8Array(w.length);
    gptqRound(w, data, { rows: M, dim: D, at: (row, j) => row * D + j, group: () => 0 }, [inverseFactor(m)!], () => 0.01, () => 0, -127, 127);
    assert.deepEqual([...data], [...w].map((v) => Math.max(-127, Math.min(127, Math.round(v / 0.01)))));
  });

  for (const name of ['mobilenet_v2_like', 'transformer_block']) {
    it(`${name}: every Conv and MatMul with rows of at most 1024 inputs calibrated, the same size, within the bound on held-out seeded inputs`, async () => {
      const s = zooSubject(zoo.find((z) => z.name === name)!);
      const a = await analyze(s);
      const calibration = await calibrate(s.model, Array.from({ length: 8 }, (_, k) => randomInputs(a, 500 + k)));
      const plain = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true });
      const calibrated = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true, calibration });
      const rowLength = new Map(quantisableNodes(s.model).map((q) => [q.label, q.node.opType === 'Conv' ? q.weightDims.slice(1).reduce((x, y) => x * y, 1) : q.weightDims[q.node.opType === 'Gemm' && q.node.attribute?.some((t) => t.name === 'transB' && Number(t.i) === 1) ? 1 : 0]!]));
      assert.deepEqual(
        calibrated.quantised.map((q) => q.rounding === 'calibrated'),
        plain.quantised.map((q) => rowLength.get(q.node)! <= 1024),
      );
      assert.ok(calibrated.quantised.filter((q) => q.rounding === 'calibrated').length >= plain.quantised.length - 1);
      assert.equal(calibrated.bytes.length, plain.bytes.length, 'the same layout and size');
      const heldOut = Array.from({ length: 4 }, (_, k) => randomInputs(a, 900 + k));
      const c = await compareModels(s.model.bytes, calibrated.bytes, heldOut, { rounds: 1, warmup: 0 });
      // Random weights meet uncorrelated noise here, where calibration has nothing to exploit: the
      // gain is shown on correlated inputs above and on the trained models below.
      assert.ok(c.outputs[0]!.relL2 < 0.03, `relative L2 ${c.outputs[0]!.relL2}`);
    });
  }
});

describe('excluded nodes', () => {
  it('stay float under their own name; an unknown name is refused naming the closest', () => {
    const s = zooSubject(zoo.find((z) => z.name === 'resnet_like')!);
    const all = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true });
    const first = all.quantised[0]!;
    const last = all.quantised.at(-1)!;
    const r = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true, excludeNodes: [first.node, last.node] });
    assert.equal(r.quantised.length, all.quantised.length - 2);
    assert.deepEqual(
      r.skipped.filter((k) => k.reason === 'excluded').map((k) => k.node),
      [first.node, last.node],
    );
    const out = modelFromBytes(r.bytes);
    const kept = (out.proto.graph!.node ?? []).filter((n) => n.name === first.node || n.name === last.node);
    assert.equal(kept.length, 2);
    const inits = new Set((out.proto.graph!.initializer ?? []).map((t) => t.name));
    for (const n of kept) assert.ok(inits.has(n.input![1]!), `${n.name} reads its float weight ${n.input![1]}`);
    assert.ok(r.bytes.length > all.bytes.length);
    assert.throws(() => quantiseModel(s.model, { quantType: 'QInt8', excludeNodes: [`${first.node}x`] }), new RegExp(`no node '${first.node}x'.*closest: ${first.node}`));
    const relu = (s.model.proto.graph!.node ?? []).find((n) => n.opType === 'Relu')!;
    assert.throws(() => quantiseModel(s.model, { quantType: 'QInt8', excludeNodes: [relu.name!] }), /is a Relu, not a Conv, MatMul or Gemm/);
  });
});

describe('ConvTranspose', () => {
  it('grouped and plain ConvTranspose with bias: int8 weights (per input channel), under 0.3x, outputs within 1% of float', async () => {
    for (const group of [1, 2]) {
      const r = noise(3 + group);
      const [cin, cout, k] = [32, 32, 3];
      const w = Float32Array.from({ length: cin * (cout / group) * k * k }, () => r() * 0.3);
      const bias = Float32Array.from({ length: cout }, () => r() * 0.1);
      const t = (name: string, dims: number[], v: Float32Array) => ({ name, dataType: 1, dims, rawData: new Uint8Array(v.buffer) });
      const proto: ModelProto = {
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: {
          name: 'ct',
          node: [{ name: 'up', opType: 'ConvTranspose', input: ['x', 'W', 'B'], output: ['y'], attribute: [{ name: 'strides', type: 7, ints: [2, 2] }, { name: 'group', type: 2, i: group }] }],
          initializer: [t('W', [cin, cout / group, k, k], w), t('B', [cout], bias)],
          input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [1, cin, 5, 5].map((d) => ({ dimValue: d })) } } } }],
          output: [{ name: 'y' }],
        },
      };
      const model = modelFromBytes(encodeModel(proto));
      const q = quantiseModel(model, { quantType: 'QInt8', perChannel: true });
      assert.deepEqual(q.quantised.map((x) => [x.opType, x.as, x.channels]), [['ConvTranspose', 'Cast+Mul+ConvTranspose', cin]]);
      assert.ok(q.bytes.length < 0.3 * model.bytes.length, `size ${q.bytes.length} of ${model.bytes.length}`);
      const x = { x: { type: 'float32', dims: [1, cin, 5, 5], data: Float32Array.from({ length: cin * 25 }, () => r()) } };
      const e = relL2(await firstOutput(model.bytes, x), await firstOutput(q.bytes, x));
      assert.ok(e < 0.01, `group ${group}: relative L2 ${e}`);
    }
  });
});

describe('trained PP-OCR models, calibrated on other images than they are measured on', () => {
  /** The model, its evaluation images as one batch, and its calibration on the other images. */
  async function calibratedOn(name: string, sets: HeldOut, height: number, width: number, normalisation: string) {
    const s = await realSubject(realModels.find((m) => m.name === name)!);
    const layout = { layout: 'NCHW', channels: 3, height, width, dtype: 'float32' } as const;
    const feeds = { x: await imageFolderToTensor(sets.evaluation, layout, NORMALISATION_PRESETS[normalisation]!) };
    const samples = splitBatch({ x: await imageFolderToTensor(sets.calibration, layout, NORMALISATION_PRESETS[normalisation]!) });
    const calibration = await calibrate(s.model, samples, { session: { intraOpNumThreads: 1 } });
    return { s, feeds, calibration, calibrationSamples: samples.length };
  }

  it('ppocrv4 rec: 20 text lines calibrate, 12 others measure: size <= 0.3x, logits within relative L2 5% (3.5x better than rounding to nearest), argmax per time step >= 98%', async () => {
    const { s, feeds, calibration, calibrationSamples } = await calibratedOn('ppocrv4_rec', await heldOutLines(await temp('quant-rec-cal'), 6, 10), 48, 320, 'paddleocr');
    assert.equal(feeds.x.dims[0], 12);
    assert.equal(calibrationSamples, 20);
    const plain = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true });
    const result = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true, calibration });
    assert.ok(result.quantised.filter((q) => q.rounding === 'calibrated').length >= 44, 'all but the Convs of rows over 1024 inputs');
    assert.ok(result.bytes.length <= 0.3 * s.model.bytes.length, `size ratio ${result.bytes.length / s.model.bytes.length}`);
    const floatLogits = await firstOutput(logitsModel(s.model.bytes).bytes, feeds);
    const e = relL2(floatLogits, await firstOutput(logitsModel(result.bytes).bytes, feeds));
    const ePlain = relL2(floatLogits, await firstOutput(logitsModel(plain.bytes).bytes, feeds));
    assert.ok(e < 0.05, `logits relative L2 ${e}`);
    assert.ok(e < ePlain / 2, `calibrated ${e}, rounded to nearest ${ePlain}`);
    const o = (await compareModels(s.model.bytes, result.bytes, splitBatch(feeds), { rounds: 1, warmup: 0 })).outputs[0]!;
    assert.ok(o.top1Agreement! >= 0.98, `per time step agreement ${o.top1Agreement}`);
  });

  it('ppocrv4 det: its ConvTranspose nodes quantised too; 4 pages calibrate, 2 others measure: size <= 0.3x, logits within 5%, text mask IoU >= 97%', async () => {
    const { s, feeds, calibration } = await calibratedOn('ppocrv4_det', await heldOutPages(await temp('quant-det-cal'), 2, 4), 320, 320, 'imagenet');
    const result = quantiseModel(s.model, { quantType: 'QInt8', perChannel: true, calibration });
    const transposes = (s.model.proto.graph!.node ?? []).filter((n) => n.opType === 'ConvTranspose').map((n) => n.name);
    assert.ok(transposes.length > 0);
    assert.deepEqual(
      result.quantised.filter((q) => q.opType === 'ConvTranspose').map((q) => q.node),
      transposes,
    );
    assert.deepEqual(result.skipped, []);
    assert.ok(result.bytes.length <= 0.3 * s.model.bytes.length, `size ratio ${result.bytes.length / s.model.bytes.length}`);
    const e = relL2(await firstOutput(logitsModel(s.model.bytes).bytes, feeds), await firstOutput(logitsModel(result.bytes).bytes, feeds));
    assert.ok(e < 0.05, `logits relative L2 ${e}`);
    const iou = maskIoU(await firstOutput(s.model.bytes, feeds), await firstOutput(result.bytes, feeds), 0.3);
    assert.ok(iou >= 0.97, `text mask IoU ${iou}`);
  });
});
