/**
 * The graph page: the SVG inline with pan and zoom (svg-pan-zoom, inlined from its npm package),
 * a search over node names and op types, and the split points as a list to jump to. Everything
 * is in the file and a Content-Security-Policy forbids any request.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { COLOURS, xml } from './svg.js';
import type { ModelGraph } from './model-graph.js';
import { pointWords } from '../../split/node-cut.js';

const require = createRequire(import.meta.url);

let panZoomSource: Promise<string> | undefined;

/** svg-pan-zoom's minified build, read once. */
function panZoomScript(): Promise<string> {
  panZoomSource ??= readFile(require.resolve('svg-pan-zoom/dist/svg-pan-zoom.min.js'), 'utf8');
  return panZoomSource;
}

const STYLE = `
html, body { margin: 0; height: 100%; font: 13px system-ui, sans-serif; color: #111827; }
body { display: flex; flex-direction: column; }
header { display: flex; gap: 8px; align-items: center; padding: 6px 10px; border-bottom: 1px solid #d1d5db; background: #f9fafb; flex-wrap: wrap; }
header h1 { font-size: 14px; margin: 0 8px 0 0; }
header input { width: 18em; padding: 2px 6px; }
.key { display: inline-flex; gap: 6px; align-items: center; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid ${COLOURS.stroke}; border-radius: 3px; vertical-align: middle; }
.swatch.crossing { width: 18px; height: 0; border: 0; border-top: 3px solid ${COLOURS.cut}; border-radius: 0; }
main { flex: 1; display: flex; min-height: 0; }
#graph { flex: 1; min-width: 0; }
#graph > svg { width: 100%; height: 100%; display: block; }
aside { width: 19em; overflow: auto; border-left: 1px solid #d1d5db; padding: 4px 8px; }
aside ol { padding-left: 0; list-style: none; margin: 0; }
aside li { cursor: pointer; padding: 1px 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
aside li:hover { background: #ede9fe; }
.node.hit > rect:first-of-type { stroke: #db2777; stroke-width: 3; }
.node.current > rect:first-of-type { stroke: #db2777; stroke-width: 5; }
`;

// Started once the page has its final size (fonts and layout done): svg-pan-zoom measures it.
const SCRIPT = `
window.addEventListener('load', function () {
  var svg = document.querySelector('#graph > svg');
  var panZoom = svgPanZoom(svg, { zoomEnabled: true, panEnabled: true, controlIconsEnabled: false, fit: true, center: true, minZoom: 0.01, maxZoom: 400, zoomScaleSensitivity: 0.25, dblClickZoomEnabled: true });
  var fitZoom = panZoom.getSizes().realZoom;
  var shift = svg.querySelector('.graph').transform.baseVal.consolidate().matrix;
  /** Centre of a box in the SVG's own units (svg-pan-zoom redraws on the next frame, so no screen boxes). */
  function centreOf(el) {
    var b = el.getBBox();
    return { x: b.x + b.width / 2 + shift.e, y: b.y + b.height / 2 + shift.f, height: b.height };
  }
  /** At least 0.8 SVG units a pixel (exactly one with zoomToOne), el in the middle (or at the top, with top set). */
  function goTo(el, top, zoomToOne) {
    function place() {
      var s = panZoom.getSizes();
      var c = centreOf(el);
      panZoom.pan({ x: s.width / 2 - s.realZoom * c.x, y: top ? 12 - s.realZoom * (c.y - c.height / 2) : s.height / 2 - s.realZoom * c.y });
    }
    // svg-pan-zoom applies a zoom on the next frame: pan once it has.
    if (zoomToOne || panZoom.getSizes().realZoom < 0.8) { panZoom.zoom(1 / fitZoom); requestAnimationFrame(place); } else place();
  }
  /** Readable: one SVG unit a pixel, the first input at the top in the middle. */
  function readable() {
    goTo(document.getElementById('in0'), true, true);
  }
  function centreOn(el) {
    goTo(el, false);
  }
  var nodes = Array.prototype.slice.call(svg.querySelectorAll('.node'));
  var hits = [];
  var at = -1;
  var count = document.getElementById('count');
  function select(i) {
    if (at >= 0 && hits[at]) hits[at].classList.remove('current');
    at = i;
    if (hits[at]) { hits[at].classList.add('current'); centreOn(hits[at]); }
  }
  function search(q) {
    q = q.trim().toLowerCase();
    hits.forEach(function (n) { n.classList.remove('hit', 'current'); });
    hits = q ? nodes.filter(function (n) { return (n.dataset.name || '').toLowerCase().indexOf(q) >= 0 || (n.dataset.op || '').toLowerCase() === q; }) : [];
    hits.forEach(function (n) { n.classList.add('hit'); });
    count.textContent = q ? hits.length + ' found' : '';
    at = -1;
    if (hits.length) select(0);
    return hits.length;
  }
  var box = document.getElementById('search');
  box.addEventListener('input', function () { search(box.value); });
  box.addEventListener('keydown', function (e) { if (e.key === 'Enter' && hits.length) select((at + 1) % hits.length); });
  document.getElementById('fit').addEventListener('click', function () { panZoom.fit(); panZoom.center(); });
  document.getElementById('readable').addEventListener('click', readable);
  Array.prototype.forEach.call(document.querySelectorAll('aside li'), function (li) {
    li.addEventListener('click', function () { var el = document.getElementById(li.dataset.node); if (el) centreOn(el); });
  });
  window.addEventListener('resize', function () { panZoom.resize(); });
  readable();
  window.graphView = { panZoom: panZoom, search: search, readable: readable };
});
`;

/** What the colours mean, for the page's header: edge, cloud, the edges that cross (with a chosen split point). */
function keyHtml(g: ModelGraph, bytes: (n: number) => string): string {
  const swatch = (cls: string, colour?: string) => `<span class="swatch ${cls}"${colour ? ` style="background: ${colour}"` : ''}></span>`;
  const marker = `<span style="color: ${COLOURS.marker}">✂ n · bytes</span>: split point, bytes it moves`;
  if (!g.chosen) return `<span class="key" id="key">${marker}</span>`;
  const c = g.chosen;
  return [
    `<span class="key" id="key">${xml(pointWords(c))}:`,
    `${swatch('edge', COLOURS.edge)} edge`,
    `${swatch('cloud', COLOURS.cloud)} cloud`,
    `${swatch('crossing')} crossing (${xml(bytes(c.transferBytes))})`,
    `· ${marker}</span>`,
  ].join(' ');
}

function splitList(g: ModelGraph, bytes: (n: number) => string): string {
  const items = g.splits.map(
    (m) => `<li data-node="${m.at}" title="${xml(m.cutTensors.join(', ') || 'nothing crosses')}">${m.index}: ${xml(m.splitLayer)} · ${bytes(m.transferBytes)}</li>`,
  );
  return `<aside><strong>Split points</strong> (click to go there)<ol>${items.join('')}</ol></aside>`;
}

export async function graphHtml(g: ModelGraph, svg: string, bytes: (n: number) => string): Promise<string> {
  const pageSvg = svg.replace(/^<svg ([^>]*?)width="\d+" height="\d+"/, '<svg $1');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${xml(g.name)}: graph</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<header><h1>${xml(g.name)}</h1>${keyHtml(g, bytes)}<input id="search" type="search" placeholder="find a node by name or op type" aria-label="search"><span id="count"></span>`,
    '<button id="readable" type="button">readable size</button><button id="fit" type="button">whole graph</button>',
    '<span>wheel: zoom · drag: pan</span></header>',
    `<main><div id="graph">${pageSvg}</div>${splitList(g, bytes)}</main>`,
    `<script>${await panZoomScript()}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body></html>',
  ].join('\n');
}
