/**
 * The picture's graph, derived from the split engine's analysis: one box per data-dependent node
 * plus the model's inputs and outputs, one edge per tensor a box reads (with its shape where
 * known), and one marker per split point on the last node the edge runs. Nodes computed from
 * weights alone (Constant nodes and their chains) are left out: they are copied into every part
 * and never cross a cut.
 */
import { basename } from 'node:path';
import { findDtypeByOnnx } from '../../onnx/dtypes.js';
import type { ModelAnalysis } from '../../split/analysis.js';
import { splitPointEdgeNodes } from '../../split/min-cut.js';
import type { SplitPoint } from '../../split/points.js';

export type Side = 'edge' | 'cloud';

export interface GraphNode {
  /** Unique in the picture: `n<node index>`, `in<input index>`, `out<output index>`. */
  id: string;
  kind: 'input' | 'op' | 'output';
  /** Operator type, or 'input' / 'output'. */
  op: string;
  /** Node name (or the tensor's, for inputs and outputs). */
  name: string;
  /** With a chosen split point: where this node runs. */
  side?: Side;
}

export interface GraphEdge {
  /** Unique in the picture: `e<from>-<to>-<tensor slot>`. */
  id: string;
  from: string;
  to: string;
  tensor: string;
  /** `1x64x56x56` (dtype prefixed when not float32), '' when unknown. */
  shape: string;
  /** True when the chosen split point moves this tensor. */
  cut?: boolean;
}

export interface SplitMarker {
  index: number;
  splitLayer: string;
  /** The box the marker sits on: the last edge node (the first input for cloud only). */
  at: string;
  transferBytes: number;
  cutTensors: string[];
}

export interface ModelGraph {
  name: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  splits: SplitMarker[];
  /** Nodes left out because they compute from weights alone. */
  constantNodes: number;
  /** The split point the sides are coloured for. */
  chosen?: SplitPoint;
}

function shapeText(a: ModelAnalysis, tensor: string): string {
  const info = a.shapes.get(tensor);
  if (!info) return '';
  const dims = info.dims.length ? info.dims.join('x') : 'scalar';
  return info.elemType === 1 ? dims : `${dtypeName(info.elemType)} ${dims}`;
}

function dtypeName(elemType: number): string {
  return findDtypeByOnnx(elemType)?.name ?? `type${elemType}`;
}

/** The split point's marker box: the last edge node in execution order, or the first input. */
function markerNode(a: ModelAnalysis, p: SplitPoint): string {
  const edge = splitPointEdgeNodes(a.index, p);
  if (edge.length === 0) return 'in0';
  const last = edge.reduce((x, y) => (a.index.position[x]! > a.index.position[y]! ? x : y));
  return `n${last}`;
}

export function modelGraph(a: ModelAnalysis, chosen?: SplitPoint): ModelGraph {
  const { index } = a;
  const source = new Map<string, string>();
  const nodes: GraphNode[] = [];
  index.inputs.forEach((name, i) => {
    nodes.push({ id: `in${i}`, kind: 'input', op: 'input', name });
    source.set(name, `in${i}`);
  });
  for (const n of index.dataNodes) {
    const node = index.nodes[n]!;
    nodes.push({ id: `n${n}`, kind: 'op', op: node.opType ?? '?', name: node.name || `#${n}` });
    (node.output ?? []).forEach((o, slot) => o && source.set(o, `n${n}-${slot}`));
  }
  const edges: GraphEdge[] = [];
  const edgeIds = new Set<string>();
  const connect = (tensor: string, to: string) => {
    const from = source.get(tensor);
    if (!from) return; // a weight or a constant
    const id = `e${from}-${to}`;
    if (edgeIds.has(id)) return;
    edgeIds.add(id);
    edges.push({ id, from: from.replace(/-\d+$/, ''), to, tensor, shape: shapeText(a, tensor) });
  };
  for (const n of index.dataNodes) for (const t of index.nodeInputs[n]!) connect(t, `n${n}`);
  index.outputs.forEach((name, i) => {
    if (!source.has(name)) return;
    nodes.push({ id: `out${i}`, kind: 'output', op: 'output', name });
    connect(name, `out${i}`);
  });
  const splits = a.splitPoints.map((p) => ({
    index: p.index,
    splitLayer: p.splitLayer,
    at: markerNode(a, p),
    transferBytes: p.transferBytes,
    cutTensors: p.cutTensors.map((t) => t.name),
  }));
  const graph: ModelGraph = { name: basename(a.model.label), nodes, edges, splits, constantNodes: index.nodes.length - index.dataNodes.length };
  if (chosen) colourSides(a, graph, chosen);
  return graph;
}

/** Marks each box edge or cloud for `chosen`, and the edges whose tensor it moves. */
function colourSides(a: ModelAnalysis, g: ModelGraph, chosen: SplitPoint): void {
  const edgeIds = new Set(splitPointEdgeNodes(a.index, chosen).map((n) => `n${n}`));
  const side = new Map<string, Side>();
  for (const n of g.nodes) {
    n.side = n.kind === 'input' || edgeIds.has(n.id) ? 'edge' : n.kind === 'op' ? 'cloud' : undefined;
    if (n.side) side.set(n.id, n.side);
  }
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  for (const e of g.edges) {
    const to = byId.get(e.to)!;
    if (to.kind === 'output') to.side = side.get(e.from);
    e.cut = side.get(e.from) === 'edge' && side.get(e.to) === 'cloud';
  }
  g.chosen = chosen;
}
