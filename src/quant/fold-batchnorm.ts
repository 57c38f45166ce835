/**
 * Folding an inference BatchNormalization into the Conv before it, as onnxruntime's quantisation
 * pre-processing does (its optimiser fuses Conv + BatchNormalization before quantize_dynamic):
 *
 *   f = scale / sqrt(var + epsilon);  W'[c] = W[c] * f[c];  b'[c] = (b[c] - mean[c]) * f[c] + B[c]
 *
 * Without it the quantised Conv could no longer be fused with its BatchNormalization at load time,
 * and the normalisation's parameters would stay float beside int8 weights.
 */
import type { GraphIndex } from '../onnx/graph.js';
import type { LoadedModel } from '../onnx/model.js';
import { toNumber, type NodeProto, type TensorProto } from '../onnx/types.js';
import { FLOAT, floatValues, tensorDims } from './tensor-values.js';

export interface FoldedConv {
  /** Index of the BatchNormalization node folded in. */
  batchNorm: number;
  weight: Float32Array;
  bias: Float32Array;
  /** The BatchNormalization's output, which the Conv now produces. */
  output: string;
}

/**
 * The Conv `conv` (node index) with the BatchNormalization that alone reads its output folded in,
 * or undefined when there is none or it cannot be folded (parameters not constant float32, more
 * than one output, the Conv's output also a graph output).
 */
export function foldBatchNorm(
  model: LoadedModel,
  index: GraphIndex,
  conv: number,
  weightOf: (name: string | undefined) => TensorProto | undefined,
): FoldedConv | undefined {
  const nodes = index.nodes;
  const c = nodes[conv]!;
  const y = c.output?.[0];
  if (!y || index.outputs.includes(y)) return undefined;
  const readers = index.consumers.get(y) ?? [];
  if (readers.length !== 1) return undefined;
  const bnIndex = readers[0]!;
  const bn: NodeProto = nodes[bnIndex]!;
  if (bn.opType !== 'BatchNormalization' || (bn.domain && bn.domain !== 'ai.onnx')) return undefined;
  if ((bn.output ?? []).filter(Boolean).length !== 1 || bn.input?.[0] !== y) return undefined;
  if ((bn.attribute ?? []).some((a) => a.name === 'training_mode' && toNumber(a.i) !== 0)) return undefined;
  const params = [1, 2, 3, 4].map((k) => weightOf(bn.input?.[k]));
  if (params.some((t) => !t || (t.dataType ?? 0) !== FLOAT)) return undefined;
  const w = weightOf(c.input![1])!;
  const dims = tensorDims(w);
  const channels = dims[0]!;
  const [scale, shift, mean, variance] = params.map((t) => floatValues(model, t!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  if ([scale, shift, mean, variance].some((v) => v.length !== channels)) return undefined;
  const epsilon = (bn.attribute ?? []).find((a) => a.name === 'epsilon')?.f ?? 1e-5;
  const biasTensor = weightOf(c.input?.[2]);
  const bias0 = biasTensor ? floatValues(model, biasTensor) : new Float32Array(channels);
  const weight = floatValues(model, w);
  const per = weight.length / channels;
  const bias = new Float32Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    const f = scale[ch]! / Math.sqrt(variance[ch]! + epsilon);
    for (let k = ch * per; k < (ch + 1) * per; k++) weight[k] = weight[k]! * f;
    bias[ch] = (bias0[ch]! - mean[ch]!) * f + shift[ch]!;
  }
  return { batchNorm: bnIndex, weight, bias, output: bn.output![0]! };
}
