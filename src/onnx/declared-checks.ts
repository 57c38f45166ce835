/**
 * What a model declares about its tensors (value_info, graph outputs, an initializer standing in
 * for an input), checked against what the graph itself implies before any of it is believed:
 * element types carried through the nodes that keep their input's type, shapes through the
 * nodes that keep their input's shape, and sizes no tensor can have. A contradiction is an error
 * naming the tensor, what was declared and what the graph makes.
 */
import { constants as bufferConstants } from 'node:buffer';
import { SplitError } from '../errors.js';
import { dtypeFromOnnx } from './dtypes.js';
import type { GraphIndex } from './graph.js';
import type { LoadedModel } from './model.js';
import { fixedDim, toNumber } from './types.js';

/** A tensor's type and shape as some part of the model states it. */
export interface StatedTensor {
  elemType: number;
  dims: number[];
  /** Where it came from: 'initializer', 'input', 'value_info', ... */
  source?: string;
}

/** Nodes whose first output has the type and shape of their first input. */
const SAME_SHAPE = new Set([
  'Abs', 'BatchNormalization', 'Ceil', 'Clip', 'Cos', 'Dropout', 'Elu', 'Erf', 'Exp', 'Floor', 'Gelu', 'HardSigmoid', 'HardSwish',
  'Identity', 'InstanceNormalization', 'LRN', 'LayerNormalization', 'LeakyRelu', 'Log', 'LogSoftmax', 'Mish', 'Neg', 'PRelu',
  'Reciprocal', 'Relu', 'Round', 'Selu', 'Sigmoid', 'Sign', 'Sin', 'Softmax', 'Softplus', 'Softsign', 'Sqrt', 'Tanh', 'ThresholdedRelu',
]);

/** Nodes whose outputs all have the element type of their first input (shapes change). */
const SAME_TYPE = new Set([
  'Add', 'AveragePool', 'Concat', 'Conv', 'ConvTranspose', 'DepthToSpace', 'Div', 'Expand', 'Flatten', 'Gather', 'GatherElements',
  'Gemm', 'GlobalAveragePool', 'GlobalMaxPool', 'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mul', 'Pad', 'Pow', 'ReduceMax',
  'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'Reshape', 'Resize', 'Slice', 'SpaceToDepth', 'Split', 'Squeeze', 'Sub',
  'Sum', 'Tile', 'Transpose', 'Unsqueeze', 'Upsample',
]);

interface Implied {
  elemType: number;
  dims?: number[];
  /** The node that implies it, for the message. */
  by: string;
}

const typeName = (t: number): string => dtypeFromOnnx(t).name;
/** A shape as 1x3x224x224, each dimension exact (a double beyond 2^53 holds an integer that Number prints rounded). */
export const shapeText = (dims: readonly number[]): string => dims.map((d) => (Number.isInteger(d) ? BigInt(d).toString() : String(d))).join('x');

/** The most bytes one tensor here can hold (one buffer). */
export const MAX_TENSOR_BYTES = bufferConstants.MAX_LENGTH;

/** The bytes a tensor of this type and shape needs, exactly (no double rounding). */
export function exactTensorBytes(elemType: number, dims: readonly number[]): bigint {
  return dims.reduce((acc, x) => acc * BigInt(Math.max(0, Math.trunc(x))), BigInt(Math.ceil(dtypeFromOnnx(elemType).bits / 8)));
}

/** What the graph implies for each node output it can tell, from the inputs and weights onwards. */
function impliedTypes(index: GraphIndex, known: ReadonlyMap<string, StatedTensor>, declared: ReadonlyMap<string, StatedTensor>): Map<string, Implied> {
  const implied = new Map<string, Implied>();
  const typeOf = (name: string): { elemType: number; dims?: number[] } | undefined => implied.get(name) ?? known.get(name) ?? declared.get(name);
  for (const n of index.order) {
    const node = index.nodes[n]!;
    const op = node.opType ?? '';
    const by = `${op} node '${node.name || (node.output ?? [])[0] || n}'`;
    const outputs = (node.output ?? []).filter((o) => o);
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') continue;
    if (op === 'Cast') {
      const to = node.attribute?.find((a) => a.name === 'to');
      const first = typeOf((node.input ?? [])[0] ?? '');
      if (to?.i !== undefined && outputs[0]) implied.set(outputs[0], { elemType: toNumber(to.i), ...(first?.dims ? { dims: first.dims } : {}), by });
      continue;
    }
    const input = typeOf((node.input ?? [])[0] ?? '');
    if (!input) continue;
    if (SAME_SHAPE.has(op) && outputs[0]) implied.set(outputs[0], { elemType: input.elemType, ...(input.dims ? { dims: input.dims } : {}), by });
    else if (SAME_TYPE.has(op)) for (const o of outputs) implied.set(o, { elemType: input.elemType, by });
  }
  return implied;
}

/**
 * Refuses declarations the graph contradicts. `known` holds the bound inputs and the weights;
 * `declared` what value_info and the graph outputs say, with `what` naming where each came from.
 */
export function checkDeclared(model: LoadedModel, index: GraphIndex, known: ReadonlyMap<string, StatedTensor>, declared: ReadonlyMap<string, StatedTensor & { what: string }>): void {
  const label = model.label;
  for (const [name, d] of declared) {
    const bytes = exactTensorBytes(d.elemType, d.dims);
    if (bytes > BigInt(MAX_TENSOR_BYTES)) {
      throw new SplitError(`${label}: ${d.what} '${name}' says ${shapeText(d.dims)} ${typeName(d.elemType)}: ${bytes} bytes, more than one tensor here can hold (${MAX_TENSOR_BYTES} bytes)`);
    }
  }
  const implied = impliedTypes(index, known, declared);
  for (const [name, d] of declared) {
    const g = implied.get(name);
    if (!g) continue;
    if (g.elemType !== d.elemType) throw new SplitError(`${label}: ${d.what} '${name}' says ${typeName(d.elemType)}, but the ${g.by} makes ${typeName(g.elemType)}`);
    if (g.dims && shapeText(g.dims) !== shapeText(d.dims)) throw new SplitError(`${label}: ${d.what} '${name}' says ${shapeText(d.dims)}, but the ${g.by} makes ${shapeText(g.dims)}`);
  }
}

/** Refuses a graph input whose declared type or shape differs from the initializer of the same name that stands in for it. */
export function checkInitializerInputs(model: LoadedModel, known: ReadonlyMap<string, StatedTensor>): void {
  for (const v of model.proto.graph?.input ?? []) {
    const init = known.get(v.name ?? '');
    const tt = v.type?.tensorType;
    if (!init || init.source !== 'initializer' || !tt?.elemType) continue;
    const dims = tt.shape?.dim?.map(fixedDim);
    const sameShape = !dims || (dims.length === init.dims.length && dims.every((x, i) => x < 0 || x === init.dims[i]));
    if (tt.elemType !== init.elemType || !sameShape) {
      const declared = `${dims ? shapeText(dims.map((x) => (x < 0 ? NaN : x))).replace(/NaN/g, '?') : '(no shape)'} ${typeName(tt.elemType)}`;
      throw new SplitError(`${model.label}: input '${v.name}' is declared ${declared}, but an initializer of the same name holds ${shapeText(init.dims) || 'a scalar'} ${typeName(init.elemType)}; rename one of them`);
    }
  }
}
