/**
 * Moving a model from opset 9 or 10 to opset 11, the first with DynamicQuantizeLinear.
 * Between 9 and 11 only a few operators changed their signature: Clip and Pad took their
 * parameters as attributes (inputs from 11), Slice its starts/ends/axes (inputs from 10). Those
 * nodes are rewritten with the same values as constant inputs; Upsample (gone in 10), Resize
 * and TopK (changed twice) are refused; every other operator means the same in opset 11.
 */
import { UsageError } from '../errors.js';
import { toNumber, type AttributeProto, type NodeProto, type TensorProto } from '../onnx/types.js';

export const TARGET_OPSET = 11;
const LOWEST_UPGRADABLE = 9;
const REFUSED = new Set(['Upsample', 'Resize', 'TopK', 'Scatter']);

export interface Upgraded {
  node: NodeProto;
  initializers: TensorProto[];
}

const float32Scalar = (name: string, v: number): TensorProto => ({ name, dataType: 1, dims: [], rawData: new Uint8Array(new Float32Array([v]).buffer) });
const int64Vector = (name: string, v: readonly number[]): TensorProto => ({
  name,
  dataType: 7,
  dims: [v.length],
  rawData: new Uint8Array(BigInt64Array.from(v.map((x) => BigInt(x))).buffer),
});

function attr(n: NodeProto, name: string): AttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}
function without(n: NodeProto, names: readonly string[]): AttributeProto[] {
  return (n.attribute ?? []).filter((a) => !names.includes(a.name ?? ''));
}

/** Refuses models the upgrade cannot carry (too old, or with an operator that changed meaning). */
export function checkUpgradable(opset: number, nodes: readonly NodeProto[], label: string): void {
  if (opset < LOWEST_UPGRADABLE) {
    throw new UsageError(`${label} uses opset ${opset}; quant_model needs opset ${LOWEST_UPGRADABLE} or later (it moves opset 9 and 10 models to ${TARGET_OPSET})`);
  }
  const bad = [...new Set(nodes.filter((n) => !n.domain && REFUSED.has(n.opType ?? '')).map((n) => n.opType))];
  if (bad.length > 0) {
    throw new UsageError(`${label} uses opset ${opset} with ${bad.join(', ')}, which changed meaning before opset ${TARGET_OPSET}; export it at opset ${TARGET_OPSET} or later to quantise it`);
  }
}

/**
 * The opset-11 form of a default-domain node of opset `opset`, or undefined when it is the same.
 * `fresh` names new constant tensors.
 */
export function upgradeNode(n: NodeProto, opset: number, fresh: (base: string) => string): Upgraded | undefined {
  if (n.domain) return undefined;
  const base = n.name || n.output?.[0] || n.opType || 'node';
  const inputs = [...(n.input ?? [])];
  if (n.opType === 'Clip' && opset < 11) {
    const lo = attr(n, 'min')?.f ?? -3.4028234663852886e38;
    const hi = attr(n, 'max')?.f ?? 3.4028234663852886e38;
    const tMin = float32Scalar(fresh(`${base}_min`), lo);
    const tMax = float32Scalar(fresh(`${base}_max`), hi);
    return { node: { ...n, input: [inputs[0]!, tMin.name!, tMax.name!], attribute: without(n, ['min', 'max']) }, initializers: [tMin, tMax] };
  }
  if (n.opType === 'Pad' && opset < 11) {
    const pads = int64Vector(fresh(`${base}_pads`), (attr(n, 'pads')?.ints ?? []).map(toNumber));
    const value = float32Scalar(fresh(`${base}_value`), attr(n, 'value')?.f ?? 0);
    return { node: { ...n, input: [inputs[0]!, pads.name!, value.name!], attribute: without(n, ['pads', 'value']) }, initializers: [pads, value] };
  }
  if (n.opType === 'Slice' && opset < 10) {
    const ints = (name: string) => (attr(n, name)?.ints ?? []).map(toNumber);
    const starts = int64Vector(fresh(`${base}_starts`), ints('starts'));
    const ends = int64Vector(fresh(`${base}_ends`), ints('ends'));
    const made = [starts, ends];
    const axesGiven = attr(n, 'axes') !== undefined;
    if (axesGiven) made.push(int64Vector(fresh(`${base}_axes`), ints('axes')));
    return { node: { ...n, input: [inputs[0]!, ...made.map((t) => t.name!)], attribute: without(n, ['starts', 'ends', 'axes']) }, initializers: made };
  }
  return undefined;
}
