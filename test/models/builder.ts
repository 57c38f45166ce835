/**
 * A small ONNX graph builder producing plain-object `ModelProto`s (see src/onnx/types.ts) for the
 * test-model zoo.
 *
 * - opset 17 (default domain), IR version 8;
 * - every weight is an initializer (or, on request, a Constant node) with little-endian `rawData`,
 *   filled from a seeded deterministic PRNG with He-style scaling so activations stay finite
 *   through deep nets;
 * - node names are unique and readable (`conv_3`), node outputs are named after their node
 *   (`conv_3_out`), initializers after their node and role (`conv_3_W`);
 * - the builder tracks static shapes itself (it needs input channel counts to size weights), but it
 *   emits no value_info: only graph inputs and outputs carry types and shapes.
 */
import type {
  AttributeProto,
  ModelProto,
  NodeProto,
  TensorProto,
  ValueInfoProto,
} from '../../src/onnx/types.js';
import { toNumber } from '../../src/onnx/types.js';

/** ONNX TensorProto.DataType numbers. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

/** ONNX AttributeProto.AttributeType numbers. */
export const AttrType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

/** Deterministic PRNG (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed = 1) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Float32Array of `n` values uniform in [lo, hi). */
  floats(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}

/** Deterministic model input data: `n` floats in [-1, 1) from a seeded PRNG. */
export function deterministicInput(dims: readonly number[], seed = 1234): Float32Array {
  return new Rng(seed).floats(numel(dims));
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** float32 values -> little-endian bytes. */
export function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** int64 values -> little-endian bytes. */
export function int64Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]), true);
  return out;
}

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  if (values.length !== numel(dims)) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims}]`);
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: float32Bytes(values) };
}

export function int64Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  if (values.length !== numel(dims)) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims}]`);
  return { name, dims: [...dims], dataType: DataType.INT64, rawData: int64Bytes(values) };
}

export function attrInt(name: string, i: number): AttributeProto {
  return { name, type: AttrType.INT, i };
}
export function attrInts(name: string, ints: readonly number[]): AttributeProto {
  return { name, type: AttrType.INTS, ints: [...ints] };
}
export function attrFloat(name: string, f: number): AttributeProto {
  return { name, type: AttrType.FLOAT, f };
}
export function attrFloats(name: string, floats: readonly number[]): AttributeProto {
  return { name, type: AttrType.FLOATS, floats: [...floats] };
}
export function attrString(name: string, s: string): AttributeProto {
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(s) };
}
export function attrTensor(name: string, t: TensorProto): AttributeProto {
  return { name, type: AttrType.TENSOR, t };
}

/** A tensor in the graph being built, with its statically known shape and element type. */
export interface Value {
  name: string;
  shape: number[];
  dataType: number;
  /** Known values of small int64 tensors (shape arithmetic), propagated through Shape/Gather/Concat. */
  constValue?: number[];
}

export interface ConvOptions {
  stride?: number;
  /** Symmetric padding; default floor(k / 2) ("same" for odd k at stride 1). */
  pad?: number;
  group?: number;
  dilation?: number;
  /** Add a bias input (default true). */
  bias?: boolean;
  /** Store weight and bias in Constant nodes instead of initializers. */
  constantWeights?: boolean;
}

export interface PoolOptions {
  stride?: number;
  pad?: number;
}

const OP_PREFIX: Record<string, string> = {
  BatchNormalization: 'bn',
  LayerNormalization: 'layernorm',
  GlobalAveragePool: 'gap',
  AveragePool: 'avgpool',
  MaxPool: 'maxpool',
  ReduceMean: 'reducemean',
  MatMul: 'matmul',
  Softmax: 'softmax',
  Transpose: 'transpose',
  Reshape: 'reshape',
  Constant: 'const',
  Identity: 'identity',
  Unsqueeze: 'unsqueeze',
};

function opPrefix(opType: string): string {
  return OP_PREFIX[opType] ?? opType.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

function poolOut(size: number, k: number, stride: number, pad: number, dilation = 1): number {
  return Math.floor((size + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
}

export class GraphBuilder {
  readonly rng: Rng;
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly scalarCache = new Map<string, Value>();
  /** Names produced by nodes (as opposed to graph inputs and initializers). */
  private readonly nodeOutputs = new Set<string>();

  constructor(
    readonly name: string,
    seed = 42,
  ) {
    this.rng = new Rng(seed);
  }

  // ---------------------------------------------------------------- naming and low-level pieces

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate name ${name}`);
    this.names.add(name);
    return name;
  }

  /** A fresh node name for `opType`, e.g. `conv_3`. */
  private nodeName(opType: string, prefix?: string): string {
    const p = prefix ?? opPrefix(opType);
    for (;;) {
      const n = this.counters.get(p) ?? 0;
      this.counters.set(p, n + 1);
      const candidate = `${p}_${n}`;
      if (!this.names.has(candidate)) return this.claim(candidate);
    }
  }

  /** Declares a graph input. */
  input(name: string, dims: readonly number[], dataType: number = DataType.FLOAT): Value {
    this.claim(name);
    this.inputs.push(valueInfo(name, dataType, dims));
    return { name, shape: [...dims], dataType };
  }

  /**
   * Declares `v` as a graph output. With `name`, the tensor (which must be produced by a node of
   * this graph) is renamed first, so the output gets a readable name without an extra node.
   */
  output(v: Value, name?: string): Value {
    if (name !== undefined && name !== v.name) {
      if (!this.nodeOutputs.has(v.name)) throw new Error(`can only rename node outputs, not ${v.name}`);
      this.claim(name);
      const old = v.name;
      for (const n of this.nodes) {
        n.input = n.input!.map((x) => (x === old ? name : x));
        n.output = n.output!.map((x) => (x === old ? name : x));
      }
      this.names.delete(old);
      this.nodeOutputs.delete(old);
      this.nodeOutputs.add(name);
      v.name = name;
    }
    this.outputs.push(valueInfo(v.name, v.dataType, v.shape));
    return v;
  }

  /** Adds an initializer tensor. */
  initializer(t: TensorProto): Value {
    this.claim(t.name!);
    this.initializers.push(t);
    const shape = (t.dims ?? []).map((d) => toNumber(d));
    const v: Value = { name: t.name!, shape, dataType: t.dataType ?? DataType.FLOAT };
    if (t.dataType === DataType.INT64 && t.rawData && shape.length <= 1) v.constValue = readInt64(t.rawData);
    return v;
  }

  floatInit(name: string, dims: readonly number[], values: ArrayLike<number>): Value {
    return this.initializer(floatTensor(name, dims, values));
  }

  int64Init(name: string, dims: readonly number[], values: ArrayLike<number>): Value {
    return this.initializer(int64Tensor(name, dims, values));
  }

  /** Random weight uniform in +-sqrt(6 / fanIn) * gain / sqrt(2) (He-uniform for gain = sqrt(2)). */
  randomWeights(dims: readonly number[], fanIn: number, gain = Math.SQRT2): Float32Array {
    const bound = gain * Math.sqrt(3 / Math.max(1, fanIn));
    return this.rng.floats(numel(dims), -bound, bound);
  }

  /** A shared scalar float initializer (e.g. Clip bounds, Gelu constants). */
  scalar(value: number): Value {
    const key = `f:${value}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      const base = `scalar_${String(value).replace('-', 'm').replace('.', 'p')}`;
      let name = base;
      for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
      v = this.floatInit(name, [], [value]);
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** Generic node. Returns its outputs with the given shapes/types. */
  node(
    opType: string,
    inputs: readonly (Value | string)[],
    outShapes: readonly number[][],
    opts: { attrs?: AttributeProto[]; name?: string; prefix?: string; dataTypes?: number[]; domain?: string } = {},
  ): Value[] {
    const name = opts.name !== undefined ? this.claim(opts.name) : this.nodeName(opType, opts.prefix);
    const outs: Value[] = outShapes.map((shape, i) => ({
      name: this.claim(outShapes.length === 1 ? `${name}_out` : `${name}_out${i}`),
      shape: [...shape],
      dataType: opts.dataTypes?.[i] ?? (typeof inputs[0] === 'object' ? inputs[0].dataType : DataType.FLOAT),
    }));
    for (const o of outs) this.nodeOutputs.add(o.name);
    const node: NodeProto = {
      name,
      opType,
      input: inputs.map((x) => (typeof x === 'string' ? x : x.name)),
      output: outs.map((o) => o.name),
    };
    if (opts.domain) node.domain = opts.domain;
    if (opts.attrs && opts.attrs.length > 0) node.attribute = opts.attrs;
    this.nodes.push(node);
    return outs;
  }

  private node1(
    opType: string,
    inputs: readonly (Value | string)[],
    outShape: number[],
    opts: { attrs?: AttributeProto[]; name?: string; prefix?: string; dataType?: number } = {},
  ): Value {
    return this.node(opType, inputs, [outShape], {
      ...opts,
      dataTypes: opts.dataType !== undefined ? [opts.dataType] : undefined,
    })[0];
  }

  /** Name a weight for the node about to be created (`<next node name>_W`). */
  private peekName(opType: string, prefix?: string): string {
    const p = prefix ?? opPrefix(opType);
    let n = this.counters.get(p) ?? 0;
    while (this.names.has(`${p}_${n}`)) n++;
    this.counters.set(p, n);
    return `${p}_${n}`;
  }

  // ---------------------------------------------------------------- constants

  /** A Constant node holding `t` (its `value` attribute). */
  constant(t: TensorProto, name?: string): Value {
    const nodeName = name ?? this.peekName('Constant');
    const tensor: TensorProto = { ...t, name: `${nodeName}_value` };
    const shape = (t.dims ?? []).map((d) => toNumber(d));
    const out = this.node1('Constant', [], shape, {
      attrs: [attrTensor('value', tensor)],
      name,
      dataType: t.dataType ?? DataType.FLOAT,
    });
    if (t.dataType === DataType.INT64 && t.rawData && shape.length <= 1) out.constValue = readInt64(t.rawData);
    return out;
  }

  constantFloat(dims: readonly number[], values: ArrayLike<number>): Value {
    return this.constant(floatTensor('', dims, values));
  }

  constantInt64(dims: readonly number[], values: ArrayLike<number>): Value {
    return this.constant(int64Tensor('', dims, values));
  }

  // ---------------------------------------------------------------- convolution and normalization

  /** Conv with He-initialized weight [outCh, inCh/group, k, k] and (by default) a bias. */
  conv(x: Value, outCh: number, k: number, opts: ConvOptions = {}): Value {
    const { stride = 1, group = 1, dilation = 1, bias = true } = opts;
    const pad = opts.pad ?? Math.floor((dilation * (k - 1)) / 2);
    const [n, c, h, w] = x.shape;
    if (c % group !== 0 || outCh % group !== 0) throw new Error(`conv: channels ${c}->${outCh} not divisible by group ${group}`);
    const base = this.peekName('Conv');
    const wDims = [outCh, c / group, k, k];
    const fanIn = (c / group) * k * k;
    const wData = this.randomWeights(wDims, fanIn);
    const bData = bias ? this.rng.floats(outCh, -0.05, 0.05) : undefined;
    let wv: Value;
    let bv: Value | undefined;
    if (opts.constantWeights) {
      wv = this.constantFloat(wDims, wData);
      bv = bData ? this.constantFloat([outCh], bData) : undefined;
    } else {
      wv = this.floatInit(`${base}_W`, wDims, wData);
      bv = bData ? this.floatInit(`${base}_B`, [outCh], bData) : undefined;
    }
    const attrs = [
      attrInts('dilations', [dilation, dilation]),
      attrInt('group', group),
      attrInts('kernel_shape', [k, k]),
      attrInts('pads', [pad, pad, pad, pad]),
      attrInts('strides', [stride, stride]),
    ];
    const out = [n, outCh, poolOut(h, k, stride, pad, dilation), poolOut(w, k, stride, pad, dilation)];
    return this.node1('Conv', bv ? [x, wv, bv] : [x, wv], out, { attrs, name: base });
  }

  /** Depthwise conv: group = channels. */
  depthwiseConv(x: Value, k: number, opts: Omit<ConvOptions, 'group'> = {}): Value {
    return this.conv(x, x.shape[1], k, { ...opts, group: x.shape[1] });
  }

  /** BatchNormalization (inference) with mild random statistics. */
  batchNorm(x: Value, epsilon = 1e-5): Value {
    const c = x.shape[1];
    const base = this.peekName('BatchNormalization');
    const scale = this.floatInit(`${base}_scale`, [c], this.rng.floats(c, 0.8, 1.2));
    const bias = this.floatInit(`${base}_bias`, [c], this.rng.floats(c, -0.1, 0.1));
    const mean = this.floatInit(`${base}_mean`, [c], this.rng.floats(c, -0.1, 0.1));
    const variance = this.floatInit(`${base}_var`, [c], this.rng.floats(c, 0.8, 1.2));
    return this.node1('BatchNormalization', [x, scale, bias, mean, variance], [...x.shape], {
      attrs: [attrFloat('epsilon', epsilon), attrFloat('momentum', 0.9)],
      name: base,
    });
  }

  /** LayerNormalization over the last axis (opset 17) with scale and bias initializers. */
  layerNorm(x: Value, epsilon = 1e-5): Value {
    const d = x.shape[x.shape.length - 1];
    const base = this.peekName('LayerNormalization');
    const scale = this.floatInit(`${base}_scale`, [d], this.rng.floats(d, 0.9, 1.1));
    const bias = this.floatInit(`${base}_bias`, [d], this.rng.floats(d, -0.05, 0.05));
    return this.node1('LayerNormalization', [x, scale, bias], [...x.shape], {
      attrs: [attrInt('axis', -1), attrFloat('epsilon', epsilon)],
      name: base,
    });
  }

  /** Layer normalization over the last axis spelled out with ReduceMean/Sub/Mul/Add/Sqrt/Div. */
  layerNormDecomposed(x: Value, epsilon = 1e-5): Value {
    const d = x.shape[x.shape.length - 1];
    const mean = this.reduceMean(x, [-1], true);
    const centered = this.sub(x, mean);
    const variance = this.reduceMean(this.mul(centered, centered), [-1], true);
    const std = this.sqrt(this.add(variance, this.scalar(epsilon)));
    const normed = this.div(centered, std);
    const base = this.peekName('Mul');
    const gamma = this.floatInit(`${base}_gamma`, [d], this.rng.floats(d, 0.9, 1.1));
    const beta = this.floatInit(`${base}_beta`, [d], this.rng.floats(d, -0.05, 0.05));
    return this.add(this.mul(normed, gamma), beta);
  }

  // ---------------------------------------------------------------- activations and elementwise

  relu(x: Value): Value {
    return this.node1('Relu', [x], [...x.shape]);
  }

  sigmoid(x: Value): Value {
    return this.node1('Sigmoid', [x], [...x.shape]);
  }

  tanh(x: Value): Value {
    return this.node1('Tanh', [x], [...x.shape]);
  }

  erf(x: Value): Value {
    return this.node1('Erf', [x], [...x.shape]);
  }

  sqrt(x: Value): Value {
    return this.node1('Sqrt', [x], [...x.shape]);
  }

  /** Clip with min/max given as (shared scalar) initializer inputs. */
  clip(x: Value, min: number, max: number): Value {
    return this.node1('Clip', [x, this.scalar(min), this.scalar(max)], [...x.shape]);
  }

  relu6(x: Value): Value {
    return this.clip(x, 0, 6);
  }

  private binary(op: string, a: Value, b: Value | number): Value {
    const bv = typeof b === 'number' ? this.scalar(b) : b;
    return this.node1(op, [a, bv], broadcast(a.shape, bv.shape));
  }

  add(a: Value, b: Value | number): Value {
    return this.binary('Add', a, b);
  }
  sub(a: Value, b: Value | number): Value {
    return this.binary('Sub', a, b);
  }
  mul(a: Value, b: Value | number): Value {
    return this.binary('Mul', a, b);
  }
  div(a: Value, b: Value | number): Value {
    return this.binary('Div', a, b);
  }

  /** Gelu, exact form: 0.5 * x * (1 + erf(x / sqrt(2))) (opset 17 has no Gelu op). */
  geluErf(x: Value): Value {
    const e = this.erf(this.div(x, this.scalar(Math.SQRT2)));
    return this.mul(this.mul(x, this.add(e, this.scalar(1))), this.scalar(0.5));
  }

  /** Gelu, tanh approximation: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))). */
  geluTanh(x: Value): Value {
    const x3 = this.mul(this.mul(x, x), x);
    const inner = this.mul(this.add(x, this.mul(x3, this.scalar(0.044715))), this.scalar(Math.sqrt(2 / Math.PI)));
    const t = this.tanh(inner);
    return this.mul(this.mul(x, this.add(t, this.scalar(1))), this.scalar(0.5));
  }

  softmax(x: Value, axis = -1): Value {
    return this.node1('Softmax', [x], [...x.shape], { attrs: [attrInt('axis', axis)] });
  }

  /** Cast to another element type (TensorProto.DataType number). */
  cast(x: Value, to: number): Value {
    return this.node1('Cast', [x], [...x.shape], { attrs: [attrInt('to', to)], dataType: to });
  }

  /** Where(condition, a, b): a where the bool condition holds, b elsewhere (broadcasting). */
  where(condition: Value, a: Value, b: Value | number): Value {
    const bv = typeof b === 'number' ? this.scalar(b) : b;
    return this.node1('Where', [condition, a, bv], broadcast(condition.shape, broadcast(a.shape, bv.shape)), { dataType: a.dataType });
  }

  identity(x: Value): Value {
    const out = this.node1('Identity', [x], [...x.shape], { dataType: x.dataType });
    if (x.constValue) out.constValue = [...x.constValue];
    return out;
  }

  // ---------------------------------------------------------------- pooling

  maxPool(x: Value, k: number, opts: PoolOptions = {}): Value {
    return this.pool('MaxPool', x, k, opts);
  }

  avgPool(x: Value, k: number, opts: PoolOptions = {}): Value {
    return this.pool('AveragePool', x, k, opts);
  }

  private pool(op: string, x: Value, k: number, opts: PoolOptions): Value {
    const { stride = k, pad = 0 } = opts;
    const [n, c, h, w] = x.shape;
    const attrs = [attrInts('kernel_shape', [k, k]), attrInts('pads', [pad, pad, pad, pad]), attrInts('strides', [stride, stride])];
    if (op === 'AveragePool' && pad > 0) attrs.push(attrInt('count_include_pad', 0));
    return this.node1(op, [x], [n, c, poolOut(h, k, stride, pad), poolOut(w, k, stride, pad)], { attrs });
  }

  globalAvgPool(x: Value): Value {
    return this.node1('GlobalAveragePool', [x], [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)]);
  }

  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
    const rank = x.shape.length;
    const ax = new Set(axes.map((a) => normAxis(a, rank)));
    const shape = x.shape.flatMap((d, i) => (ax.has(i) ? (keepdims ? [1] : []) : [d]));
    // opset 17: axes is still an attribute (it became an input in opset 18).
    return this.node1('ReduceMean', [x], shape, { attrs: [attrInts('axes', axes), attrInt('keepdims', keepdims ? 1 : 0)] });
  }

  // ---------------------------------------------------------------- dense layers

  /** Gemm y = x W^T + b with W [outF, inF] (transB = 1), x of rank 2. */
  gemm(x: Value, outF: number, opts: { bias?: boolean; constantWeights?: boolean; gain?: number } = {}): Value {
    if (x.shape.length !== 2) throw new Error(`gemm: input must be 2-D, got [${x.shape}]`);
    const inF = x.shape[1];
    const base = this.peekName('Gemm');
    const wData = this.randomWeights([outF, inF], inF, opts.gain ?? 1);
    const bData = opts.bias === false ? undefined : this.rng.floats(outF, -0.05, 0.05);
    let wv: Value;
    let bv: Value | undefined;
    if (opts.constantWeights) {
      wv = this.constantFloat([outF, inF], wData);
      bv = bData ? this.constantFloat([outF], bData) : undefined;
    } else {
      wv = this.floatInit(`${base}_W`, [outF, inF], wData);
      bv = bData ? this.floatInit(`${base}_B`, [outF], bData) : undefined;
    }
    return this.node1('Gemm', bv ? [x, wv, bv] : [x, wv], [x.shape[0], outF], {
      attrs: [attrFloat('alpha', 1), attrFloat('beta', 1), attrInt('transB', 1)],
      name: base,
    });
  }

  /** MatMul of two tensors (numpy semantics, rank >= 2 each). */
  matmul(a: Value, b: Value): Value {
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (a.shape[ra - 1] !== b.shape[rb - 2]) throw new Error(`matmul: [${a.shape}] x [${b.shape}]`);
    const batch = broadcast(a.shape.slice(0, ra - 2), b.shape.slice(0, rb - 2));
    return this.node1('MatMul', [a, b], [...batch, a.shape[ra - 2], b.shape[rb - 1]]);
  }

  /** x @ W (+ b): a MatMul with a [inF, outF] weight initializer, then an Add of a bias. */
  linear(x: Value, outF: number, opts: { bias?: boolean; gain?: number } = {}): Value {
    const inF = x.shape[x.shape.length - 1];
    const base = this.peekName('MatMul');
    const w = this.floatInit(`${base}_W`, [inF, outF], this.randomWeights([inF, outF], inF, opts.gain ?? 1));
    const y = this.matmul(x, w);
    if (opts.bias === false) return y;
    const b = this.floatInit(`${base}_B`, [outF], this.rng.floats(outF, -0.05, 0.05));
    return this.add(y, b);
  }

  // ---------------------------------------------------------------- shape manipulation

  /**
   * Reshape. `shape` is either a literal (stored as an int64 initializer; 0 copies a dimension and
   * -1 is inferred) or a computed int64 tensor whose value the builder knows (constValue).
   */
  reshape(x: Value, shape: readonly number[] | Value): Value {
    let target: number[];
    let sv: Value;
    if (Array.isArray(shape)) {
      target = [...(shape as readonly number[])];
      const base = this.peekName('Reshape');
      sv = this.int64Init(`${base}_shape`, [target.length], target);
    } else {
      sv = shape as Value;
      if (!sv.constValue) throw new Error(`reshape: shape tensor ${sv.name} has no known value`);
      target = [...sv.constValue];
    }
    const resolved = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    const known = resolved.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const total = numel(x.shape);
    const out = resolved.map((d) => (d === -1 ? total / known : d));
    if (numel(out) !== total) throw new Error(`reshape: [${x.shape}] -> [${target}]`);
    return this.node1('Reshape', [x, sv], out);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.node1('Transpose', [x], perm.map((p) => x.shape[p]), { attrs: [attrInts('perm', perm)] });
  }

  flatten(x: Value, axis = 1): Value {
    const a = normAxis(axis, x.shape.length + (axis === x.shape.length ? 1 : 0));
    return this.node1('Flatten', [x], [numel(x.shape.slice(0, a)), numel(x.shape.slice(a))], {
      attrs: [attrInt('axis', axis)],
    });
  }

  concat(xs: readonly Value[], axis: number): Value {
    const rank = xs[0].shape.length;
    const a = normAxis(axis, rank);
    const shape = [...xs[0].shape];
    shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
    const out = this.node1('Concat', xs, shape, { attrs: [attrInt('axis', axis)], dataType: xs[0].dataType });
    if (rank === 1 && xs.every((x) => x.constValue)) out.constValue = xs.flatMap((x) => x.constValue!);
    return out;
  }

  /** Shape (int64 1-D); its value is known statically. */
  shapeOf(x: Value): Value {
    const out = this.node1('Shape', [x], [x.shape.length], { dataType: DataType.INT64 });
    out.constValue = [...x.shape];
    return out;
  }

  /** Gather along `axis` with int64 indices. */
  gather(x: Value, indices: Value, axis = 0): Value {
    const a = normAxis(axis, x.shape.length);
    const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
    const out = this.node1('Gather', [x, indices], shape, { attrs: [attrInt('axis', axis)], dataType: x.dataType });
    if (x.constValue && indices.constValue && x.shape.length === 1) {
      out.constValue = indices.constValue.map((i) => x.constValue![i < 0 ? i + x.shape[0] : i]);
    }
    return out;
  }

  /** Unsqueeze with axes as an int64 input (opset 13+). */
  unsqueeze(x: Value, axes: readonly number[]): Value {
    const rank = x.shape.length + axes.length;
    const ax = new Set(axes.map((a) => normAxis(a, rank)));
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(ax.has(i) ? 1 : x.shape[j++]);
    const base = this.peekName('Unsqueeze');
    const axesV = this.int64Init(`${base}_axes`, [axes.length], axes);
    const out = this.node1('Unsqueeze', [x, axesV], shape, { dataType: x.dataType });
    if (x.constValue) out.constValue = [...x.constValue];
    return out;
  }

  // ---------------------------------------------------------------- result

  build(opts: { producerName?: string; docString?: string } = {}): ModelProto {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} has no outputs`);
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: opts.producerName ?? 'onnx-manager-test-zoo',
      producerVersion: '0.1.0',
      modelVersion: 1,
      docString: opts.docString ?? '',
      graph: {
        name: this.name,
        node: [...this.nodes],
        initializer: [...this.initializers],
        input: [...this.inputs],
        output: [...this.outputs],
      },
    };
  }
}

export function valueInfo(name: string, elemType: number, dims: readonly number[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  };
}

function readInt64(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 <= bytes.byteLength; i += 8) out.push(Number(view.getBigInt64(i, true)));
  return out;
}

/** Element count of a tensor from its dims. */
function tensorNumel(t: TensorProto): number {
  return (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
}

/**
 * Summary of a model: node count, parameter count (elements of float initializers plus float
 * Constant-node tensors) and the number of raw weight bytes.
 */
export function modelStats(model: ModelProto): { nodes: number; params: number; initializers: number; weightBytes: number } {
  const g = model.graph ?? {};
  let params = 0;
  let weightBytes = 0;
  const count = (t: TensorProto) => {
    if (t.dataType === DataType.FLOAT) params += tensorNumel(t);
    weightBytes += t.rawData?.byteLength ?? 0;
  };
  for (const t of g.initializer ?? []) count(t);
  for (const n of g.node ?? []) {
    if (n.opType !== 'Constant') continue;
    for (const a of n.attribute ?? []) if (a.t) count(a.t);
  }
  return { nodes: (g.node ?? []).length, params, initializers: (g.initializer ?? []).length, weightBytes };
}
