/**
 * Compute and weight costs per node: multiply-accumulates for the heavy operators and the weights
 * (constant tensors from initializers or Constant nodes) each node reads.
 */
import { elementCount } from '../onnx/dtypes.js';
import type { GraphIndex } from '../onnx/graph.js';
import type { TensorInfo } from '../onnx/shapes.js';
import { toNumber, type AttributeProto, type NodeProto } from '../onnx/types.js';

export interface NodeCosts {
  /** Multiply-accumulates per node (0 where not modelled or shapes unknown). */
  macs: Float64Array;
  /** Per node: the weight tensors (leaf constants) it needs, directly or through constant nodes. */
  weights: string[][];
  /** Elements of each leaf constant. */
  weightElements: Map<string, number>;
}

function attr(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attribute?.find((a) => a.name === name);
}

/** Elements of a Constant node's value, from whichever value attribute it uses. */
export function constantElements(n: NodeProto): number {
  for (const a of n.attribute ?? []) {
    switch (a.name) {
      case 'value':
        return a.t ? elementCount((a.t.dims ?? []).map(toNumber)) : 0;
      case 'value_floats':
        return a.floats?.length ?? 0;
      case 'value_ints':
        return a.ints?.length ?? 0;
      case 'value_strings':
        return a.strings?.length ?? 0;
      case 'value_float':
      case 'value_int':
      case 'value_string':
        return 1;
      case 'sparse_value':
        return elementCount((a.sparseTensor?.dims ?? []).map(toNumber));
    }
  }
  return 0;
}

/** Shape of a Constant node's `value` tensor, for operators whose weights come from Constant nodes. */
export function constantNodeShape(n: NodeProto): number[] | undefined {
  const v = attr(n, 'value');
  return v?.t ? (v.t.dims ?? []).map(toNumber) : undefined;
}

function nodeMacs(n: NodeProto, reads: string[], shape: (name: string) => number[] | undefined): number {
  const ins = n.input ?? [];
  const out = shape(n.output?.[0] ?? '');
  switch (n.opType) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const w = shape(ins[n.opType === 'QLinearConv' ? 3 : 1] ?? '');
      if (!out || !w) return 0;
      return elementCount(out) * elementCount(w.slice(1));
    }
    case 'ConvTranspose': {
      const x = shape(ins[0] ?? '');
      const w = shape(ins[1] ?? '');
      if (!x || !w) return 0;
      return elementCount(x) * elementCount(w.slice(1));
    }
    case 'Gemm': {
      const a = shape(ins[0] ?? '');
      if (!out || !a || a.length !== 2) return 0;
      const transA = toNumber(attr(n, 'transA')?.i ?? 0) !== 0;
      return elementCount(out) * (transA ? a[0]! : a[1]!);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = shape(ins[0] ?? '');
      if (!out || !a || a.length === 0) return 0;
      return elementCount(out) * a[a.length - 1]!;
    }
    default:
      void reads;
      return 0;
  }
}

/** Operators whose output has their (first) input's shape. */
const SAME_SHAPE = new Set(['Cast', 'Identity', 'Neg', 'Abs', 'Relu', 'Sqrt', 'Exp', 'Reciprocal']);
/** Operators whose output is the broadcast of their inputs' shapes. */
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'DequantizeLinear']);

function broadcastShapes(shapes: readonly number[][]): number[] {
  const rank = Math.max(...shapes.map((d) => d.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    let dim = 1;
    for (const d of shapes) {
      const v = d[d.length - rank + k] ?? 1;
      if (v !== 1) dim = v;
    }
    out.push(dim);
  }
  return out;
}

/**
 * Shapes of tensors computed from weights alone (a quantised model's weight as Mul(Cast(int8),
 * scale), a DequantizeLinear of an int8 initializer, a Transpose of one), which onnxruntime folds
 * at load: the shape probe measures only data-dependent tensors, and a Conv's MACs need its
 * weight's shape wherever it comes from. Elementwise operators give the broadcast of the inputs
 * whose shapes are known; anything else is left unknown.
 */
function constantShapes(index: GraphIndex, known: (name: string) => number[] | undefined): (name: string) => number[] | undefined {
  const memo = new Map<string, number[] | undefined>();
  const visit = (name: string, depth: number): number[] | undefined => {
    const hit = known(name);
    if (hit) return hit;
    if (memo.has(name)) return memo.get(name);
    memo.set(name, undefined);
    const p = index.producer.get(name);
    let result: number[] | undefined;
    if (p !== undefined && index.constantNode[p] && depth < 64) {
      const n = index.nodes[p]!;
      const ins = (n.input ?? []).filter((x) => x !== '');
      if (SAME_SHAPE.has(n.opType ?? '')) result = ins[0] === undefined ? undefined : visit(ins[0], depth + 1);
      else if (BROADCAST.has(n.opType ?? '')) {
        const operands = (n.opType === 'DequantizeLinear' ? ins.slice(0, 1) : ins).map((x) => visit(x, depth + 1)).filter((d): d is number[] => d !== undefined);
        result = operands.length > 0 ? broadcastShapes(operands) : undefined;
      } else if (n.opType === 'Transpose') {
        const x = ins[0] === undefined ? undefined : visit(ins[0], depth + 1);
        const perm = attr(n, 'perm')?.ints?.map(toNumber);
        if (x) result = perm && perm.length === x.length ? perm.map((k) => x[k]!) : [...x].reverse();
      }
    }
    memo.set(name, result);
    return result;
  };
  return (name) => (name === '' ? undefined : visit(name, 0));
}

export function computeCosts(index: GraphIndex, shapes: ReadonlyMap<string, TensorInfo>): NodeCosts {
  const weightElements = new Map<string, number>();
  for (const [name] of index.initializers) weightElements.set(name, elementCount(shapes.get(name)?.dims ?? []));
  for (const [name] of index.sparseInitializers) weightElements.set(name, elementCount(shapes.get(name)?.dims ?? []));
  const constShapes = new Map<string, number[]>();
  index.nodes.forEach((n, i) => {
    if (index.constantNode[i] && n.opType === 'Constant' && n.output?.[0]) {
      weightElements.set(n.output[0], constantElements(n));
      const s = constantNodeShape(n);
      if (s) constShapes.set(n.output[0], s);
    }
  });
  const constShape = constantShapes(index, (name) => shapes.get(name)?.dims ?? constShapes.get(name));
  const shape = (name: string) => shapes.get(name)?.dims ?? constShapes.get(name) ?? constShape(name);

  // Leaf weights reachable from each node through constant nodes (memoised per constant tensor).
  const memo = new Map<string, string[]>();
  const leaves = (tensor: string): string[] => {
    const hit = memo.get(tensor);
    if (hit) return hit;
    let result: string[];
    if (weightElements.has(tensor)) result = [tensor];
    else {
      const p = index.producer.get(tensor);
      const acc = new Set<string>();
      if (p !== undefined && index.constantNode[p]) for (const r of index.nodeInputs[p]!) for (const l of leaves(r)) acc.add(l);
      result = [...acc];
    }
    memo.set(tensor, result);
    return result;
  };
  const weights = index.nodes.map((_, i) => {
    const acc = new Set<string>();
    for (const r of index.nodeInputs[i]!) if (index.constantTensors.has(r)) for (const l of leaves(r)) acc.add(l);
    return [...acc];
  });
  const macs = new Float64Array(index.nodes.length);
  for (const i of index.dataNodes) macs[i] = nodeMacs(index.nodes[i]!, index.nodeInputs[i]!, shape);
  return { macs, weights, weightElements };
}
