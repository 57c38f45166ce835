/**
 * Benchmark of show_graph (not a test): `node dist/bench/graph-bench.js` (also part of
 * `npm run bench`). Issue 9, section 3: large models (DenseNet-121, 400+ nodes; ViT-B/16) drawn
 * and rendered in under 10 s. Per model, medians of a few runs of each step: reading the model
 * file, the split analysis (what list_layers does), dagre's layout, the SVG and HTML text, and
 * the page opened in the packaged Chromium until it has loaded and been painted (a screenshot).
 * Times are given as well as ratios against reading the model and against the analysis, measured
 * in the same run. DenseNet-121 and ViT-B/16 are built with their real topology at narrow widths
 * (test/report/graph-models.ts): the layout sees the real node and edge counts. Writes
 * results/bench/graph.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { humanBytes } from '../src/cli/format.js';
import { encodeModel } from '../src/onnx/codec.js';
import { loadModel } from '../src/onnx/model.js';
import { graphHtml } from '../src/report/graph/html.js';
import { layoutGraph } from '../src/report/graph/layout.js';
import { modelGraph } from '../src/report/graph/model-graph.js';
import { graphSvg } from '../src/report/graph/svg.js';
import { createSession } from '../src/runtime/ort.js';
import { analyzeModel } from '../src/split/analysis.js';
import { launchBrowser, openFile } from '../test/browser/browser.js';
import { inputShapes } from '../test/helpers.js';
import { realModels } from '../test/models/zoo.js';
import { densenet121Like, vitB16Like } from '../test/report/graph-models.js';
import { machineInfo } from './machine.js';

const RUNS = 3;
const GOAL_S = 10;

interface Subject {
  name: string;
  file: string;
  inputShapes?: Record<string, number[]>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
}

export async function runGraphBench(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onnx-manager-graph-bench-'));
  const browser = await launchBrowser();
  try {
    const subjects: Subject[] = [
      { name: 'densenet121', file: path.join(dir, 'densenet121.onnx') },
      { name: 'vit_b_16', file: path.join(dir, 'vit_b_16.onnx') },
      ...realModels.filter((m) => m.name.startsWith('ppocrv4')).map((m) => ({ name: m.name, file: m.path, inputShapes: inputShapes(m.inputs) })),
    ];
    writeFileSync(subjects[0]!.file, encodeModel(densenet121Like()));
    writeFileSync(subjects[1]!.file, encodeModel(vitB16Like()));
    const rows: Record<string, number | string>[] = [];
    for (const s of subjects) {
      const t: Record<string, number[]> = { read: [], analyse: [], layout: [], svg: [], html: [], browser: [] };
      let counts = { nodes: 0, edges: 0, splits: 0, width: 0, height: 0, htmlBytes: 0 };
      for (let run = 0; run < RUNS; run++) {
        const [model, read] = await time(() => loadModel(s.file));
        const [a, analyse] = await time(() => analyzeModel(model, { createSession, ...(s.inputShapes ? { inputShapes: s.inputShapes } : {}) }));
        const g = modelGraph(a, a.splitPoints[Math.floor(a.splitPoints.length / 2)]);
        const [layout, tLayout] = await time(() => layoutGraph(g, humanBytes));
        const [svg, tSvg] = await time(() => graphSvg(g, layout, humanBytes));
        const [html, tHtml] = await time(() => graphHtml(g, svg, humanBytes));
        const page = path.join(dir, `${s.name}.graph.html`);
        writeFileSync(page, html);
        const [, tBrowser] = await time(async () => {
          const { page: p, watch } = await openFile(browser, page);
          await p.screenshot();
          if (watch.errors.length || watch.requests.length) throw new Error(`${s.name}: ${JSON.stringify(watch)}`);
          await p.close();
        });
        Object.entries({ read, analyse, layout: tLayout, svg: tSvg, html: tHtml, browser: tBrowser }).forEach(([k, v]) => t[k]!.push(v));
        counts = { nodes: g.nodes.length, edges: g.edges.length, splits: g.splits.length, width: layout.width, height: layout.height, htmlBytes: html.length };
      }
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<string, number>;
      const draw = m.layout! + m.svg! + m.html! + m.browser!;
      const total = m.read! + m.analyse! + draw;
      rows.push({
        model: s.name,
        ...counts,
        read_ms: m.read!,
        analyse_ms: m.analyse!,
        layout_ms: m.layout!,
        svg_ms: m.svg!,
        html_ms: m.html!,
        browser_ms: m.browser!,
        total_ms: total,
        draw_over_read: draw / m.read!,
        draw_over_analyse: draw / m.analyse!,
        goal_met: total < GOAL_S * 1000 ? 'yes' : 'no',
      });
    }
    const f = (v: number | string) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0)) : v);
    const keys = Object.keys(rows[0]!);
    console.log(keys.join('\t'));
    for (const r of rows) console.log(keys.map((k) => f(r[k]!)).join('\t'));
    console.log(`\ngoal: read + analyse + layout + SVG + HTML + browser paint under ${GOAL_S} s per model (medians of ${RUNS} runs)`);
    const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'results', 'bench');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'graph.json'), `${JSON.stringify({ machine: machineInfo(), runs: RUNS, goal_s: GOAL_S, rows }, null, 2)}\n`);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runGraphBench();
