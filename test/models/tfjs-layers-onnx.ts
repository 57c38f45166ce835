/**
 * A TF.js layers model (a Keras functional model as `tfjs.converters` writes it: topology plus
 * weight manifest and weight bytes) as an ONNX model, built with the test model builder. A fixture
 * tool for trained test models, not a product operation.
 *
 * - NHWC becomes NCHW: the input is [1, C, H, W]; Conv2D kernels [kh, kw, in, out] become
 *   [out, in, kh, kw], DepthwiseConv2D kernels [kh, kw, in, mult] become [in * mult, 1, kh, kw]
 *   with group = in; Dense kernels [in, out] become a Gemm weight [out, in] (transB = 1).
 * - Keras 'same' padding is spelt out as ONNX pads (TensorFlow's: the odd pixel after), and a
 *   ZeroPadding2D read only by convolutions is folded into their pads (a Pad node otherwise).
 * - BatchNormalization stays a BatchNormalization (on axis 1), ReLU with max_value is a Clip,
 *   Dropout is left out (inference), Flatten of a map larger than 1x1 transposes to NHWC first so
 *   the features keep Keras's order.
 * - The batch dim of the input and outputs is symbolic (`N`), built for 1.
 * - A Dense layer with a softmax activation is a Gemm followed by a Softmax: the Gemm's output is
 *   the logits.
 * - Weights quantised by the converter (uint8 / uint16 with min and scale) are restored to float
 *   as TF.js does: min + scale * q.
 *
 * Only what trained image CNNs use is read (InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D,
 * BatchNormalization, ReLU, Activation, Add, AveragePooling2D, MaxPooling2D,
 * GlobalAveragePooling2D, Flatten, Dropout, Dense); anything else is refused naming the layer.
 */
import type { ModelProto } from '../../src/onnx/types.js';
import type { Literal } from './js-literal.js';
import { attrFloat, attrInt, attrInts, GraphBuilder, numel, type Value } from './builder.js';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { min?: number; scale?: number; dtype: string };
}

export interface TfjsLayersArtifacts {
  /** The `modelTopology` of model.json (keras_version, model_config, ...). */
  modelTopology: Literal;
  weightSpecs: WeightSpec[];
  /** The weight shards concatenated in manifest order. */
  weightData: Uint8Array;
}

export interface Weight {
  shape: number[];
  values: Float32Array;
}

/** The weights of a manifest as float32, by name. */
export function decodeWeights(specs: readonly WeightSpec[], data: Uint8Array): Map<string, Weight> {
  const out = new Map<string, Weight>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new Error(`weight ${s.name}: dtype ${s.dtype} is not read (float32 only)`);
    const n = numel(s.shape);
    const values = new Float32Array(n);
    const q = s.quantization;
    const bytes = q ? { uint8: 1, uint16: 2 }[q.dtype] : 4;
    if (bytes === undefined) throw new Error(`weight ${s.name}: quantization ${q!.dtype} is not read (uint8, uint16)`);
    if (at + n * bytes > data.byteLength) throw new Error(`weight ${s.name}: needs ${n * bytes} bytes at ${at}, the data has ${data.byteLength}`);
    if (!q) for (let i = 0; i < n; i++) values[i] = view.getFloat32(at + 4 * i, true);
    else {
      if (typeof q.min !== 'number' || typeof q.scale !== 'number') throw new Error(`weight ${s.name}: quantization without min and scale`);
      for (let i = 0; i < n; i++) values[i] = q.min + q.scale * (bytes === 1 ? data[at + i]! : view.getUint16(at + 2 * i, true));
    }
    at += n * bytes;
    out.set(s.name, { shape: [...s.shape], values });
  }
  if (at !== data.byteLength) throw new Error(`weight data has ${data.byteLength} bytes, the manifest ${at}`);
  return out;
}

type Config = { [key: string]: Literal };

interface KerasLayer {
  name: string;
  className: string;
  config: Config;
  inputs: string[];
}

/** A tensor, or a ZeroPadding2D of one not yet written ([top, left, bottom, right]). */
interface Tensor {
  value: Value;
  pads?: [number, number, number, number];
}

const obj = (v: Literal, what: string): Config => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not an object`);
  return v;
};
const pair = (v: Literal, what: string): [number, number] => {
  const a = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(a) || a.length !== 2 || !a.every((x) => typeof x === 'number')) throw new Error(`${what}: expected two numbers, got ${JSON.stringify(v)}`);
  return a as [number, number];
};

function layersOf(topology: Literal): { layers: KerasLayer[]; inputs: string[]; outputs: string[] } {
  const mc = obj(obj(topology, 'modelTopology').model_config ?? null, 'model_config');
  if (mc.class_name !== 'Model' && mc.class_name !== 'Functional') throw new Error(`model_config: class ${String(mc.class_name)} is not read (Model, Functional)`);
  const config = obj(mc.config ?? null, 'model_config.config');
  const names = (v: Literal, what: string) => {
    if (!Array.isArray(v)) throw new Error(`${what} is not a list`);
    return v.map((x) => {
      if (!Array.isArray(x) || typeof x[0] !== 'string' || x[1] !== 0 || x[2] !== 0) throw new Error(`${what}: ${JSON.stringify(x)} is not [layer, 0, 0]`);
      return x[0];
    });
  };
  if (!Array.isArray(config.layers)) throw new Error('model_config.config.layers is not a list');
  const layers = config.layers.map((l, i): KerasLayer => {
    const o = obj(l, `layer ${i}`);
    const name = String(o.name);
    const inbound = o.inbound_nodes;
    if (!Array.isArray(inbound) || inbound.length > 1) throw new Error(`layer ${name}: shared layers are not read`);
    return { name, className: String(o.class_name), config: obj(o.config ?? null, `layer ${name} config`), inputs: inbound.length ? names(inbound[0]!, `layer ${name} inbound`) : [] };
  });
  return { layers, inputs: names(config.input_layers ?? null, 'input_layers'), outputs: names(config.output_layers ?? null, 'output_layers') };
}

/** TensorFlow's 'same' padding of one spatial axis: [before, after] (the odd pixel after). */
function samePads(size: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

const outSize = (size: number, k: number, stride: number, dilation: number, before: number, after: number) =>
  Math.floor((size + before + after - (k - 1) * dilation - 1) / stride) + 1;

/** The ONNX model of a TF.js layers model (see the file comment). */
export function tfjsLayersToOnnx(
  artifacts: TfjsLayersArtifacts,
  opts: { name?: string; docString?: string; /** Graph output names, in output_layers order (default: the tensors' own). */ outputNames?: string[] } = {},
): ModelProto {
  const { layers, inputs, outputs } = layersOf(artifacts.modelTopology);
  const weights = decodeWeights(artifacts.weightSpecs, artifacts.weightData);
  const used = new Set<string>();
  const weight = (layer: string, param: string, shape?: number[]): Weight => {
    const key = `${layer}/${param}`;
    const w = weights.get(key);
    if (!w) throw new Error(`layer ${layer}: no weight ${key} in the manifest`);
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) throw new Error(`weight ${key}: shape [${w.shape}], expected [${shape}]`);
    used.add(key);
    return w;
  };
  const b = new GraphBuilder(opts.name ?? 'tfjs_layers');
  const tensors = new Map<string, Tensor>();

  /** The input tensor with any pending zero padding written as a Pad node. */
  const plain = (t: Tensor, name: string): Value => {
    if (!t.pads) return t.value;
    const [top, left, bottom, right] = t.pads;
    const [n, c, h, w] = t.value.shape as [number, number, number, number];
    const pads = b.int64Init(`${name}_pads`, [8], [0, 0, top, left, 0, 0, bottom, right]);
    return b.node('Pad', [t.value, pads], [[n, c, h + top + bottom, w + left + right]], { name })[0]!;
  };

  const activation = (x: Value, kind: Literal, layer: string): Value => {
    const name = `${layer}_${String(kind)}`;
    switch (kind) {
      case undefined:
      case null:
      case 'linear':
        return x;
      case 'relu':
      case 'sigmoid':
      case 'tanh':
        return b.node({ relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[kind], [x], [x.shape], { name })[0]!;
      case 'relu6':
        return b.node('Clip', [x, b.scalar(0), b.scalar(6)], [x.shape], { name })[0]!;
      case 'softmax':
        if (x.shape.length !== 2) throw new Error(`layer ${layer}: softmax over a rank-${x.shape.length} tensor is not read`);
        return b.node('Softmax', [x], [x.shape], { name, attrs: [attrInt('axis', -1)] })[0]!;
      default:
        throw new Error(`layer ${layer}: activation ${String(kind)} is not read`);
    }
  };

  const conv = (l: KerasLayer, t: Tensor, depthwise: boolean): Value => {
    const c = l.config;
    if (c.data_format !== undefined && c.data_format !== 'channels_last') throw new Error(`layer ${l.name}: data_format ${String(c.data_format)} is not read`);
    if (c.groups !== undefined && c.groups !== 1) throw new Error(`layer ${l.name}: groups ${String(c.groups)} is not read`);
    const [kh, kw] = pair(c.kernel_size ?? null, `layer ${l.name} kernel_size`);
    const [sh, sw] = pair(c.strides ?? 1, `layer ${l.name} strides`);
    const [dh, dw] = pair(c.dilation_rate ?? 1, `layer ${l.name} dilation_rate`);
    const [n, inC, h, w] = t.value.shape as [number, number, number, number];
    const [top, left, bottom, right] = t.pads ?? [0, 0, 0, 0];
    const [ph, pw] = [h + top + bottom, w + left + right];
    let pads: number[];
    if (c.padding === 'valid') pads = [top, left, bottom, right];
    else if (c.padding === 'same') {
      const [a, bb] = samePads(ph, kh, sh, dh);
      const [cc, d] = samePads(pw, kw, sw, dw);
      pads = [top + a, left + cc, bottom + bb, right + d];
    } else throw new Error(`layer ${l.name}: padding ${String(c.padding)} is not read`);
    let outC: number;
    let wValues: Float32Array;
    let wDims: number[];
    if (depthwise) {
      const mult = Number(c.depth_multiplier ?? 1);
      const k = weight(l.name, 'depthwise_kernel', [kh, kw, inC, mult]).values;
      outC = inC * mult;
      wDims = [outC, 1, kh, kw];
      wValues = new Float32Array(numel(wDims));
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < inC; i++) for (let m = 0; m < mult; m++) {
        wValues[((i * mult + m) * kh + y) * kw + x] = k[((y * kw + x) * inC + i) * mult + m]!;
      }
    } else {
      outC = Number(c.filters);
      const k = weight(l.name, 'kernel', [kh, kw, inC, outC]).values;
      wDims = [outC, inC, kh, kw];
      wValues = new Float32Array(numel(wDims));
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) {
        wValues[((o * inC + i) * kh + y) * kw + x] = k[((y * kw + x) * inC + i) * outC + o]!;
      }
    }
    const ins = [t.value, b.floatInit(`${l.name}_W`, wDims, wValues)];
    if (c.use_bias !== false) ins.push(b.floatInit(`${l.name}_B`, [outC], weight(l.name, 'bias', [outC]).values));
    const shape = [n, outC, outSize(h, kh, sh, dh, pads[0]!, pads[2]!), outSize(w, kw, sw, dw, pads[1]!, pads[3]!)];
    const y = b.node('Conv', ins, [shape], {
      name: l.name,
      attrs: [
        attrInts('dilations', [dh, dw]),
        attrInt('group', depthwise ? inC : 1),
        attrInts('kernel_shape', [kh, kw]),
        attrInts('pads', pads),
        attrInts('strides', [sh, sw]),
      ],
    })[0]!;
    return activation(y, c.activation, l.name);
  };

  const pool = (l: KerasLayer, x: Value, op: 'AveragePool' | 'MaxPool'): Value => {
    const c = l.config;
    const [kh, kw] = pair(c.pool_size ?? null, `layer ${l.name} pool_size`);
    const [sh, sw] = c.strides === null || c.strides === undefined ? [kh, kw] : pair(c.strides, `layer ${l.name} strides`);
    const [, , h, w] = x.shape as [number, number, number, number];
    let pads = [0, 0, 0, 0];
    if (c.padding === 'same') {
      const [a, bb] = samePads(h, kh, sh, 1);
      const [cc, d] = samePads(w, kw, sw, 1);
      pads = [a, cc, bb, d];
    } else if (c.padding !== 'valid') throw new Error(`layer ${l.name}: padding ${String(c.padding)} is not read`);
    const attrs = [attrInts('kernel_shape', [kh, kw]), attrInts('pads', pads), attrInts('strides', [sh, sw])];
    // Keras averages over the pixels inside the image only.
    if (op === 'AveragePool') attrs.push(attrInt('count_include_pad', 0));
    const shape = [x.shape[0]!, x.shape[1]!, outSize(h, kh, sh, 1, pads[0]!, pads[2]!), outSize(w, kw, sw, 1, pads[1]!, pads[3]!)];
    return b.node(op, [x], [shape], { name: l.name, attrs })[0]!;
  };

  for (const l of layers) {
    const c = l.config;
    const ins = l.inputs.map((i) => {
      const t = tensors.get(i);
      if (!t) throw new Error(`layer ${l.name}: its input ${i} comes later or does not exist`);
      return t;
    });
    const one = (): Tensor => {
      if (ins.length !== 1) throw new Error(`layer ${l.name} (${l.className}): ${ins.length} inputs, expected 1`);
      return ins[0]!;
    };
    let out: Tensor;
    switch (l.className) {
      case 'InputLayer': {
        const s = c.batch_input_shape;
        if (!Array.isArray(s) || s.length !== 4 || !s.slice(1).every((d) => typeof d === 'number')) throw new Error(`layer ${l.name}: input shape ${JSON.stringify(s)} is not [batch, H, W, C]`);
        const [h, w, ch] = s.slice(1) as number[];
        out = { value: b.input(l.name, [1, ch!, h!, w!]) };
        break;
      }
      case 'ZeroPadding2D': {
        const t = one();
        const p = c.padding;
        // Keras: n, [h, w] (each on both sides) or [[top, bottom], [left, right]].
        const [h, w] = Array.isArray(p) && Array.isArray(p[0]) ? [p[0], p[1]!] : pair(p ?? null, `layer ${l.name} padding`);
        const [[top, bottom], [left, right]] = [pair(h!, `layer ${l.name} padding`), pair(w!, `layer ${l.name} padding`)];
        const prev = t.pads ?? [0, 0, 0, 0];
        const pending: Tensor = { value: t.value, pads: [prev[0] + top, prev[1] + left, prev[2] + bottom, prev[3] + right] };
        // Folded into the readers' pads only when they all are convolutions.
        const convReaders = layers.filter((r) => r.inputs.includes(l.name)).every((r) => r.className === 'Conv2D' || r.className === 'DepthwiseConv2D');
        out = convReaders ? pending : { value: plain(pending, l.name) };
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D':
        out = { value: conv(l, one(), l.className === 'DepthwiseConv2D') };
        break;
      case 'BatchNormalization': {
        const x = plain(one(), `${l.name}_pad`);
        const ch = x.shape[1]!;
        if (c.axis !== -1 && c.axis !== x.shape.length - 1 && !(Array.isArray(c.axis) && c.axis.length === 1 && (c.axis[0] === -1 || c.axis[0] === x.shape.length - 1))) {
          throw new Error(`layer ${l.name}: axis ${JSON.stringify(c.axis)} is not the channel axis`);
        }
        const param = (p: string, on: boolean, fill: number) => (on ? weight(l.name, p, [ch]).values : new Float32Array(ch).fill(fill));
        const bn = [
          x,
          b.floatInit(`${l.name}_scale`, [ch], param('gamma', c.scale !== false, 1)),
          b.floatInit(`${l.name}_bias`, [ch], param('beta', c.center !== false, 0)),
          b.floatInit(`${l.name}_mean`, [ch], weight(l.name, 'moving_mean', [ch]).values),
          b.floatInit(`${l.name}_var`, [ch], weight(l.name, 'moving_variance', [ch]).values),
        ];
        out = { value: b.node('BatchNormalization', bn, [x.shape], { name: l.name, attrs: [attrFloat('epsilon', Number(c.epsilon ?? 1e-3))] })[0]! };
        break;
      }
      case 'ReLU': {
        const x = plain(one(), `${l.name}_pad`);
        if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) throw new Error(`layer ${l.name}: ReLU with negative_slope or threshold is not read`);
        const max = c.max_value;
        out = { value: max === null || max === undefined ? b.node('Relu', [x], [x.shape], { name: l.name })[0]! : b.node('Clip', [x, b.scalar(0), b.scalar(Number(max))], [x.shape], { name: l.name })[0]! };
        break;
      }
      case 'Activation':
        out = { value: activation(plain(one(), `${l.name}_pad`), c.activation, l.name) };
        break;
      case 'Add': {
        const xs = ins.map((t, i) => plain(t, `${l.name}_pad${i}`));
        let acc = xs[0]!;
        for (let i = 1; i < xs.length; i++) acc = b.node('Add', [acc, xs[i]!], [acc.shape], { name: i === xs.length - 1 ? l.name : `${l.name}_${i}` })[0]!;
        out = { value: acc };
        break;
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D':
        out = { value: pool(l, plain(one(), `${l.name}_pad`), l.className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool') };
        break;
      case 'GlobalAveragePooling2D': {
        const x = plain(one(), `${l.name}_pad`);
        const g = b.node('GlobalAveragePool', [x], [[x.shape[0]!, x.shape[1]!, 1, 1]], { name: `${l.name}_pool` })[0]!;
        out = { value: b.node('Flatten', [g], [[x.shape[0]!, x.shape[1]!]], { name: l.name, attrs: [attrInt('axis', 1)] })[0]! };
        break;
      }
      case 'Flatten': {
        let x = plain(one(), `${l.name}_pad`);
        if (x.shape.length === 4 && x.shape[2]! * x.shape[3]! > 1) {
          const [n, ch, h, w] = x.shape as [number, number, number, number];
          x = b.node('Transpose', [x], [[n, h, w, ch]], { name: `${l.name}_nhwc`, attrs: [attrInts('perm', [0, 2, 3, 1])] })[0]!;
        }
        out = { value: b.node('Flatten', [x], [[x.shape[0]!, numel(x.shape.slice(1))]], { name: l.name, attrs: [attrInt('axis', 1)] })[0]! };
        break;
      }
      case 'Dropout':
        out = one();
        break;
      case 'Dense': {
        const x = plain(one(), `${l.name}_pad`);
        if (x.shape.length !== 2) throw new Error(`layer ${l.name}: Dense on a rank-${x.shape.length} tensor is not read`);
        const [inF, outF] = [x.shape[1]!, Number(c.units)];
        const k = weight(l.name, 'kernel', [inF, outF]).values;
        const wt = new Float32Array(inF * outF);
        for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) wt[o * inF + i] = k[i * outF + o]!;
        const gIns = [x, b.floatInit(`${l.name}_W`, [outF, inF], wt)];
        if (c.use_bias !== false) gIns.push(b.floatInit(`${l.name}_B`, [outF], weight(l.name, 'bias', [outF]).values));
        const y = b.node('Gemm', gIns, [[x.shape[0]!, outF]], { name: l.name, attrs: [attrFloat('alpha', 1), attrFloat('beta', 1), attrInt('transB', 1)] })[0]!;
        out = { value: activation(y, c.activation, l.name) };
        break;
      }
      default:
        throw new Error(`layer ${l.name}: class ${l.className} is not read`);
    }
    tensors.set(l.name, out);
  }
  if (inputs.length !== 1) throw new Error(`${inputs.length} input layers, expected 1`);
  outputs.forEach((o, i) => b.output(plain(tensors.get(o)!, `${o}_pad`), opts.outputNames?.[i]));
  const unused = [...weights.keys()].filter((k) => !used.has(k));
  if (unused.length) throw new Error(`weights no layer reads: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
  const model = b.build({ producerName: 'onnx-manager-tfjs-layers', docString: opts.docString });
  // The batch is free, as in Keras (the nodes above have no shape bound to it).
  for (const v of [...model.graph!.input!, ...model.graph!.output!]) v.type!.tensorType!.shape!.dim![0] = { dimParam: 'N' };
  return model;
}
