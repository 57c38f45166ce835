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
  /** What the box says: the op type (bold), the name (clipped), and the split marker's text on a band at the right. */
  opText: string;
  nameText: string;
  markerText?: string;
  /** Width of the band holding the marker (0 without one). */
  bandWidth: number;
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
  height: 24,
  gap: 6,
  padX: 8,
} as const;

/** Gap between an edge and its shape label. */
export const LABEL_OFFSET = 5;

/** Longest name shown in a box; the full name is in the box's tooltip. */
export const MAX_NAME = 34;

export function clip(s: string, max = MAX_NAME): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function markerText(m: SplitMarker, bytes: (n: number) => string): string {
  return `✂ ${m.index} · ${bytes(m.transferBytes)}`;
}

export function textWidth(s: string, size: number): number {
  return Math.ceil(s.length * TEXT.advance * size);
}

export function layoutGraph(g: ModelGraph, bytes: (n: number) => string): GraphLayout {
  const markers = new Map(g.splits.map((m) => [m.at, m]));
  const dg = new dagre.graphlib.Graph({ multigraph: true });
  dg.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 20, edgesep: 12, marginx: 16, marginy: 16 });
  dg.setDefaultEdgeLabel(() => ({}));
  const placed = new Map<string, PlacedNode>();
  for (const n of g.nodes) {
    const marker = markers.get(n.id);
    const opText = n.op;
    const nameText = n.kind === 'op' || n.name !== n.op ? clip(n.name) : '';
    const text = marker ? markerText(marker, bytes) : undefined;
    const bandWidth = text ? textWidth(text, TEXT.nameSize) + 2 * TEXT.padX : 0;
    const width = TEXT.padX + textWidth(opText, TEXT.opSize) + (nameText ? TEXT.gap + textWidth(nameText, TEXT.nameSize) : 0) + TEXT.padX + bandWidth;
    const height = TEXT.height;
    const p: PlacedNode = { ...n, x: 0, y: 0, width, height, opText, nameText, bandWidth, ...(text && marker ? { markerText: text, marker } : {}) };
    placed.set(n.id, p);
    dg.setNode(n.id, { width, height });
  }
  for (const e of g.edges) {
    const labelled = e.shape !== '';
    // The shape beside its arrow (on the right), not over it.
    dg.setEdge(e.from, e.to, labelled ? { width: textWidth(e.shape, TEXT.edgeSize) + 4, height: TEXT.edgeSize + 4, labelpos: 'r', labeloffset: LABEL_OFFSET } : {}, e.id);
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
