/**
 * Split points. A cut at position k puts the first k data-dependent nodes (in execution order) on
 * the edge and the rest in the cloud; its cut set is every tensor available on the edge (a model
 * input or an edge node's output) that a cloud node reads. Positions with the same cut set are one
 * split point. Position 0 is cloud only (the inputs cross), position m edge only (nothing crosses).
 */
import { closestNames } from '../closest-names.js';
import { SplitError, UnknownSplitError } from '../errors.js';
import { dtypeFromOnnx } from '../onnx/dtypes.js';
import type { GraphIndex } from '../onnx/graph.js';
import type { ShapeSource, TensorInfo } from '../onnx/shapes.js';
import type { NodeCosts } from './costs.js';

export interface CutTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  /** Where the shape came from: the model's value_info (or its inputs/outputs), or a run of the model. */
  shape_source: ShapeSource;
}

export interface SideCost {
  /** Data-dependent nodes on this side. */
  nodes: number;
  /** Weight elements this side's nodes read. */
  params: number;
  macs: number;
}

export interface SplitPoint {
  index: number;
  /** Number of data-dependent nodes on the edge side. */
  position: number;
  /** Output tensor of the last edge node (the model input for the cloud-only split). */
  splitLayer: string;
  /** Operator of the last edge node ('' for the cloud-only split). */
  opType: string;
  cutTensors: CutTensor[];
  /** Raw bytes of the cut tensors (list_layers' and run_all's tensor_bytes; their transfer_bytes is the payload on the wire). */
  transferBytes: number;
  edge: SideCost;
  cloud: SideCost;
  /**
   * For a cut that is no prefix of the execution order (see node-cut.ts): the data-dependent
   * nodes on the edge, in execution order. `position` is then their count.
   */
  edgeNodes?: number[];
}

/** For each data tensor, the range of positions at which it crosses the cut. */
interface Liveness {
  name: string;
  /** First position at which the edge has it. */
  from: number;
  /** Last position at which the cloud still reads it. */
  to: number;
  /** Order of appearance (inputs first, then by producer), to list cut tensors stably. */
  order: number;
}

function liveness(index: GraphIndex): Liveness[] {
  const dataPos = new Map<number, number>();
  index.dataNodes.forEach((n, j) => dataPos.set(n, j));
  const lastRead = (t: string): number => {
    let last = -1;
    for (const c of index.consumers.get(t) ?? []) {
      const j = dataPos.get(c);
      if (j !== undefined && j > last) last = j;
    }
    return last;
  };
  const out: Liveness[] = [];
  let order = 0;
  for (const name of index.inputs) {
    const to = lastRead(name);
    if (to >= 0) out.push({ name, from: 0, to, order: order++ });
  }
  index.dataNodes.forEach((n, j) => {
    for (const o of index.nodes[n]!.output ?? []) {
      if (!o) continue;
      const to = lastRead(o);
      if (to > j) out.push({ name: o, from: j + 1, to, order: order++ });
    }
  });
  return out;
}

export function cutTensor(name: string, shapes: ReadonlyMap<string, TensorInfo>, label: string): CutTensor {
  const info = shapes.get(name);
  if (!info) throw new SplitError(`${label}: no shape known for tensor '${name}'`);
  return { name, dtype: dtypeFromOnnx(info.elemType).name, shape: info.dims, bytes: info.bytes, shape_source: info.source };
}

/** Cut set at every position 0..m, as tensor names in stable order. */
export function cutSets(index: GraphIndex): string[][] {
  const m = index.dataNodes.length;
  const sets: string[][] = Array.from({ length: m + 1 }, () => []);
  for (const l of liveness(index)) for (let k = l.from; k <= l.to; k++) sets[k]!.push(l.name);
  return sets;
}

export function findSplitPoints(index: GraphIndex, shapes: ReadonlyMap<string, TensorInfo>, costs: NodeCosts, label: string): SplitPoint[] {
  const m = index.dataNodes.length;
  const sets = cutSets(index);

  // Cumulative costs from the front (edge) and from the back (cloud).
  const edgeParams = new Float64Array(m + 1);
  const edgeMacs = new Float64Array(m + 1);
  const seen = new Set<string>();
  let params = 0;
  for (let k = 1; k <= m; k++) {
    const n = index.dataNodes[k - 1]!;
    for (const w of costs.weights[n]!) if (!seen.has(w)) (seen.add(w), (params += costs.weightElements.get(w) ?? 0));
    edgeParams[k] = params;
    edgeMacs[k] = edgeMacs[k - 1]! + costs.macs[n]!;
  }
  const cloudParams = new Float64Array(m + 1);
  const cloudMacs = new Float64Array(m + 1);
  seen.clear();
  params = 0;
  for (let k = m - 1; k >= 0; k--) {
    const n = index.dataNodes[k]!;
    for (const w of costs.weights[n]!) if (!seen.has(w)) (seen.add(w), (params += costs.weightElements.get(w) ?? 0));
    cloudParams[k] = params;
    cloudMacs[k] = cloudMacs[k + 1]! + costs.macs[n]!;
  }

  const points: SplitPoint[] = [];
  const byKey = new Set<string>();
  for (let k = 0; k <= m; k++) {
    const names = sets[k]!;
    const key = names.join('\u0000');
    // The edge-only split (k = m) is always its own point, even when nothing crosses elsewhere too.
    if (byKey.has(key) && k !== m) continue;
    byKey.add(key);
    const last = k > 0 ? index.nodes[index.dataNodes[k - 1]!]! : undefined;
    const cut = names.map((n) => cutTensor(n, shapes, label));
    points.push({
      index: points.length,
      position: k,
      splitLayer: last ? (last.output ?? []).find((o) => o) ?? last.name ?? '' : index.inputs.join(';'),
      opType: last?.opType ?? '',
      cutTensors: cut,
      transferBytes: cut.reduce((s, t) => s + t.bytes, 0),
      edge: { nodes: k, params: edgeParams[k]!, macs: edgeMacs[k]! },
      cloud: { nodes: m - k, params: cloudParams[k]!, macs: cloudMacs[k]! },
    });
  }
  return points;
}

/**
 * The cut position for a layer name: a node output tensor or node name cuts right after that node;
 * a model input cuts before everything (cloud only).
 */
export function positionOf(index: GraphIndex, layer: string, label: string): number {
  if (index.inputs.includes(layer)) return 0;
  let node = index.producer.get(layer);
  if (node === undefined) {
    const byName = index.nodes.findIndex((n) => n.name === layer);
    if (byName >= 0) node = byName;
  }
  if (node === undefined) {
    const isWeight = index.initializers.has(layer) || index.sparseInitializers.has(layer);
    if (isWeight) throw new UnknownSplitError(`${label}: '${layer}' is a weight (initializer), not a layer output; constants are copied into every part, never cut`);
    const names = [...index.inputs, ...index.dataNodes.flatMap((n) => (index.nodes[n]!.output ?? []).filter((o) => o))];
    throw new UnknownSplitError(`${label}: no layer named '${layer}'; closest: ${closestNames(layer, names).join(', ')}`);
  }
  if (index.constantNode[node]) {
    throw new UnknownSplitError(`${label}: '${layer}' is computed from weights only (a constant); constants are copied into every part, never cut`);
  }
  return index.dataNodes.indexOf(node) + 1;
}

/**
 * The cut position for a --split_layer value: a plain number is a split point's `list_layers`
 * index (always, even in a model with a tensor of that name), anything else a layer name as
 * positionOf takes it.
 */
export function positionOfSplit(points: readonly SplitPoint[], index: GraphIndex, layer: string, label: string): number {
  if (!/^\d+$/.test(layer)) return positionOf(index, layer, label);
  const i = Number(layer);
  const point = points[i];
  if (!point) throw new UnknownSplitError(`${label}: split point ${layer} is out of range; ${label} has split points 0..${points.length - 1} (see list_layers)`);
  return point.position;
}

/**
 * The layer a --split_layer value names, as list_layers names it: a split point's index is named
 * by its split layer, a layer name stays as given.
 */
export function splitLayerNamed(points: readonly SplitPoint[], layer: string): string {
  return /^\d+$/.test(layer) ? (points[Number(layer)]?.splitLayer ?? layer) : layer;
}

/**
 * The cut positions of several --split_layers values (indexes or layer names, as positionOfSplit
 * takes them), refused unless they are distinct and in execution order; each named in the error by
 * its layer and split point, however it was given.
 */
export function orderedSplitPositions(points: readonly SplitPoint[], index: GraphIndex, layers: readonly string[], label: string): number[] {
  const positions = layers.map((l) => positionOfSplit(points, index, l, label));
  const named = (i: number) => `'${splitLayerNamed(points, layers[i]!)}' (split ${pointAtPosition(points, index, positions[i]!).index})`;
  for (let i = 1; i < positions.length; i++) {
    if (positions[i]! <= positions[i - 1]!) throw new SplitError(`${label}: split layers must be distinct and in execution order: ${named(i)} does not come after ${named(i - 1)}`);
  }
  return positions;
}

/**
 * The split point a --split_layer or --splits value names (a list_layers index or a layer name, as
 * positionOfSplit takes it), with the cut position of that layer.
 */
export function splitPointOf(points: readonly SplitPoint[], index: GraphIndex, layer: string, label: string): SplitPoint {
  const position = positionOfSplit(points, index, layer, label);
  return { ...pointAtPosition(points, index, position), position };
}

/** The split point whose cut set equals the cut at `position`. */
export function pointAtPosition(points: readonly SplitPoint[], index: GraphIndex, position: number): SplitPoint {
  const m = index.dataNodes.length;
  if (position === m) return points[points.length - 1]!;
  const key = cutSets(index)[position]!.join('\u0000');
  const found = points.find((p) => p.position !== m && p.cutTensors.map((t) => t.name).join('\u0000') === key);
  return found ?? points[points.length - 1]!;
}

export { closestNames } from '../closest-names.js';
