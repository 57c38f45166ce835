/**
 * quant_model: quantised models load and run in onnxruntime within a stated error of the float
 * model, weights round-trip within half a step, per-channel scales are per channel, the nodes
 * left alone are the input's bytes, and the quantised model splits like any other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';
import { toNumber, type TensorProto } from '../../src/onnx/types.js';
import { compareModels, splitBatch } from '../../src/quant/compare.js';
import { quantiseModel, type ConvPattern, type QuantiseOptions, type QuantType } from '../../src/quant/quantise.js';
import { floatValues, tensorDims } from '../../src/quant/tensor-values.js';
import { dequantiseWeight, quantiseWeight, roundHalfEven, transpose2d, type QuantisedWeight } from '../../src/quant/weights.js';
import { runChain } from '../../src/runtime/chain.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { imageFolderToTensor, NORMALISATION_PRESETS } from '../../src/tensor/images.js';
import { buildParts } from '../../src/split/split.js';
import { analyze, assertSameTensor, partSession, realSubject, tempDirs, zooSubject, type TestSubject } from '../helpers.js';
import { renderPages, renderTextLines } from '../models/text-images.js';
import { fullSizeZoo, realModels, zoo } from '../models/zoo.js';
import { firstOutput, logitsModel, maskIoU, relL2 } from './real-metrics.js';

const temp = tempDirs();

/** Relative L2 error of the logits on seeded random inputs, stated for the test models. */
const ZOO_REL_L2 = 0.03;
const PPOCR_REL_L2 = 0.08;
const PPOCR_REL_L2_PER_CHANNEL = 0.05;
/** On rendered text lines (0.51% and 1.3% measured for QInt8, 0.94% and 2.1% before kernels were balanced). */
const PPOCR_TEXT_REL_L2 = 0.01;
const PPOCR_TEXT_REL_L2_PER_TENSOR = 0.03;

function quantised(s: TestSubject, options: QuantiseOptions): { model: LoadedModel; result: ReturnType<typeof quantiseModel> } {
  const result = quantiseModel(s.model, options);
  return { model: modelFromBytes(result.bytes, { file: `${s.name}.quant.onnx` }), result };
}

async function samplesOf(s: TestSubject, n: number) {
  const a = await analyze(s);
  return Array.from({ length: n }, (_, k) => randomInputs(a, 100 + k));
}

function initializerMap(m: LoadedModel): Map<string, TensorProto> {
  return new Map((m.proto.graph!.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/** The quantised weight as stored in the file: data, scales and zero points by name. */
function storedWeight(m: LoadedModel, weight: string): QuantisedWeight & { scaleDims: number[] } {
  const inits = initializerMap(m);
  const data = inits.get(`${weight}_quantized`);
  const scale = inits.get(`${weight}_scale`);
  const zp = inits.get(`${weight}_zero_point`);
  assert.ok(data && scale, `stored tensors of ${weight}`);
  const signed = data.dataType === 3;
  const raw = (t: TensorProto) => new Uint8Array(t.rawData!);
  const dims = tensorDims(data);
  const scales = floatValues(m, scale);
  // No zero point stored: symmetric int8, zero point 0.
  const zpRaw = zp ? raw(zp) : new Uint8Array(1);
  const zeroPoints = signed ? new Int8Array(zpRaw.buffer, zpRaw.byteOffset, zpRaw.length) : zpRaw;
  const q = raw(data);
  const w: QuantisedWeight & { scaleDims: number[] } = {
    type: signed ? 'int8' : 'uint8',
    dims,
    data: signed ? new Int8Array(q.buffer, q.byteOffset, q.length) : q,
    scales,
    zeroPoints: zeroPoints.length === scales.length ? zeroPoints : (signed ? new Int8Array(scales.length) : new Uint8Array(scales.length)).fill(zeroPoints[0]!),
    scaleDims: tensorDims(scale),
  };
  if (scales.length > 1) w.axis = dims.length === 2 ? 1 : 0;
  return w;
}

describe('weights', () => {
  const values = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 4)) * (Math.floor(i / 27) + 1));
  const dims = [4, 3, 3, 3];
  for (const type of ['int8', 'uint8'] as const) {
    for (const axis of [undefined, 0]) {
      it(`${type} ${axis === undefined ? 'per tensor' : 'per channel'}: every dequantised element within scale/2 of the original`, () => {
        const q = quantiseWeight(values, dims, { type, ...(axis === undefined ? {} : { axis }) });
        const back = dequantiseWeight(q);
        const per = values.length / q.scales.length;
        for (let i = 0; i < values.length; i++) {
          const s = q.scales[axis === undefined ? 0 : Math.floor(i / per)]!;
          assert.ok(Math.abs(back[i]! - values[i]!) <= s / 2 + 1e-6 * Math.abs(values[i]!), `element ${i}: ${back[i]} vs ${values[i]} (scale ${s})`);
        }
        if (type === 'int8') assert.ok(q.data.every((v) => v >= -127 && v <= 127));
      });
    }
  }
  it('int8 with reduceRange takes 7 bits: q in [-63, 63], scale max|w| / 63, every element within scale/2', () => {
    const q = quantiseWeight(values, dims, { type: 'int8', axis: 0, reduceRange: true });
    assert.ok(q.data.every((v) => v >= -63 && v <= 63));
    assert.ok(q.data.some((v) => v === 63 || v === -63));
    const back = dequantiseWeight(q);
    for (let c = 0; c < 4; c++) {
      const amax = Math.max(...values.subarray(c * 27, (c + 1) * 27).map(Math.abs));
      assert.equal(q.scales[c], Math.fround(amax / 63));
      for (let i = c * 27; i < (c + 1) * 27; i++) assert.ok(Math.abs(back[i]! - values[i]!) <= q.scales[c]! / 2 + 1e-6);
    }
  });
  it('reduceRange gives the weights of MatMulInteger and ConvInteger 7 bits; without it they take 8', async () => {
    const model = zoo.find((z) => z.name === 'lenet5')!;
    const loaded = modelFromBytes(encodeModel(model.build()));
    const integerWeights = (opts: QuantiseOptions): number[] => {
      const out = modelFromBytes(quantiseModel(loaded, opts).bytes);
      const g = out.proto.graph!;
      const names = new Set((g.node ?? []).filter((n) => n.opType === 'MatMulInteger' || n.opType === 'ConvInteger').map((n) => n.input![1]!));
      return (g.initializer ?? []).filter((t) => names.has(t.name!)).flatMap((t) => [...new Int8Array(t.rawData!.buffer, t.rawData!.byteOffset, t.rawData!.byteLength)]);
    };
    const reduced = integerWeights({ quantType: 'QInt8', convPattern: 'integer', reduceRange: true });
    const full = integerWeights({ quantType: 'QInt8', convPattern: 'integer', reduceRange: false });
    assert.ok(reduced.length > 0 && reduced.length === full.length);
    assert.equal(Math.max(...reduced.map(Math.abs)), 63);
    assert.equal(Math.max(...full.map(Math.abs)), 127);
  });
  it('per-channel int8 scales are max|w| / 127 of each channel, and differ between channels', () => {
    const q = quantiseWeight(values, dims, { type: 'int8', axis: 0 });
    assert.equal(q.scales.length, 4);
    for (let c = 0; c < 4; c++) {
      const amax = Math.max(...values.subarray(c * 27, (c + 1) * 27).map(Math.abs));
      assert.equal(q.scales[c], Math.fround(amax / 127));
    }
    assert.equal(new Set(q.scales).size, 4);
    assert.deepEqual([...q.zeroPoints], [0, 0, 0, 0]);
  });
  it('uint8 symmetric per channel shares zero point 128; asymmetric fits the range', () => {
    const sym = quantiseWeight(values, dims, { type: 'uint8', axis: 0, symmetric: true });
    assert.deepEqual([...sym.zeroPoints], [128, 128, 128, 128]);
    const positive = Float32Array.from([0.5, 1, 2, 4]);
    const asym = quantiseWeight(positive, [4], { type: 'uint8' });
    assert.equal(asym.zeroPoints[0], 0);
    assert.equal(asym.data[3], 255);
  });
  it('a weight of zeros quantises to zeros with scale 1; rounding is half to even', () => {
    const q = quantiseWeight(new Float32Array(6), [2, 3], { type: 'int8', axis: 1 });
    assert.deepEqual([...q.scales], [1, 1, 1]);
    assert.ok(q.data.every((v) => v === 0));
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2]);
  });
  it('balanced runs: each kernel sum within half a step, each element within one step; plain rounding misses on an edge filter', () => {
    // Difference filters: large taps of opposite signs, each rounded down by 0.4 of a step (3.2 steps in all).
    const edge = Float32Array.from({ length: 2 * 9 }, (_, i) => [127, -20.6, 30.4, -60.6, 10.4, -40.6, 50.4, -70.6, 20.4][i % 9]! * (i < 9 ? 0.01 : 0.002));
    const sumError = (q: QuantisedWeight, c: number) => {
      const back = dequantiseWeight(q);
      let e = 0;
      for (let i = c * 9; i < (c + 1) * 9; i++) e += back[i]! - edge[i]!;
      return Math.abs(e) / q.scales[c]!;
    };
    for (const type of ['int8', 'uint8'] as const) {
      const plain = quantiseWeight(edge, [2, 1, 3, 3], { type, axis: 0 });
      const balanced = quantiseWeight(edge, [2, 1, 3, 3], { type, axis: 0, balancedRuns: 9 });
      const back = dequantiseWeight(balanced);
      for (const c of [0, 1]) {
        if (type === 'int8') assert.ok(sumError(plain, c) > 3, `${type} plain rounding: sum off by ${sumError(plain, c)} steps`);
        assert.ok(sumError(balanced, c) <= 0.5 + 1e-6, `${type} balanced: sum off by ${sumError(balanced, c)} steps`);
        for (let i = c * 9; i < (c + 1) * 9; i++) assert.ok(Math.abs(back[i]! - edge[i]!) < balanced.scales[c]!, `${type} element ${i}`);
      }
    }
    assert.throws(() => quantiseWeight(edge, [2, 1, 3, 3], { type: 'int8', axis: 0, balancedRuns: 4 }), /do not tile/);
  });
  it('a non-finite weight is refused', () => {
    assert.throws(() => quantiseWeight(Float32Array.from([1, Number.NaN]), [2], { type: 'int8' }), /non-finite/);
  });
});

const PATTERNS: ConvPattern[] = ['weight_only', 'integer'];
const TYPES: QuantType[] = ['QInt8', 'QUInt8'];
const CNN_ZOO = ['lenet5', 'mobilenet_v2_like', 'resnet_like', 'inception_like', 'transformer_block', 'two_outputs', 'constant_nodes', 'input_reuse'];

describe('quantised zoo models run within the bound', () => {
  for (const name of CNN_ZOO) {
    it(`${name}: both weight types, per tensor and per channel, both Conv patterns: relative L2 < ${ZOO_REL_L2}`, async () => {
      const s = zooSubject(zoo.find((z) => z.name === name)!);
      const samples = await samplesOf(s, 2);
      for (const quantType of TYPES) {
        for (const perChannel of [false, true]) {
          for (const convPattern of PATTERNS) {
            const { result } = quantised(s, { quantType, perChannel, convPattern });
            assert.ok(result.quantised.length > 0, 'something quantised');
            const c = await compareModels(s.model.bytes, result.bytes, samples, { rounds: 1, warmup: 0 });
            assert.ok(c.outputs.length > 0);
            for (const o of c.outputs) {
              assert.ok(o.relL2 < ZOO_REL_L2, `${name} ${quantType} ${perChannel ? 'per channel' : 'per tensor'} ${convPattern} ${o.name}: relative L2 ${o.relL2}`);
              assert.ok(o.maxAbs > 0, 'the outputs did change');
            }
          }
        }
      }
    });
  }
});

describe('BatchNormalization folding', () => {
  it('folds every Conv + BatchNormalization pair of resnet_like and mobilenet_v2_like; the outputs stay within the bound', async () => {
    for (const name of ['resnet_like', 'mobilenet_v2_like']) {
      const s = zooSubject(zoo.find((z) => z.name === name)!);
      const bns = s.model.proto.graph!.node!.filter((n) => n.opType === 'BatchNormalization').length;
      assert.ok(bns > 0);
      const { model, result } = quantised(s, { quantType: 'QInt8', perChannel: true });
      assert.equal(result.folded.length, bns, `${name}: folded`);
      assert.equal(model.proto.graph!.node!.filter((n) => n.opType === 'BatchNormalization').length, 0);
      const kept = quantised(s, { quantType: 'QInt8', perChannel: true, foldBatchNorm: false });
      assert.equal(kept.model.proto.graph!.node!.filter((n) => n.opType === 'BatchNormalization').length, bns);
      assert.ok(result.bytes.length < kept.result.bytes.length, 'the float BatchNormalization parameters are gone');
      const c = await compareModels(s.model.bytes, result.bytes, await samplesOf(s, 2), { rounds: 1, warmup: 0 });
      assert.ok(c.outputs[0]!.relL2 < ZOO_REL_L2, `${name}: ${c.outputs[0]!.relL2}`);
    }
  });
});

/** The first output of every sample, as numbers. */
async function outputsOf(model: Uint8Array, samples: readonly Record<string, HostTensor>[]): Promise<number[][]> {
  const session = await createSession(model);
  try {
    const out: number[][] = [];
    for (const f of samples) out.push(Array.from((await session.run(f))[session.outputNames[0]!]!.data as Float32Array));
    return out;
  } finally {
    await session.release();
  }
}

/** Tensors of `m` as onnxruntime computes them (constants folded) on one seeded sample of `s`. */
async function tensorsAsRun(m: LoadedModel, s: TestSubject, names: string[]): Promise<Map<string, Float32Array>> {
  const graph = { ...m.proto.graph!, output: [...(m.proto.graph!.output ?? []), ...names.map((name) => ({ name }))] };
  const session = await createSession(encodeModel({ ...m.proto, graph }));
  try {
    const out = await session.run((await samplesOf(s, 1))[0]!);
    return new Map(names.map((n) => [n, out[n]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/**
 * A weight_only Conv's weight as the session runs it against the int8 data stored: each element is
 * (q - zero point) * its channel's scale, within one step of the float weight, each kernel's sum
 * within half a step of the float kernel's, and the scale at most 2^-10 above max|w| / 127 (int8).
 */
function checkConvWeight(label: string, ran: Float32Array, stored: QuantisedWeight, values: Float32Array, dims: number[], perChannel: boolean): void {
  const channels = perChannel ? dims[0]! : 1;
  const per = values.length / channels;
  const taps = dims.slice(2).reduce((a, d) => a * d, 1);
  const zp = (c: number) => (stored.zeroPoints.length > 1 ? stored.zeroPoints[c]! : stored.zeroPoints[0]!);
  for (let c = 0; c < channels; c++) {
    let at = c * per;
    for (let i = c * per; i < (c + 1) * per; i++) if (Math.abs(stored.data[i]! - zp(c)) > Math.abs(stored.data[at]! - zp(c))) at = i;
    const scale = stored.data[at] === zp(c) ? 0 : ran[at]! / (stored.data[at]! - zp(c));
    const amax = Math.max(...values.subarray(c * per, (c + 1) * per).map(Math.abs));
    if (stored.type === 'int8') assert.ok(scale <= (amax / 127) * (1 + 2 ** -10) + 1e-12, `${label} channel ${c}: scale ${scale} for max|w| ${amax}`);
    for (let i = c * per; i < (c + 1) * per; i++) {
      if (Math.abs(ran[i]! - (stored.data[i]! - zp(c)) * scale) > 1e-6 * Math.abs(ran[i]!) + 1e-12) assert.fail(`${label} element ${i}: runs as ${ran[i]}, stored ${stored.data[i]} * ${scale}`);
      if (Math.abs(ran[i]! - values[i]!) > scale * (1 + 1e-6) + 1e-12) assert.fail(`${label} element ${i}: ${ran[i]} vs ${values[i]}, more than one step (${scale})`);
    }
    for (let k = c * per; k < (c + 1) * per; k += taps) {
      let e = 0;
      for (let i = k; i < k + taps; i++) e += ran[i]! - values[i]!;
      if (Math.abs(e) > scale * (0.5 + 1e-5 * taps) + 1e-12) assert.fail(`${label} kernel at ${k}: sum off by ${e}, more than half a step (${scale})`);
    }
  }
}

describe('weights in the file', () => {
  for (const name of ['resnet_like', 'lenet5', 'transformer_block', 'constant_nodes']) {
    for (const perChannel of [false, true]) {
      it(`${name} ${perChannel ? 'per channel' : 'per tensor'}: every stored weight dequantises within scale/2 of the original (Conv: one step, each kernel's sum within half a step)`, async () => {
        const s = zooSubject(zoo.find((z) => z.name === name)!);
        for (const convPattern of PATTERNS) {
          for (const quantType of TYPES) {
            const { model, result } = quantised(s, { quantType, perChannel, convPattern, foldBatchNorm: false });
            const original = new Map<string, TensorProto>(initializerMap(s.model));
            for (const n of s.model.proto.graph!.node ?? []) {
              const t = n.opType === 'Constant' ? n.attribute?.[0]?.t : undefined;
              if (t) original.set(n.output![0]!, t);
            }
            const convs = result.quantised.filter((q) => q.as === 'Cast+Mul+Conv');
            const ran = await tensorsAsRun(model, s, convs.map((q) => model.proto.graph!.node!.find((n) => n.opType === 'Conv' && n.name === q.node)!.input![1]!));
            for (const q of result.quantised) {
              const src = original.get(q.weight)!;
              let values = floatValues(s.model, src);
              if (q.as === 'Cast+Mul+Conv') {
                const inits = initializerMap(model);
                const data = inits.get(`${q.weight}_quantized`)!;
                const zp = inits.get(`${q.weight}_zero_point`);
                const signed = data.dataType === 3;
                const bytes = (t: TensorProto) => new Uint8Array(t.rawData!);
                const stored: QuantisedWeight = {
                  type: signed ? 'int8' : 'uint8',
                  dims: tensorDims(data),
                  data: signed ? new Int8Array(bytes(data).buffer, bytes(data).byteOffset, bytes(data).length) : bytes(data),
                  scales: new Float32Array(0),
                  zeroPoints: zp ? bytes(zp) : new Int8Array(1),
                };
                if (!signed) assert.equal(stored.zeroPoints.length, q.channels, `${q.node}: one zero point per scale`);
                const conv = model.proto.graph!.node!.find((n) => n.opType === 'Conv' && n.name === q.node)!;
                checkConvWeight(`${name} ${quantType} ${q.node}`, ran.get(conv.input![1]!)!, stored, values, tensorDims(src), perChannel);
                continue;
              }
              const w = storedWeight(model, q.weight);
              const node = s.model.proto.graph!.node!.find((n) => (n.name || n.output![0]) === q.node)!;
              const transB = node.opType === 'Gemm' && toNumber(node.attribute?.find((a) => a.name === 'transB')?.i) === 1;
              if (transB) values = transpose2d(values, tensorDims(src)[0]!, tensorDims(src)[1]!);
              const alpha = node.opType === 'Gemm' ? (node.attribute?.find((a) => a.name === 'alpha')?.f ?? 1) : 1;
              const back = dequantiseWeight(w);
              assert.equal(back.length, values.length);
              const channels = w.scales.length;
              assert.equal(channels, q.channels, `${q.node}: ${channels} scales`);
              // ConvInteger's kernels are balanced too: one step, as above; MatMul and Gemm: half a step.
              const bound = q.opType === 'Conv' ? 1 : 0.5;
              for (let i = 0; i < values.length; i++) {
                const c = w.axis === undefined ? 0 : w.axis === 0 ? Math.floor(i / (values.length / channels)) : i % channels;
                const step = w.scales[c]! / alpha;
                if (Math.abs(back[i]! / alpha - values[i]!) > step * bound + 1e-6) assert.fail(`${q.node} element ${i}: ${back[i]! / alpha} vs ${values[i]}`);
              }
            }
          }
        }
      });
    }
  }
  it('per channel: one scale per output channel (Conv) and output column (MatMul/Gemm), shaped to broadcast', () => {
    const s = zooSubject(zoo.find((z) => z.name === 'lenet5')!);
    const { model, result } = quantised(s, { quantType: 'QInt8', perChannel: true, convPattern: 'integer' });
    const convs = result.quantised.filter((q) => q.opType === 'Conv');
    const gemms = result.quantised.filter((q) => q.opType === 'Gemm');
    assert.deepEqual(convs.map((q) => q.channels), [6, 16]);
    assert.deepEqual(gemms.map((q) => q.channels), [120, 84, 10]);
    for (const q of convs) assert.deepEqual(storedWeight(model, q.weight).scaleDims, [q.channels, 1, 1]);
    for (const q of gemms) assert.deepEqual(storedWeight(model, q.weight).scaleDims, [q.channels]);
    for (const q of [...convs, ...gemms]) assert.ok(new Set(storedWeight(model, q.weight).scales).size > 1, `${q.node}: distinct scales`);
    const perTensor = quantised(s, { quantType: 'QInt8', convPattern: 'integer' });
    for (const q of perTensor.result.quantised) assert.deepEqual(storedWeight(perTensor.model, q.weight).scaleDims, []);
  });
});

describe('nodes left alone are the input bytes', () => {
  for (const name of ['mobilenet_v2_like', 'constant_nodes', 'transformer_block', 'two_outputs']) {
    it(`${name}: every node not quantised is byte for byte in the output, in order`, () => {
      const s = zooSubject(zoo.find((z) => z.name === name)!);
      for (const convPattern of PATTERNS) {
        const { model, result } = quantised(s, { quantType: 'QUInt8', perChannel: true, convPattern });
        const done = new Set(result.quantised.map((q) => q.node));
        const slice = (m: LoadedModel, i: number) => Buffer.from(m.bytes.subarray(m.layout.graph.node[i]!.start, m.layout.graph.node[i]!.end));
        const outNodes = model.proto.graph!.node!.map((_, i) => slice(model, i));
        const produced = new Set(model.proto.graph!.node!.flatMap((n) => n.output ?? []));
        let at = 0;
        let kept = 0;
        s.model.proto.graph!.node!.forEach((n, i) => {
          if (done.has(n.name || n.output![0]!)) return;
          if (result.folded.includes(n.name || n.output![0]!)) {
            assert.equal(n.opType, 'BatchNormalization');
            assert.ok(produced.has(n.output![0]!), `${n.name}: its output is still produced`);
            return;
          }
          if (!n.output!.every((o) => produced.has(o)) || (n.opType === 'Constant' && result.quantised.some((q) => q.weight === n.output![0]))) {
            // The dequantised weight may take the Constant's name, produced now by the Mul that dequantises it.
            assert.equal(n.opType, 'Constant', `${n.name}: only Constant nodes holding quantised weights may go`);
            return;
          }
          const bytes = slice(s.model, i);
          while (at < outNodes.length && !outNodes[at]!.equals(bytes)) at++;
          assert.ok(at < outNodes.length, `${name} ${convPattern}: node ${n.name} (${n.opType}) is not in the output as it was`);
          kept++;
        });
        assert.ok(kept > 0);
      }
    });
  }
});

/** Up to `most` split points spread evenly from the first to the last. */
function spread<T>(points: readonly T[], most: number): T[] {
  if (points.length <= most) return [...points];
  return Array.from({ length: most }, (_, k) => points[Math.round((k * (points.length - 1)) / (most - 1))]!);
}

async function checkSplits(s: TestSubject, most = 16): Promise<number> {
  const a = await analyze(s);
  const feeds = randomInputs(a, 5);
  const full = await createSession(a.model.bytes, { graphOptimizationLevel: 'disabled' });
  const expected = await full.run(feeds);
  await full.release();
  const points = spread(a.splitPoints, most);
  for (const point of points) {
    const parts = buildParts(a, [point.position]);
    const sessions = await Promise.all(parts.map((p) => partSession(p)));
    try {
      const { tensors } = await runChain(sessions, feeds);
      for (const name of a.index.outputs) assertSameTensor(tensors.get(name), expected[name]!, `${s.name} split ${point.index} (${point.splitLayer}) ${name}`);
    } finally {
      await Promise.all(sessions.map((x) => x.release()));
    }
  }
  return points.length;
}

describe('the quantised model splits like any other', () => {
  for (const name of ['resnet_like', 'mobilenet_v2_like', 'transformer_block']) {
    for (const convPattern of PATTERNS) {
      it(`${name} (${convPattern}): 16 split points spread over the model: the parts reproduce the quantised model's own outputs exactly`, async () => {
        const z = zoo.find((m) => m.name === name)!;
        const s = zooSubject(z);
        const { model } = quantised(s, { quantType: 'QInt8', perChannel: true, convPattern });
        const n = await checkSplits({ name: `${name}.quant`, model, inputs: z.inputs });
        assert.ok(n > 2);
      });
    }
  }
  it('ppocr cls (opset 9 moved to 11): 16 split points spread over the model reproduce the quantised model, integer and per-channel weight_only (packed scales and biases)', async () => {
    const r = realModels.find((m) => m.name.includes('cls'))!;
    const s = await realSubject(r);
    for (const options of [{ quantType: 'QInt8', convPattern: 'integer' }, { quantType: 'QInt8', perChannel: true }] as const) {
      const { model, result } = quantised(s, options);
      assert.equal(result.upgrade?.from, 9);
      assert.ok(await checkSplits({ name: 'ppocr_cls.quant', model, inputs: s.inputs }) > 2);
    }
  });
});

describe('real and full-size models', () => {
  it(`ppocr cls (trained), seeded random inputs: per channel within relative L2 ${PPOCR_REL_L2_PER_CHANNEL} and the same top-1 on every sample, per tensor within ${PPOCR_REL_L2}`, async () => {
    const r = realModels.find((m) => m.name.includes('cls'))!;
    const s = await realSubject(r);
    const samples = await samplesOf(s, 4);
    const floatProbs = await outputsOf(s.model.bytes, samples);
    for (const quantType of TYPES) {
      for (const perChannel of [false, true]) {
        for (const convPattern of PATTERNS) {
          const { result } = quantised(s, { quantType, perChannel, convPattern });
          const what = `${quantType} ${perChannel ? 'per channel' : 'per tensor'} ${convPattern}`;
          assert.equal(result.quantised.length, 54);
          assert.equal(result.folded.length, perChannel ? 35 : 0, 'BatchNormalization folded with per-channel scales only');
          assert.equal(result.upgrade?.rewritten.length, 19, 'the Clip and Slice nodes of opset 9');
          const c = await compareModels(s.model.bytes, result.bytes, samples, { rounds: 1, warmup: 0 });
          const o = c.outputs[0]!;
          assert.ok(o.relL2 < (perChannel ? PPOCR_REL_L2_PER_CHANNEL : PPOCR_REL_L2), `${what}: relative L2 ${o.relL2}`);
          // Noise inputs can sit at the 50/50 tie of this two-class model, where either answer is as
          // good: the same top-1 is required where the float model decides by 10 points or more
          // (top-1 on real inputs: the text lines below).
          const probs = await outputsOf(result.bytes, samples);
          let decided = 0;
          floatProbs.forEach((p, k) => {
            if (Math.abs(p[0]! - p[1]!) < 0.1) return;
            decided++;
            assert.equal(probs[k]![0]! > probs[k]![1]!, p[0]! > p[1]!, `${what}: top-1 of sample ${k} (float ${p.join('/')}, quantised ${probs[k]!.join('/')})`);
          });
          assert.ok(decided >= 2, `${decided} decided samples`);
          assert.ok(result.bytes.length < 0.45 * s.model.bytes.length, `${what}: size ${result.bytes.length}`);
          if (perChannel && convPattern === 'weight_only' && quantType === 'QInt8') assert.ok(result.bytes.length <= 0.3 * s.model.bytes.length, `${what}: size ${result.bytes.length}, over 0.3x`);
        }
      }
    }
  });
  it(`ppocr cls on rendered text lines, upright and upside down: the float model is right, the quantised one agrees on >= 95%, within relative L2 ${PPOCR_TEXT_REL_L2} per channel and ${PPOCR_TEXT_REL_L2_PER_TENSOR} per tensor`, async () => {
    const dir = await temp('quant-text');
    await renderTextLines(dir, 10);
    const batch = await imageFolderToTensor(dir, { layout: 'NCHW', channels: 3, height: 48, width: 192, dtype: 'float32' }, NORMALISATION_PRESETS.paddleocr);
    const samples = splitBatch({ x: batch });
    const s = await realSubject(realModels.find((m) => m.name.includes('cls'))!);
    const full = await createSession(s.model.bytes);
    const probs = (await full.run({ x: batch }))[(full.outputNames[0])!]!.data as Float32Array;
    await full.release();
    const right = samples.filter((_, i) => (probs[2 * i + 1]! > probs[2 * i]! ? 1 : 0) === i % 2).length;
    assert.ok(right >= 18, `the float model classifies ${right}/20 text lines right`);
    for (const quantType of TYPES) {
      for (const perChannel of [true, false]) {
        const what = `${quantType} ${perChannel ? 'per channel' : 'per tensor'}`;
        const { result } = quantised(s, { quantType, perChannel });
        const o = (await compareModels(s.model.bytes, result.bytes, samples, { rounds: 1, warmup: 0 })).outputs[0]!;
        assert.ok(o.top1Agreement! >= 0.95, `${what}: top-1 agreement ${o.top1Agreement}`);
        assert.ok(o.relL2 < (perChannel ? PPOCR_TEXT_REL_L2 : PPOCR_TEXT_REL_L2_PER_TENSOR), `${what}: relative L2 ${o.relL2}`);
      }
    }
  });
  /** A PP-OCRv4 model quantised (QInt8 per channel) within 0.3x of its size, with its images and the relative L2 of its logits on them. */
  async function ppocrOnText(name: string, render: (dir: string) => Promise<unknown>, height: number, width: number, normalisation: string) {
    const dir = await temp(`quant-${name}`);
    await render(dir);
    const feeds = { x: await imageFolderToTensor(dir, { layout: 'NCHW', channels: 3, height, width, dtype: 'float32' }, NORMALISATION_PRESETS[normalisation]!) };
    const s = await realSubject(realModels.find((m) => m.name === name)!);
    const { result } = quantised(s, { quantType: 'QInt8', perChannel: true });
    assert.ok(result.bytes.length <= 0.3 * s.model.bytes.length, `size ratio ${result.bytes.length / s.model.bytes.length}`);
    const logits = relL2(await firstOutput(logitsModel(s.model.bytes).bytes, feeds), await firstOutput(logitsModel(result.bytes).bytes, feeds));
    return { s, result, feeds, logits };
  }
  it('ppocrv4 det (trained) on 2 rendered pages: size <= 0.3x, logits within relative L2 5%, text mask IoU >= 95%', async () => {
    const { s, result, feeds, logits } = await ppocrOnText('ppocrv4_det', (dir) => renderPages(dir, 2), 320, 320, 'imagenet');
    assert.ok(logits < 0.05, `logits relative L2 ${logits}`);
    const iou = maskIoU(await firstOutput(s.model.bytes, feeds), await firstOutput(result.bytes, feeds), 0.3);
    assert.ok(iou >= 0.95, `text mask IoU ${iou}`);
  });
  it('ppocrv4 rec (trained) on 12 rendered text lines: size <= 0.3x, argmax agreement per time step >= 95%, logits within relative L2 10%', async () => {
    const { s, result, feeds, logits } = await ppocrOnText('ppocrv4_rec', (dir) => renderTextLines(dir, 6), 48, 320, 'paddleocr');
    const o = (await compareModels(s.model.bytes, result.bytes, splitBatch(feeds), { rounds: 1, warmup: 0 })).outputs[0]!;
    assert.equal(o.rows, 12 * 40);
    assert.ok(o.top1Agreement! >= 0.95, `per time step agreement ${o.top1Agreement}`);
    assert.ok(logits < 0.1, `logits relative L2 ${logits}`);
  });
  for (const z of fullSizeZoo) {
    it(`${z.name} 224x224: size <= 0.3x and relative L2 of the logits < 5%`, async () => {
      const model = modelFromBytes(encodeModel(z.build()), { file: `${z.name}.onnx` });
      const s: TestSubject = { name: z.name, model, inputs: z.inputs };
      const { result } = quantised(s, { quantType: 'QInt8', perChannel: true });
      assert.ok(result.folded.length > 0);
      assert.ok(result.bytes.length <= 0.3 * model.bytes.length, `size ratio ${result.bytes.length / model.bytes.length}`);
      assert.deepEqual(result.skipped, []);
      const c = await compareModels(model.bytes, result.bytes, await samplesOf(s, 2), { rounds: 1, warmup: 0 });
      assert.ok(c.outputs[0]!.relL2 < 0.05, `relative L2 ${c.outputs[0]!.relL2}`);
    });
  }
});
