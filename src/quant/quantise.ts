/**
 * Dynamic 8-bit quantisation of a model, structured as onnxruntime's quantize_dynamic does it:
 * the constant weights of Conv, ConvTranspose, MatMul and Gemm are stored as int8 or uint8 with their scales,
 * and each such node becomes
 *
 *   DynamicQuantizeLinear(x) -> x_q, x_scale, x_zero_point        (uint8, at run time)
 *   ConvInteger | MatMulInteger(x_q, W_q, x_zero_point, W_zero_point) -> int32
 *   Cast(to float) -> Mul(x_scale * W_scale) [-> Add(float bias)]  -> the node's own output
 *
 * or, for Conv with the 'weight_only' pattern (the default, see QuantiseOptions.convPattern),
 * Cast(W_q) [-> Sub(zero point)] -> Mul(W_scale) -> Conv on float activations, which onnxruntime
 * folds back into a float Conv weight at load time. With `perChannel`, a BatchNormalization right
 * after a Conv is folded into it first (./fold-batchnorm.ts). Every other node, and every weight still used by
 * one, is carried over byte for byte from the input file (models below opset 11 are moved to it
 * first, see ./opset.ts). Conv weights take one scale per output channel with `perChannel`
 * (onnxruntime's ConvInteger takes only a scalar weight zero point, so uint8 per-channel Conv weights are symmetric around 128); MatMul and Gemm
 * weights one per output column. ConvTranspose always takes the weight_only pattern. With a
 * calibration (./calibrate.ts), weights are rounded by GPTQ (./gptq.ts) instead of to nearest.
 */
import { UsageError } from '../errors.js';
import { decodeMessage, encodeMessage } from '../onnx/codec.js';
import { indexGraph } from '../onnx/graph.js';
import { GRAPH_FIELD, MODEL_FIELD, type LoadedModel } from '../onnx/model.js';
import { toNumber, type AttributeProto, type NodeProto, type OperatorSetIdProto, type TensorProto } from '../onnx/types.js';
import type { FieldRange } from '../proto/reader.js';
import { Chunks } from '../proto/writer.js';
import type { Calibration, RowLayout } from './gptq.js';
import { closestNames } from '../split/points.js';
import { foldBatchNorm, type FoldedConv } from './fold-batchnorm.js';
import { fitsFloat16, PackedConstants } from './packed.js';
import { checkUpgradable, TARGET_OPSET, upgradeNode } from './opset.js';
import { FLOAT, floatValues, tensorDims } from './tensor-values.js';
import { int8Saturates } from './int8-saturation.js';
import { quantiseWeight, transpose2d, type QuantisedWeight, type WeightType } from './weights.js';

export type QuantType = 'QInt8' | 'QUInt8';
export const QUANT_TYPES: readonly QuantType[] = ['QInt8', 'QUInt8'];

/** How a quantised Conv runs: integer convolution on quantised activations, or a float Conv on dequantised weights. */
export type ConvPattern = 'weight_only' | 'integer';
export const CONV_PATTERNS: readonly ConvPattern[] = ['weight_only', 'integer'];

export interface QuantiseOptions {
  quantType: QuantType;
  /** One scale per output channel (Conv) or output column (MatMul, Gemm). */
  perChannel?: boolean;
  /**
   * Default 'weight_only': onnxruntime's CPU ConvInteger runs 2-8x slower than its float Conv
   * (bench/quant-bench.ts), so by default Conv keeps float activations and an int8 weight that the
   * session dequantises once, at load time.
   */
  convPattern?: ConvPattern;
  /**
   * Fold a BatchNormalization that alone reads a Conv's output into that Conv first. Default: with
   * `perChannel` only, since folding gives each output channel its own range (a trained model's
   * normalisation scales differ by orders of magnitude), which one scale per weight serves badly.
   */
  foldBatchNorm?: boolean;
  /**
   * Default true: round each Conv kernel (the spatial taps of one output and input channel) so
   * that its sum stays within half a step of the float kernel's (./weights.ts), which keeps a
   * trained filter's response to flat image regions. False: every weight rounded to nearest.
   */
  balanceKernels?: boolean;
  /**
   * QInt8 only: 7-bit weights for the nodes that run as MatMulInteger or ConvInteger, so that
   * onnxruntime's u8s8 kernels cannot saturate on an x86-64 CPU without VNNI (./int8-saturation.ts).
   * Default: on where this machine's CPU saturates.
   */
  reduceRange?: boolean;
  /** Nodes (by name, or first output where a node has no name) left in float. */
  excludeNodes?: readonly string[];
  /**
   * Input moments from calibration samples (./calibrate.ts): the weights of the nodes in it are
   * rounded to keep their layer's output on those inputs (./gptq.ts) instead of to nearest.
   */
  calibration?: Calibration;
}

export interface QuantisedNode {
  node: string;
  opType: string;
  weight: string;
  /** The operator it runs as now. */
  as: string;
  channels: number;
  /** How its weights were rounded: to nearest, to nearest with balanced kernel sums, or by calibration (GPTQ). */
  rounding: 'nearest' | 'balanced' | 'calibrated';
}

export interface SkippedNode {
  node: string;
  opType: string;
  reason: string;
}

export interface QuantiseResult {
  bytes: Uint8Array;
  quantised: QuantisedNode[];
  skipped: SkippedNode[];
  /** BatchNormalization nodes folded into the Conv before them (and gone from the model). */
  folded: string[];
  /** When the model was moved to opset 11: from which opset, and the nodes rewritten for it. */
  upgrade?: { from: number; rewritten: string[] };
}

const QUANTISABLE = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);
const MODEL_FIELD_OPSET_IMPORT = 8;

const attrOf = (n: NodeProto, name: string): AttributeProto | undefined => (n.attribute ?? []).find((a) => a.name === name);
const nodeLabel = (n: NodeProto, i: number) => n.name || n.output?.[0] || `#${i}`;

function typedBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function defaultOpset(model: LoadedModel): number {
  const entry = (model.proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 1;
}

/** A weight: where it lives and what it holds. */
interface Weight {
  tensor: TensorProto;
  /** Index of the Constant node that produces it, when it is not an initializer. */
  constantNode?: number;
}

class Builder {
  readonly nodes = new Map<number, NodeProto[]>();
  readonly initializers: TensorProto[] = [];
  readonly quantised: QuantisedNode[] = [];
  readonly skipped: SkippedNode[] = [];
  readonly folded: string[] = [];
  /** Per node index: the input positions it reads as quantised weights (and bias). */
  readonly consumedAsWeight = new Map<number, Set<number>>();
  /** Scales and biases of the weight_only Convs, stored together in 16 bits. */
  readonly packed: PackedConstants;
  /** Each weight_only Conv's dequantised weight tensor and the weight it stands for. */
  readonly dequantised: { tensor: string; weight: string }[] = [];
  private readonly names = new Set<string>();
  private readonly dynamic = new Map<string, { q: string; scale: string; zeroPoint: string }>();

  constructor(
    readonly model: LoadedModel,
    readonly options: QuantiseOptions,
    readonly opset: number,
  ) {
    const g = model.proto.graph!;
    for (const t of g.initializer ?? []) if (t.name) this.names.add(t.name);
    for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.name) this.names.add(v.name);
    for (const n of g.node ?? []) {
      if (n.name) this.names.add(n.name);
      for (const o of [...(n.output ?? []), ...(n.input ?? [])]) if (o) this.names.add(o);
    }
    this.packed = new PackedConstants((base) => this.fresh(base), opset);
  }

  fresh(base: string): string {
    let name = base;
    for (let k = 2; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  initializer(base: string, dataType: number, dims: readonly number[], data: ArrayBufferView): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dataType, dims: [...dims], rawData: typedBytes(data) });
    return name;
  }

  /** DynamicQuantizeLinear of `input`, made once and shared by every node that reads it. */
  quantisedActivation(input: string, out: NodeProto[]): { q: string; scale: string; zeroPoint: string } {
    let d = this.dynamic.get(input);
    if (!d) {
      d = { q: this.fresh(`${input}_quantized`), scale: this.fresh(`${input}_scale`), zeroPoint: this.fresh(`${input}_zero_point`) };
      out.push({ name: this.fresh(`${input}_QuantizeLinear`), opType: 'DynamicQuantizeLinear', input: [input], output: [d.q, d.scale, d.zeroPoint] });
      this.dynamic.set(input, d);
    }
    return d;
  }

  weightTensors(base: string, w: QuantisedWeight, scaleDims: number[], scalarZeroPoint: boolean): { data: string; scale: string; zeroPoint: string } {
    const elem = w.type === 'int8' ? 3 : 2;
    const data = this.initializer(`${base}_quantized`, elem, w.dims, w.data);
    const scale = this.initializer(`${base}_scale`, FLOAT, scaleDims, w.scales);
    const zp = scalarZeroPoint ? w.zeroPoints.subarray(0, 1) : w.zeroPoints;
    const zeroPoint = this.initializer(`${base}_zero_point`, elem, scalarZeroPoint ? [] : [zp.length], zp);
    return { data, scale, zeroPoint };
  }
}

/** Whether the weights of integer ops take 7 bits (QuantiseOptions.reduceRange). */
export function reducedRange(options: QuantiseOptions): boolean {
  return options.quantType === 'QInt8' && (options.reduceRange ?? int8Saturates());
}

function weightType(q: QuantType): WeightType {
  return q === 'QInt8' ? 'int8' : 'uint8';
}

/** Cast the int32 result to float, scale it by x_scale * W_scale, add the bias: into `output`. */
function rescale(b: Builder, out: NodeProto[], base: string, integer: string, xScale: string, wScale: string, output: string, bias?: string): void {
  const asFloat = b.fresh(`${integer}_cast_output`);
  out.push({ name: b.fresh(`${base}_cast`), opType: 'Cast', input: [integer], output: [asFloat], attribute: [{ name: 'to', type: 2, i: FLOAT }] });
  const scales = b.fresh(`${base}_scales_mul:0`);
  out.push({ name: b.fresh(`${base}_scales_mul`), opType: 'Mul', input: [xScale, wScale], output: [scales] });
  const scaled = bias ? b.fresh(`${base}_output_scaled`) : output;
  out.push({ name: b.fresh(`${base}_output_scale_mul`), opType: 'Mul', input: [asFloat, scales], output: [scaled] });
  if (bias) out.push({ name: b.fresh(`${base}_bias_add`), opType: 'Add', input: [scaled, bias], output: [output] });
}

/** The spatial taps of one output and input channel of a Conv weight, whose roundings are balanced (1: none). */
function kernelTaps(dims: readonly number[], options: QuantiseOptions): number {
  return options.balanceKernels === false ? 1 : dims.slice(2).reduce((a, d) => a * d, 1);
}

/** The calibrated rounding of Conv `n`'s weight (rows: output channels), when the calibration has it. */
function calibratedConv(b: Builder, label: string, n: NodeProto, dims: readonly number[]): { calibrated?: { layout: RowLayout; factors: Float64Array[] } } {
  const c = b.options.calibration?.get(label);
  const rows = dims[0]!;
  const dim = dims.slice(1).reduce((a, d) => a * d, 1);
  const groups = toNumber(attrOf(n, 'group')?.i ?? 1);
  if (!c || c.dim !== dim || c.factors.length !== groups) return {};
  const perGroup = rows / groups;
  return { calibrated: { layout: { rows, dim, at: (r, j) => r * dim + j, group: (r) => Math.floor(r / perGroup) }, factors: c.factors } };
}

function convRounding(calibrated: { calibrated?: unknown }, dims: readonly number[], options: QuantiseOptions): QuantisedNode['rounding'] {
  return calibrated.calibrated ? 'calibrated' : kernelTaps(dims, options) > 1 ? 'balanced' : 'nearest';
}

function quantiseConv(b: Builder, i: number, n: NodeProto, w: Weight, bias: Weight | undefined, fold: FoldedConv | undefined): void {
  const dims = tensorDims(w.tensor);
  const channels = dims[0]!;
  const perChannel = b.options.perChannel === true;
  // onnxruntime-node's CPU provider has no integer ConvTranspose (com.microsoft QLinearConvTranspose is
  // not registered there): a ConvTranspose always takes the dequantised weight.
  const pattern = n.opType === 'ConvTranspose' ? 'weight_only' : (b.options.convPattern ?? 'weight_only');
  const type = weightType(b.options.quantType);
  const values = fold ? fold.weight : floatValues(b.model, w.tensor);
  const biasValues = fold ? fold.bias : bias ? floatValues(b.model, bias.tensor) : undefined;
  const output = fold ? fold.output : n.output![0]!;
  const base = nodeLabel(n, i);
  const out: NodeProto[] = [];
  const x = n.input![0]!;
  const wName = n.input![1]!;
  const biasBase = n.input![2] || `${base}_bias`;
  if (fold) {
    b.nodes.set(fold.batchNorm, []);
    b.consumedAsWeight.set(fold.batchNorm, new Set([1, 2, 3, 4]));
    b.folded.push(nodeLabel(b.model.proto.graph!.node![fold.batchNorm]!, fold.batchNorm));
  }
  const ones = dims.slice(2).map(() => 1);
  const calibrated = calibratedConv(b, base, n, dims);
  if (pattern === 'weight_only') {
    // The bias goes into the packed float16 biases unless float16 cannot hold it.
    const packBias = biasValues !== undefined && fitsFloat16(biasValues);
    b.consumedAsWeight.set(i, new Set(fold || packBias ? [1, 2] : [1]));
    const q = quantiseWeight(values, dims, { type, halfScales: true, balancedRuns: kernelTaps(dims, b.options), ...(perChannel ? { axis: 0 } : {}), ...calibrated });
    const elem = q.type === 'int8' ? 3 : 2;
    const data = b.initializer(`${wName}_quantized`, elem, dims, q.data);
    const scale = b.fresh(`${wName}_scale`);
    b.packed.scale(scale, q.scales, perChannel ? [1, ...ones] : []);
    // W = (float(W_q) - float(zero_point)) * scale: constants only, so onnxruntime folds them into
    // a float weight when it loads the model (it never folds DequantizeLinear).
    let asFloat = b.fresh(`${wName}_cast`);
    out.push({ opType: 'Cast', input: [data], output: [asFloat], attribute: [{ name: 'to', type: 2, i: FLOAT }] });
    if (q.type === 'uint8') {
      const zp = b.initializer(`${wName}_zero_point`, elem, perChannel ? [channels, 1, ...ones] : [], q.zeroPoints);
      const zpFloat = b.fresh(`${wName}_zero_point_cast`);
      out.push({ opType: 'Cast', input: [zp], output: [zpFloat], attribute: [{ name: 'to', type: 2, i: FLOAT }] });
      const centred = b.fresh(`${wName}_centred`);
      out.push({ opType: 'Sub', input: [asFloat, zpFloat], output: [centred] });
      asFloat = centred;
    }
    const deq = b.fresh(`${wName}_dequantized`);
    out.push({ opType: 'Mul', input: [asFloat, scale], output: [deq] });
    b.dequantised.push({ tensor: deq, weight: wName });
    let biasInput = n.input!.slice(2);
    if (packBias) {
      biasInput = [b.fresh(fold ? `${biasBase}_folded` : `${biasBase}_unpacked`)];
      b.packed.bias(biasInput[0]!, biasValues);
    } else if (fold) {
      biasInput = [b.initializer(`${biasBase}_folded`, FLOAT, [channels], fold.bias)];
    }
    out.push({ ...n, input: [x, deq, ...biasInput], output: [output] });
    b.nodes.set(i, out);
    b.quantised.push({ node: base, opType: n.opType!, weight: wName, as: `Cast+Mul+${n.opType}`, channels: perChannel ? channels : 1, rounding: convRounding(calibrated, dims, b.options) });
    return;
  }
  b.consumedAsWeight.set(i, new Set(biasValues ? [1, 2] : [1]));
  const q = quantiseWeight(values, dims, { type, reduceRange: reducedRange(b.options), balancedRuns: kernelTaps(dims, b.options), ...(perChannel ? { axis: 0, symmetric: true } : {}), ...calibrated });
  const t = b.weightTensors(wName, q, perChannel ? [channels, ...ones] : [], true);
  const xq = b.quantisedActivation(x, out);
  const integer = b.fresh(`${output}_output_quantized`);
  out.push({ name: b.fresh(`${base}_quant`), opType: 'ConvInteger', input: [xq.q, t.data, xq.zeroPoint, t.zeroPoint], output: [integer], attribute: n.attribute ?? [] });
  const biasName = biasValues ? b.initializer(`${biasBase}_reshaped`, FLOAT, [channels, ...ones], biasValues) : undefined;
  rescale(b, out, base, integer, xq.scale, t.scale, output, biasName);
  b.nodes.set(i, out);
  b.quantised.push({ node: base, opType: 'Conv', weight: wName, as: 'ConvInteger', channels: perChannel ? channels : 1, rounding: convRounding(calibrated, dims, b.options) });
}

/** MatMul(x, W[K,N]) and Gemm(x, W, C) as MatMulInteger; `alpha` and `beta * C` folded into constants. */
function quantiseMatMul(b: Builder, i: number, n: NodeProto, w: Weight, c: Weight | undefined): void {
  let values = floatValues(b.model, w.tensor);
  let [k, cols] = tensorDims(w.tensor) as [number, number];
  const gemm = n.opType === 'Gemm';
  if (gemm && toNumber(attrOf(n, 'transB')?.i) === 1) {
    values = transpose2d(values, k, cols);
    [k, cols] = [cols, k];
  }
  const alpha = gemm ? (attrOf(n, 'alpha')?.f ?? 1) : 1;
  const beta = gemm ? (attrOf(n, 'beta')?.f ?? 1) : 1;
  const perChannel = b.options.perChannel === true;
  const wc = b.options.calibration?.get(nodeLabel(n, i));
  const layout: RowLayout = { rows: cols, dim: k, at: (r, j) => j * cols + r, group: () => 0 };
  const calibrated = wc && wc.dim === k ? { calibrated: { layout, factors: wc.factors } } : {};
  const q = quantiseWeight(values, [k, cols], { type: weightType(b.options.quantType), reduceRange: reducedRange(b.options), ...(perChannel ? { axis: 1 } : {}), ...calibrated });
  if (alpha !== 1) for (let j = 0; j < q.scales.length; j++) q.scales[j] = q.scales[j]! * alpha;
  const wName = n.input![1]!;
  const base = nodeLabel(n, i);
  const t = b.weightTensors(wName, q, perChannel ? [cols] : [], !perChannel);
  const out: NodeProto[] = [];
  const xq = b.quantisedActivation(n.input![0]!, out);
  const integer = b.fresh(`${n.output![0]}_output_quantized`);
  out.push({ name: b.fresh(`${base}_quant`), opType: 'MatMulInteger', input: [xq.q, t.data, xq.zeroPoint, t.zeroPoint], output: [integer] });
  let biasName: string | undefined;
  if (c) {
    const cv = floatValues(b.model, c.tensor);
    if (beta !== 1) for (let j = 0; j < cv.length; j++) cv[j] = cv[j]! * beta;
    biasName = beta !== 1 || c.constantNode !== undefined ? b.initializer(`${n.input![2]}_scaled`, FLOAT, tensorDims(c.tensor), cv) : n.input![2]!;
  }
  rescale(b, out, base, integer, xq.scale, t.scale, n.output![0]!, biasName);
  // The bias initializer is read as it is (no copy) when no scaling was needed.
  b.consumedAsWeight.set(i, new Set(c && biasName !== n.input![2] ? [1, 2] : [1]));
  b.nodes.set(i, out);
  b.quantised.push({ node: base, opType: n.opType!, weight: wName, as: 'MatMulInteger', channels: perChannel ? cols : 1, rounding: calibrated.calibrated ? 'calibrated' : 'nearest' });
}

/** Why node `n` is left as it is, or undefined when it can be quantised. */
function whyNot(n: NodeProto, weight: (name: string | undefined) => Weight | undefined): string | undefined {
  const inputs = n.input ?? [];
  if (n.domain && n.domain !== 'ai.onnx') return `operator of domain ${n.domain}`;
  const w = weight(inputs[1]);
  if (!w) return 'its weight is not a constant';
  if ((w.tensor.dataType ?? 0) !== FLOAT) return 'its weight is not float32';
  if (weight(inputs[0])) return 'its input is a constant too';
  const rank = tensorDims(w.tensor).length;
  if (n.opType === 'Conv' || n.opType === 'ConvTranspose') {
    if (rank < 3) return `its weight has rank ${rank}`;
    if (inputs[2] && !weight(inputs[2])) return 'its bias is not a constant';
  } else {
    if (rank !== 2) return `its weight has rank ${rank}, not 2`;
    if (n.opType === 'Gemm') {
      if (toNumber(attrOf(n, 'transA')?.i) === 1) return 'transA=1';
      if (inputs[2] && !weight(inputs[2])) return 'its C input is not a constant';
    }
  }
  const bias = inputs[2] ? weight(inputs[2]) : undefined;
  if (bias && (bias.tensor.dataType ?? 0) !== FLOAT) return 'its bias is not float32';
  return undefined;
}

/** The model's constant tensors (initializers and Constant node values) by name. */
function modelWeights(model: LoadedModel): Map<string, Weight> {
  const g = model.proto.graph!;
  const weights = new Map<string, Weight>();
  (g.initializer ?? []).forEach((t) => t.name && weights.set(t.name, { tensor: t }));
  (g.node ?? []).forEach((n, i) => {
    const value = n.opType === 'Constant' && !n.domain ? attrOf(n, 'value')?.t : undefined;
    if (value && n.output?.[0] && (n.attribute ?? []).length === 1) weights.set(n.output[0], { tensor: value, constantNode: i });
  });
  return weights;
}

/** A Conv, MatMul or Gemm that quantiseModel can quantise, with its weight's shape. */
export interface QuantisableNode {
  index: number;
  label: string;
  node: NodeProto;
  weightDims: number[];
}

/** The nodes quantiseModel quantises (before any --exclude_nodes), in graph order. */
export function quantisableNodes(model: LoadedModel): QuantisableNode[] {
  const weights = modelWeights(model);
  const weight = (name: string | undefined) => (name ? weights.get(name) : undefined);
  const out: QuantisableNode[] = [];
  (model.proto.graph!.node ?? []).forEach((n, i) => {
    if (QUANTISABLE.has(n.opType ?? '') && !whyNot(n, weight)) out.push({ index: i, label: nodeLabel(n, i), node: n, weightDims: tensorDims(weight(n.input![1])!.tensor) });
  });
  return out;
}

/** The indices of the nodes named in `names` (a node's name, or its first output); an unknown name is an error naming the closest. */
function excludedNodes(nodes: readonly NodeProto[], names: readonly string[], label: string): Set<number> {
  const byName = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.name) byName.set(n.name, i);
    if (n.output?.[0] && !byName.has(n.output[0])) byName.set(n.output[0], i);
  });
  const out = new Set<number>();
  for (const name of names) {
    const i = byName.get(name);
    if (i === undefined) {
      const near = closestNames(name, [...byName.keys()], 3);
      throw new UsageError(`no node '${name}' in ${label}${near.length > 0 ? ` (closest: ${near.join(', ')})` : ''}`);
    }
    if (!QUANTISABLE.has(nodes[i]!.opType ?? '')) throw new UsageError(`node '${name}' of ${label} is a ${nodes[i]!.opType}, not a Conv, MatMul or Gemm`);
    out.add(i);
  }
  return out;
}

/** Quantises `model`; the result is the new model's bytes and what was done to which node. */
export function quantiseModel(model: LoadedModel, options: QuantiseOptions): QuantiseResult {
  if (!QUANT_TYPES.includes(options.quantType)) {
    throw new UsageError(`unknown quant type '${String(options.quantType)}' (known: ${QUANT_TYPES.join(', ')})`);
  }
  const g = model.proto.graph!;
  const nodes = g.node ?? [];
  const index = indexGraph(g, model.label);
  const opset = defaultOpset(model);
  if (opset < TARGET_OPSET) checkUpgradable(opset, nodes, model.label);
  const b = new Builder(model, options, Math.max(opset, TARGET_OPSET));

  const weights = modelWeights(model);
  const weight = (name: string | undefined) => (name ? weights.get(name) : undefined);

  const excluded = excludedNodes(nodes, options.excludeNodes ?? [], model.label);
  nodes.forEach((n, i) => {
    if (!QUANTISABLE.has(n.opType ?? '')) return;
    const reason = excluded.has(i) ? 'excluded' : whyNot(n, weight);
    if (reason) {
      b.skipped.push({ node: nodeLabel(n, i), opType: n.opType!, reason });
      return;
    }
    const inputs = n.input!;
    if (n.opType === 'Conv' || n.opType === 'ConvTranspose') {
      const folding = n.opType === 'Conv' && (options.foldBatchNorm ?? options.perChannel === true);
      const fold = folding ? foldBatchNorm(model, index, i, (name) => weight(name)?.tensor) : undefined;
      quantiseConv(b, i, n, weight(inputs[1])!, weight(inputs[2]), fold);
    } else {
      quantiseMatMul(b, i, n, weight(inputs[1])!, weight(inputs[2]));
    }
  });

  // Weights nobody reads any more (every reader quantised them) are left out, with their Constant nodes.
  const outputs = new Set(index.outputs);
  const stillRead = (name: string) =>
    outputs.has(name) ||
    (index.consumers.get(name) ?? []).some((c) => {
      const asWeight = b.consumedAsWeight.get(c);
      const ins = nodes[c]!.input ?? [];
      // A reader that names it only inside a subgraph, or at a position not quantised, still needs it.
      return !asWeight || !ins.includes(name) || ins.some((x, p) => x === name && !asWeight.has(p));
    });
  const dropped = new Set<string>();
  for (const [name] of weights) if ((index.consumers.get(name)?.length ?? 0) > 0 && !stillRead(name)) dropped.add(name);
  for (const [name, w] of weights) if (dropped.has(name) && w.constantNode !== undefined) b.nodes.set(w.constantNode, []);
  reuseWeightNames(b, dropped, new Set(index.inputs));
  const packed = b.packed.emit();
  b.initializers.push(...packed.initializers);

  let upgrade: QuantiseResult['upgrade'];
  if (opset < TARGET_OPSET) {
    upgrade = { from: opset, rewritten: [] };
    // The constants the rewritten nodes take as inputs (a Clip's 0 and 6, ...), each value stored once.
    const byValue = new Map<string, string>();
    const shared = {
      get(t: TensorProto | undefined): string | undefined {
        if (!t) return undefined;
        const key = `${t.dataType}:${(t.dims ?? []).join('x')}:${Buffer.from(t.rawData ?? []).toString('hex')}`;
        const seen = byValue.get(key);
        if (seen) return seen;
        byValue.set(key, t.name!);
        b.initializers.push(t);
        return t.name!;
      },
    };
    nodes.forEach((n, i) => {
      if (b.nodes.has(i)) return;
      const u = upgradeNode(n, opset, (base) => b.fresh(base));
      if (!u) return;
      b.nodes.set(i, [{ ...u.node, input: u.node.input!.map((name) => shared.get(u.initializers.find((t) => t.name === name)) ?? name) }]);
      upgrade!.rewritten.push(nodeLabel(n, i));
    });
  }
  const bytes = assemble(model, b, packed.nodes, (t) => !dropped.has(t.name ?? ''), upgrade !== undefined);
  return { bytes, quantised: b.quantised, skipped: b.skipped, folded: b.folded, ...(upgrade ? { upgrade } : {}) };
}

/**
 * A dequantised weight takes the name of the weight it stands for where that weight left the
 * model (every reader quantised it) and no other Conv dequantised it too: the Conv reads the name it read before.
 */
function reuseWeightNames(b: Builder, dropped: ReadonlySet<string>, graphInputs: ReadonlySet<string>): void {
  const chains = new Map<string, number>();
  for (const d of b.dequantised) chains.set(d.weight, (chains.get(d.weight) ?? 0) + 1);
  const rename = new Map<string, string>();
  for (const d of b.dequantised) if (dropped.has(d.weight) && chains.get(d.weight) === 1 && !graphInputs.has(d.weight)) rename.set(d.tensor, d.weight);
  if (rename.size === 0) return;
  const to = (name: string) => rename.get(name) ?? name;
  for (const [i, list] of b.nodes) b.nodes.set(i, list.map((n) => ({ ...n, input: (n.input ?? []).map(to), output: (n.output ?? []).map(to) })));
}

/**
 * The new model: header fields and graph fields copied from the input file in their order, the
 * replaced nodes encoded in place, dropped weights left out, new weights after the old ones.
 */
function assemble(model: LoadedModel, b: Builder, firstNodes: readonly NodeProto[], keepInitializer: (t: TensorProto) => boolean, upgradeOpset: boolean): Uint8Array {
  const { bytes, layout } = model;
  const g = model.proto.graph!;
  const lay = layout.graph;
  const nodeAt = new Map(lay.node.map((r, i) => [r.start, i]));
  const initAt = new Map(lay.initializer.map((r, i) => [r.start, i]));
  const all: FieldRange[] = [
    ...lay.node,
    ...lay.initializer,
    ...lay.sparseInitializer,
    ...lay.input,
    ...lay.output,
    ...lay.valueInfo,
    ...lay.quantizationAnnotation,
    ...lay.other,
  ].sort((x, y) => x.start - y.start);
  const lastInit = lay.initializer.length > 0 ? lay.initializer[lay.initializer.length - 1]!.start : -1;
  const graph = new Chunks();
  const addNew = () => {
    for (const t of b.initializers) graph.field(GRAPH_FIELD.initializer, encodeMessage('TensorProto', t));
  };
  if (lastInit < 0) addNew();
  const firstNode = lay.node.length > 0 ? lay.node[0]!.start : -1;
  for (const n of firstNode < 0 ? firstNodes : []) graph.field(GRAPH_FIELD.node, encodeMessage('NodeProto', n));
  for (const r of all) {
    if (r.start === firstNode) for (const n of firstNodes) graph.field(GRAPH_FIELD.node, encodeMessage('NodeProto', n));
    const ni = nodeAt.get(r.start);
    const ii = initAt.get(r.start);
    if (ni !== undefined && b.nodes.has(ni)) {
      for (const n of b.nodes.get(ni)!) graph.field(GRAPH_FIELD.node, encodeMessage('NodeProto', n));
    } else if (ii === undefined || keepInitializer(g.initializer![ii]!)) {
      graph.push(bytes.subarray(r.start, r.end));
    }
    if (r.start === lastInit) addNew();
  }
  const out = new Chunks();
  for (const f of layout.header) {
    // Only the default domain's opset_import entry changes; other domains' entries are copied.
    if (upgradeOpset && f.field === MODEL_FIELD_OPSET_IMPORT) {
      const entry = decodeMessage<OperatorSetIdProto>('OperatorSetIdProto', bytes.subarray(f.dataStart, f.end), model.file);
      if (!entry.domain || entry.domain === 'ai.onnx') {
        out.field(MODEL_FIELD_OPSET_IMPORT, encodeMessage('OperatorSetIdProto', { domain: entry.domain ?? '', version: TARGET_OPSET }));
        continue;
      }
    }
    out.push(bytes.subarray(f.start, f.end));
  }
  out.field(MODEL_FIELD.graph, graph);
  return out.concat();
}
