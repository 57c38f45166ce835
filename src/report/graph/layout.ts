/**
 * Places the picture's boxes and routes its edges with dagre (layered layout, top to bottom).
 * Text is monospaced, so every box is sized from its characters and no label spills over.
 */
import dagre from '@dagrejs/dagre';
import type { GraphEdge, GraphNode, ModelGraph, SplitMarker } from './model-graph.js';

export interface Point {
  x: number;
  y: number;
}

export interface PlacedNode extends GraphNode {
  /** Centre of the box. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** The text lines drawn in the box, top to bottom. */
  lines: string[];
  marker?: SplitMarker;
}

export interface PlacedEdge extends GraphEdge {
  points: Point[];
  /** Where the shape label goes (centre), when there is one. */
  label?: Point & { width: number };
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

export const TEXT = {
  font: "'DejaVu Sans Mono', Menlo, Consolas, monospace",
  /** Advance of one character, in ems, for the monospaced fonts above. */
  advance: 0.61,
  opSize: 12,
  nameSize: 10,
  edgeSize: 9,
  line: 14,
  padX: 8,
  padY: 6,
} as const;

/** Longest name shown in a box; the full name is in the box's tooltip. */
export const MAX_NAME = 34;

export function clip(s: string, max = MAX_NAME): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function markerText(m: SplitMarker, bytes: (n: number) => string): string {
  return `split ${m.index} · ${bytes(m.transferBytes)}`;
}

function textWidth(s: string, size: number): number {
  return Math.ceil(s.length * TEXT.advance * size);
}

export function layoutGraph(g: ModelGraph, bytes: (n: number) => string): GraphLayout {
  const markers = new Map(g.splits.map((m) => [m.at, m]));
  const dg = new dagre.graphlib.Graph({ multigraph: true });
  dg.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 28, edgesep: 12, marginx: 16, marginy: 16 });
  dg.setDefaultEdgeLabel(() => ({}));
  const placed = new Map<string, PlacedNode>();
  for (const n of g.nodes) {
    const marker = markers.get(n.id);
    const lines = [n.op, clip(n.name), ...(marker ? [markerText(marker, bytes)] : [])];
    const width = Math.max(textWidth(lines[0]!, TEXT.opSize), ...lines.slice(1).map((l) => textWidth(l, TEXT.nameSize))) + 2 * TEXT.padX;
    const height = lines.length * TEXT.line + 2 * TEXT.padY;
    const p: PlacedNode = { ...n, x: 0, y: 0, width, height, lines, ...(marker ? { marker } : {}) };
    placed.set(n.id, p);
    dg.setNode(n.id, { width, height });
  }
  for (const e of g.edges) {
    const labelled = e.shape !== '';
    dg.setEdge(e.from, e.to, labelled ? { width: textWidth(e.shape, TEXT.edgeSize) + 4, height: TEXT.edgeSize + 4, labelpos: 'c' } : {}, e.id);
  }
  dagre.layout(dg);
  for (const p of placed.values()) {
    const d = dg.node(p.id);
    p.x = d.x;
    p.y = d.y;
  }
  const edges = g.edges.map((e): PlacedEdge => {
    const d = dg.edge(e.from, e.to, e.id) as { points: Point[]; x?: number; y?: number; width?: number };
    const out: PlacedEdge = { ...e, points: d.points.map((p) => ({ x: p.x, y: p.y })) };
    if (e.shape && d.x !== undefined && d.y !== undefined) out.label = { x: d.x, y: d.y, width: d.width ?? 0 };
    return out;
  });
  const size = dg.graph();
  return { width: Math.ceil(size.width ?? 0), height: Math.ceil(size.height ?? 0), nodes: [...placed.values()], edges };
}
