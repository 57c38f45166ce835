/**
 * The laid-out graph as one standalone SVG: a box per node (op type, name, split marker with the
 * bytes it would move), an arrow per edge with the tensor's shape, and with a chosen split point
 * the boxes coloured edge or cloud and the cut edges drawn red. Every box and edge carries its
 * id and data attributes (data-name, data-op, data-side, data-split, data-bytes) for the page's
 * search and for tests.
 */
import { TEXT, textWidth, type GraphLayout, type PlacedEdge, type PlacedNode, type Point } from './layout.js';
import type { ModelGraph } from './model-graph.js';
import { pointWords } from '../../split/node-cut.js';

export const COLOURS = {
  op: '#f3f4f6',
  input: '#e0f2fe',
  output: '#dcfce7',
  edge: '#bfdbfe',
  cloud: '#fde68a',
  stroke: '#4b5563',
  line: '#6b7280',
  cut: '#dc2626',
  marker: '#7c3aed',
  text: '#111827',
} as const;

export function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const r = (n: number) => Math.round(n * 10) / 10;

function fill(n: PlacedNode): string {
  if (n.side) return COLOURS[n.side];
  return n.kind === 'op' ? COLOURS.op : COLOURS[n.kind];
}

function nodeSvg(n: PlacedNode): string {
  const x0 = n.x - n.width / 2;
  const y0 = n.y - n.height / 2;
  const attrs = [`id="${n.id}"`, `class="node ${n.kind}"`, `data-name="${xml(n.name)}"`, `data-op="${xml(n.op)}"`];
  if (n.side) attrs.push(`data-side="${n.side}"`);
  if (n.marker) attrs.push(`data-split="${n.marker.index}"`, `data-bytes="${n.marker.transferBytes}"`, `data-split-layer="${xml(n.marker.splitLayer)}"`);
  const parts = [`<g ${attrs.join(' ')}>`, `<title>${xml(`${n.op} ${n.name}`)}</title>`];
  parts.push(`<rect x="${r(x0)}" y="${r(y0)}" width="${n.width}" height="${n.height}" rx="4" fill="${fill(n)}" stroke="${COLOURS.stroke}"/>`);
  const baseline = r(n.y + 4);
  let x = x0 + TEXT.padX;
  parts.push(`<text x="${r(x)}" y="${baseline}" font-size="${TEXT.opSize}" font-weight="bold">${xml(n.opText)}</text>`);
  x += textWidth(n.opText, TEXT.opSize) + TEXT.gap;
  if (n.nameText) parts.push(`<text x="${r(x)}" y="${baseline}" font-size="${TEXT.nameSize}">${xml(n.nameText)}</text>`);
  if (n.markerText) {
    const bx = x0 + n.width - n.bandWidth;
    parts.push(`<rect class="split-band" x="${r(bx)}" y="${r(y0 + 1)}" width="${n.bandWidth - 1}" height="${n.height - 2}" rx="3" fill="#ede9fe"/>`);
    parts.push(`<text class="split" x="${r(bx + TEXT.padX)}" y="${baseline}" font-size="${TEXT.nameSize}" fill="${COLOURS.marker}">${xml(n.markerText)}</text>`);
  }
  parts.push('</g>');
  return parts.join('');
}

/** A smooth path through dagre's points: straight ends, quadratic bends through the midpoints. */
function pathOf(points: Point[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  let d = `M${r(first.x)},${r(first.y)}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i]!;
    const q = rest[i + 1]!;
    d += ` Q${r(p.x)},${r(p.y)} ${r((p.x + q.x) / 2)},${r((p.y + q.y) / 2)}`;
  }
  const last = rest.at(-1);
  if (last) d += ` L${r(last.x)},${r(last.y)}`;
  return d;
}

function edgeSvg(e: PlacedEdge): string {
  const colour = e.cut ? COLOURS.cut : COLOURS.line;
  const parts = [
    `<g id="${e.id}" class="edge${e.cut ? ' cut' : ''}" data-from="${e.from}" data-to="${e.to}" data-tensor="${xml(e.tensor)}">`,
    `<title>${xml(e.shape ? `${e.tensor}: ${e.shape}` : e.tensor)}</title>`,
    `<path d="${pathOf(e.points)}" fill="none" stroke="${colour}" stroke-width="${e.cut ? 2.5 : 1.2}" marker-end="url(#${e.cut ? 'arrow-cut' : 'arrow'})"/>`,
  ];
  if (e.label) {
    const w = e.label.width;
    parts.push(`<rect x="${r(e.label.x - w / 2)}" y="${r(e.label.y - 6.5)}" width="${r(w)}" height="13" fill="#ffffff" fill-opacity="0.85"/>`);
    parts.push(`<text x="${r(e.label.x)}" y="${r(e.label.y + 3)}" text-anchor="middle" font-size="${TEXT.edgeSize}"${e.cut ? ' font-weight="bold"' : ''} fill="${e.cut ? COLOURS.cut : '#374151'}">${xml(e.shape)}</text>`);
  }
  parts.push('</g>');
  return parts.join('');
}

function arrow(id: string, colour: string): string {
  return `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${colour}"/></marker>`;
}

/** The legend line at the top: model, counts, and with a chosen split point what the colours mean. */
function caption(g: ModelGraph, bytes: (n: number) => string): string {
  const text = [`${g.name}: ${g.nodes.length} boxes, ${g.edges.length} edges, ${g.splits.length} split points`];
  if (g.constantNodes) text.push(`${g.constantNodes} constant nodes not drawn`);
  if (g.chosen) text.push(`coloured for ${pointWords(g.chosen)}: edge blue, cloud yellow, ${bytes(g.chosen.transferBytes)} across the red edges`);
  return text.join('; ');
}

export const CAPTION_HEIGHT = 24;

export function graphSvg(g: ModelGraph, layout: GraphLayout, bytes: (n: number) => string): string {
  const title = caption(g, bytes);
  const width = Math.max(layout.width, Math.ceil(title.length * TEXT.advance * 11) + 32);
  const height = layout.height + CAPTION_HEIGHT;
  const shift = Math.round((width - layout.width) / 2);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${TEXT.font}">`,
    `<defs>${arrow('arrow', COLOURS.line)}${arrow('arrow-cut', COLOURS.cut)}</defs>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="17" font-size="11" fill="${COLOURS.text}" class="caption">${xml(title)}</text>`,
    `<g class="graph" transform="translate(${shift},${CAPTION_HEIGHT})" fill="${COLOURS.text}">`,
    `<g class="edges">${layout.edges.map(edgeSvg).join('\n')}</g>`,
    `<g class="nodes">${layout.nodes.map(nodeSvg).join('\n')}</g>`,
    '</g>',
    '</svg>',
  ].join('\n');
}
