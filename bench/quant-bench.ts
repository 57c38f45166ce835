/**
 * Benchmark of the quantised operator patterns (not a test): `node dist/bench/quant-bench.js`.
 *
 * One layer at a time, the shapes of ResNet-18 and MobileNetV2 layers at 224x224 and of their
 * classifiers, each as a one-node float model and as what quant_model makes of it:
 *
 *   float         Conv / MatMul
 *   integer       DynamicQuantizeLinear + ConvInteger / MatMulInteger + Cast + Mul (+ Add)
 *   weight_only   Cast(int8 weight) + Mul(scale) + float Conv (what quant_model writes: constants
 *                 only, which onnxruntime folds into a float weight at load time)
 *   dequantize    DequantizeLinear(int8 weight) + float Conv (onnxruntime does not fold it)
 *   qlinear       DynamicQuantizeLinear + QLinearConv + DequantizeLinear, with a fixed output
 *                 scale (QLinearConv needs one; dynamic quantisation does not have it, so this
 *                 only says how fast the kernel would be)
 *
 * Median of `runs` warm runs per pattern (one session each, the same settings), in ms.
 *
 * Then quant_model's output on the trained PP-OCR models (QInt8 per channel, weight_only), on
 * rendered text (test/quant/held-out.ts): the orientation classifier and the recogniser measured on
 * 20 text lines (10 words upright and upside down) and calibrated on 20 others, the detector
 * measured on 8 pages and calibrated on 4 others. Per model and rounding (balanced kernels as
 * before, with ConvTranspose left float; balanced with ConvTranspose quantised; calibrated (GPTQ);
 * calibrated QUInt8): size, max / mean abs diff, relative L2 of the output and of the logits (the
 * input of the final Softmax or Sigmoid), agreement (cls top-1; rec argmax per time step; det IoU
 * of the text masks at PP-OCR's 0.3 threshold), inference time and calibration time. Prints both
 * tables and writes results/bench/quant.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { encodeModel } from '../src/onnx/codec.js';
import { loadModel, modelFromBytes } from '../src/onnx/model.js';
import { compareModels, splitBatch } from '../src/quant/compare.js';
import { imageFolderToTensor, NORMALISATION_PRESETS } from '../src/tensor/images.js';
import { heldOutLines, heldOutPages } from '../test/quant/held-out.js';
import { firstOutput, logitsModel, maskIoU, relL2 } from '../test/quant/real-metrics.js';
import { realModels } from '../test/models/zoo.js';
import type { ModelProto, NodeProto, TensorProto } from '../src/onnx/types.js';
import { calibrate } from '../src/quant/calibrate.js';
import { quantiseModel, type QuantiseOptions } from '../src/quant/quantise.js';
import { quantiseWeight } from '../src/quant/weights.js';
import { createSession } from '../src/runtime/ort.js';
import type { HostTensor } from '../src/runtime/session.js';
import { randomTensor } from '../src/tensor/host.js';

interface Layer {
  name: string;
  op: 'Conv' | 'MatMul';
  input: number[];
  /** Conv: [M, C/group, k, k]; MatMul: [K, N]. */
  weight: number[];
  group?: number;
  stride?: number;
}

const LAYERS: Layer[] = [
  { name: 'resnet18 conv 3x3 64->64 @56', op: 'Conv', input: [1, 64, 56, 56], weight: [64, 64, 3, 3] },
  { name: 'resnet18 conv 3x3 256->256 @14', op: 'Conv', input: [1, 256, 14, 14], weight: [256, 256, 3, 3] },
  { name: 'mobilenet_v2 pointwise 1x1 24->144 @56', op: 'Conv', input: [1, 24, 56, 56], weight: [144, 24, 1, 1] },
  { name: 'mobilenet_v2 depthwise 3x3 144 @56', op: 'Conv', input: [1, 144, 56, 56], weight: [144, 1, 3, 3], group: 144 },
  { name: 'resnet18 fc 512->1000', op: 'MatMul', input: [1, 512], weight: [512, 1000] },
  { name: 'transformer 16x256 -> 1024', op: 'MatMul', input: [16, 256], weight: [256, 1024] },
];

const vi = (name: string, dims: readonly number[], elemType = 1) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const tensor = (name: string, dataType: number, dims: readonly number[], data: ArrayBufferView): TensorProto => ({ name, dataType, dims: [...dims], rawData: bytesOf(data) });

function weights(dims: readonly number[]): Float32Array {
  const t = randomTensor('float32', dims, 7).data as Float32Array;
  const fanIn = dims.length > 2 ? dims.slice(1).reduce((a, b) => a * b, 1) : dims[0]!;
  return t.map((v) => v * Math.sqrt(3 / fanIn));
}

function model(nodes: NodeProto[], inits: TensorProto[], input: number[]): ModelProto {
  return { irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'layer', node: nodes, initializer: inits, input: [vi('x', input)], output: [{ name: 'y' }] } };
}

function convAttrs(l: Layer) {
  const k = l.weight[2]!;
  const p = (k - 1) >> 1;
  return [
    { name: 'kernel_shape', type: 7, ints: [k, k] },
    { name: 'pads', type: 7, ints: [p, p, p, p] },
    { name: 'strides', type: 7, ints: [l.stride ?? 1, l.stride ?? 1] },
    { name: 'group', type: 2, i: l.group ?? 1 },
  ];
}

function floatLayer(l: Layer): Uint8Array {
  const w = tensor('W', 1, l.weight, weights(l.weight));
  if (l.op === 'MatMul') return encodeModel(model([{ name: 'mm', opType: 'MatMul', input: ['x', 'W'], output: ['y'] }], [w], l.input));
  const b = tensor('B', 1, [l.weight[0]!], new Float32Array(l.weight[0]!).fill(0.01));
  return encodeModel(model([{ name: 'conv', opType: 'Conv', input: ['x', 'W', 'B'], output: ['y'], attribute: convAttrs(l) }], [w, b], l.input));
}

/** The layer's weight as per-channel int8: data, scales and zero points. */
function int8Weight(l: Layer): TensorProto[] {
  const q = quantiseWeight(weights(l.weight), l.weight, { type: 'int8', axis: 0 });
  return [tensor('Wq', 3, l.weight, q.data), tensor('Ws', 1, [l.weight[0]!], q.scales), tensor('Wz', 3, [l.weight[0]!], q.zeroPoints)];
}

/** DequantizeLinear(int8 weight, per channel) + float Conv. */
function dequantizeLayer(l: Layer): Uint8Array {
  const inits = [...int8Weight(l), tensor('B', 1, [l.weight[0]!], new Float32Array(l.weight[0]!).fill(0.01))];
  const nodes: NodeProto[] = [
    { name: 'dq', opType: 'DequantizeLinear', input: ['Wq', 'Ws', 'Wz'], output: ['W'], attribute: [{ name: 'axis', type: 2, i: 0 }] },
    { name: 'conv', opType: 'Conv', input: ['x', 'W', 'B'], output: ['y'], attribute: convAttrs(l) },
  ];
  return encodeModel(model(nodes, inits, l.input));
}

/** DynamicQuantizeLinear + QLinearConv (output scale fixed) + DequantizeLinear. */
function qlinearLayer(l: Layer): Uint8Array {
  const inits = [...int8Weight(l), tensor('ys', 1, [], new Float32Array([0.05])), tensor('yz', 2, [], new Uint8Array([128]))];
  const nodes: NodeProto[] = [
    { name: 'dql', opType: 'DynamicQuantizeLinear', input: ['x'], output: ['xq', 'xs', 'xz'] },
    { name: 'qconv', opType: 'QLinearConv', input: ['xq', 'xs', 'xz', 'Wq', 'Ws', 'Wz', 'ys', 'yz'], output: ['yq'], attribute: convAttrs(l) },
    { name: 'dq', opType: 'DequantizeLinear', input: ['yq', 'ys', 'yz'], output: ['y'] },
  ];
  return encodeModel(model(nodes, inits, l.input));
}

async function medianMs(bytes: Uint8Array, feeds: Record<string, HostTensor>, runs: number, threads?: number): Promise<number> {
  const s = await createSession(bytes, threads !== undefined ? { intraOpNumThreads: threads } : {});
  try {
    for (let i = 0; i < 3; i++) await s.run(feeds);
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await s.run(feeds);
      t.push(performance.now() - t0);
    }
    t.sort((a, b) => a - b);
    return t[t.length >> 1]!;
  } finally {
    await s.release();
  }
}

export interface QuantBenchRow {
  layer: string;
  threads: number | 'default';
  floatMs: number;
  integerMs: number;
  weightOnlyMs?: number;
  dequantizeMs?: number;
  qlinearMs?: number;
}

export interface RealQuantRow {
  model: string;
  inputs: string;
  /** balanced: as quant_model was before calibration (ConvTranspose left float); calibrated: GPTQ on held-out images. */
  rounding: 'balanced' | 'balanced + ConvTranspose' | 'calibrated' | 'calibrated QUInt8';
  calibration?: string;
  bytesBefore: number;
  bytesAfter: number;
  sizeRatio: number;
  maxAbs: number;
  meanAbs: number;
  relL2: number;
  logitRelL2: number;
  /** cls: top-1; rec: argmax per time step; det: IoU of the text masks at 0.3. */
  agreement: number;
  agreementOf: string;
  floatMs: number;
  quantMs: number;
}

export async function runRealQuantBench(rounds = 3): Promise<RealQuantRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'quant-bench-'));
  mkdirSync(path.join(dir, 'lines'));
  mkdirSync(path.join(dir, 'pages'));
  const lines = await heldOutLines(path.join(dir, 'lines'), 10, 10);
  const pages = await heldOutPages(path.join(dir, 'pages'), 8, 4);
  const rows: RealQuantRow[] = [];
  try {
    const cases = [
      { name: 'ppocr_mobile_v2_cls', sets: lines, inputs: '20 text lines (10 words upright and upside down), 48x192', calib: '20 other lines', h: 48, w: 192, norm: 'paddleocr', kind: 'cls' },
      { name: 'ppocrv4_det', sets: pages, inputs: '8 pages of 7 lines, 320x320', calib: '4 other pages', h: 320, w: 320, norm: 'imagenet', kind: 'det' },
      { name: 'ppocrv4_rec', sets: lines, inputs: '20 text lines, 48x320', calib: '20 other lines', h: 48, w: 320, norm: 'paddleocr', kind: 'rec' },
    ] as const;
    for (const c of cases) {
      const model = await loadModel(realModels.find((r) => r.name === c.name)!.path);
      const layout = { layout: 'NCHW', channels: 3, height: c.h, width: c.w, dtype: 'float32' } as const;
      const feeds = { x: await imageFolderToTensor(c.sets.evaluation, layout, NORMALISATION_PRESETS[c.norm]!) };
      const calibrationFeeds = { x: await imageFolderToTensor(c.sets.calibration, layout, NORMALISATION_PRESETS[c.norm]!) };
      const floatLogits = await firstOutput(logitsModel(model.bytes).bytes, feeds);
      const floatOut = c.kind === 'det' ? await firstOutput(model.bytes, feeds) : undefined;
      const convTransposes = (model.proto.graph!.node ?? []).filter((n) => n.opType === 'ConvTranspose').map((n) => n.name!);
      const t0 = performance.now();
      const calibration = await calibrate(model, splitBatch(calibrationFeeds), { session: { intraOpNumThreads: 1 } });
      const calibrationS = (performance.now() - t0) / 1000;
      const variants: { rounding: RealQuantRow['rounding']; options: Partial<QuantiseOptions> }[] = [
        // As quant_model was before: balanced kernels, ConvTranspose left float.
        { rounding: 'balanced', options: { excludeNodes: convTransposes } },
        { rounding: 'balanced + ConvTranspose', options: {} },
        { rounding: 'calibrated', options: { calibration } },
        { rounding: 'calibrated QUInt8', options: { calibration, quantType: 'QUInt8' } },
      ];
      for (const v of variants) {
        if (v.rounding === 'balanced + ConvTranspose' && convTransposes.length === 0) continue;
        const q = quantiseModel(model, { quantType: 'QInt8', perChannel: true, ...v.options });
        const cmp = await compareModels(model.bytes, q.bytes, splitBatch(feeds), { session: { intraOpNumThreads: 1 }, rounds, warmup: 1 });
        const o = cmp.outputs[0]!;
        const logits = await firstOutput(logitsModel(q.bytes).bytes, feeds);
        const agreement = c.kind === 'det' ? maskIoU(floatOut!, await firstOutput(q.bytes, feeds), 0.3) : o.top1Agreement!;
        rows.push({
          model: c.name,
          inputs: c.inputs,
          rounding: v.rounding,
          ...(v.options.calibration ? { calibration: `${c.calib}, ${calibrationS.toFixed(1)} s` } : {}),
          bytesBefore: model.bytes.length,
          bytesAfter: q.bytes.length,
          sizeRatio: q.bytes.length / model.bytes.length,
          maxAbs: o.maxAbs,
          meanAbs: o.meanAbs,
          relL2: o.relL2,
          logitRelL2: relL2(floatLogits, logits),
          agreement,
          agreementOf: c.kind === 'det' ? 'text mask IoU at 0.3' : c.kind === 'rec' ? `argmax per time step (${o.rows})` : `top-1 (${o.rows})`,
          floatMs: cmp.timing.floatMs,
          quantMs: cmp.timing.quantMs,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  console.log(['model'.padEnd(20), 'rounding'.padEnd(24), 'size', 'max abs', 'mean abs', 'rel L2', 'logits rel L2', 'agreement', 'float ms', 'quant ms', 'calibration'].join('\t'));
  for (const r of rows) {
    console.log(
      [r.model.padEnd(20), r.rounding.padEnd(24), `${r.sizeRatio.toFixed(3)}x`, r.maxAbs.toFixed(4), r.meanAbs.toExponential(2), pct(r.relL2), pct(r.logitRelL2), `${pct(r.agreement)} ${r.agreementOf}`, r.floatMs.toFixed(2), r.quantMs.toFixed(2), r.calibration ?? '-'].join('\t'),
    );
  }
  return rows;
}

export async function runQuantBench(opts: { runs?: number; threads?: (number | undefined)[]; outFile?: string | null } = {}): Promise<QuantBenchRow[]> {
  const runs = opts.runs ?? 20;
  const rows: QuantBenchRow[] = [];
  for (const threads of opts.threads ?? [1, undefined]) {
    for (const l of LAYERS) {
      const float = floatLayer(l);
      const feeds = { x: randomTensor('float32', l.input, 3) };
      const quant = (convPattern: 'integer' | 'weight_only') => quantiseModel(modelFromBytes(float), { quantType: 'QInt8', perChannel: true, convPattern }).bytes;
      const row: QuantBenchRow = {
        layer: l.name,
        threads: threads ?? 'default',
        floatMs: await medianMs(float, feeds, runs, threads),
        integerMs: await medianMs(quant('integer'), feeds, runs, threads),
      };
      if (l.op === 'Conv') {
        row.weightOnlyMs = await medianMs(quant('weight_only'), feeds, runs, threads);
        row.dequantizeMs = await medianMs(dequantizeLayer(l), feeds, runs, threads);
        row.qlinearMs = await medianMs(qlinearLayer(l), feeds, runs, threads);
      }
      rows.push(row);
    }
  }
  const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(3));
  console.log(['layer'.padEnd(40), 'threads', 'float', 'integer', 'weight_only', 'dequantize', 'qlinear'].join('\t'));
  for (const r of rows) console.log([r.layer.padEnd(40), r.threads, f(r.floatMs), f(r.integerMs), f(r.weightOnlyMs), f(r.dequantizeMs), f(r.qlinearMs)].join('\t'));
  const real = await runRealQuantBench();
  const outFile = opts.outFile === undefined ? path.join('results', 'bench', 'quant.json') : opts.outFile;
  if (outFile) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), runs, rows, real }, null, 2));
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  (process.argv.includes('--real') ? runRealQuantBench() : runQuantBench()).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
