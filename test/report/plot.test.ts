/**
 * plot_results on real run_all, predict and recommend results of a zoo model made here by the
 * tools: the bars are the medians of the CSV's ok rows, the whiskers its p5 and p95, the best
 * split is marked, there is one chart per setting, predicted totals are drawn, the crossover
 * chart follows recommend's table, and the PNGs decode at the stated size and are not blank.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decadeBandwidths } from '../../src/predict/link.js';
import { barValues, cpuChartSpec, cpuValues, crossoverChartSpec, sparseTicks, splitChartSpec, xLayout } from '../../src/report/charts.js';
import { COLUMNS } from '../../src/profile/columns.js';
import { readRecommendation, type RecommendFile } from '../../src/report/recommendation.js';
import { PNG_SCALE, renderSvg, svgSize, svgToPng } from '../../src/report/render.js';
import { readResults } from '../../src/report/results.js';
import { textWidth } from '../../src/report/text-width.js';
import { distinctColours } from '../browser/browser.js';
import { cli, expectOneLineFailures } from '../cli-helper.js';
import { tempDirs } from '../helpers.js';
import { csvRows, lenet5, runAll, SPLITS, textbookMedian } from './fixture.js';

const temp = tempDirs();

/** The aria-label values vega writes on each mark of an SVG, e.g. `part: edge`. */
function markLabels(svg: string): string[] {
  return [...svg.matchAll(/aria-label="([^"]*)"/g)].map((m) => m[1]!);
}

/** Each legend entry's symbol by its label: the path, its dash and stroke width. */
function legendSymbols(svg: string): Map<string, { d: string; dash?: string; width?: string }> {
  const out = new Map<string, { d: string; dash?: string; width?: string }>();
  for (const m of svg.matchAll(/role-legend-symbol"[^>]*><path ([^>]*)\/><\/g><g class="mark-text role-legend-label"[^>]*><text[^>]*>([^<]*)<\/text>/g)) {
    const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(' ' + m[1]!)?.[1];
    out.set(m[2]!, { d: attr('d')!, ...(attr('stroke-dasharray') ? { dash: attr('stroke-dasharray')! } : {}), ...(attr('stroke-width') ? { width: attr('stroke-width')! } : {}) });
  }
  return out;
}

/** The points of the first line mark of an SVG (the crossover chart's step line). */
function points(svg: string): (readonly [number, number])[] {
  const d = /aria-roledescription="line mark" d="([^"]+)"/.exec(svg)![1]!;
  return [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
}

/** A recommendation at 20 Mbit/s whose best choice changes from `from` to `to` at 141 Mbit/s (layers named l<index>). */
function changingAt141(from: { split: number; codec?: string }, to: { split: number; codec?: string }): RecommendFile {
  const choice = (c: typeof from) => ({ split_index: c.split, split_layer: `l${c.split}`, ...(c.codec ? { tensor_codec: c.codec } : {}) });
  return {
    file: 'm.recommend.json',
    model: 'm.onnx',
    source: 'test',
    link: { bandwidthMbit: 20, rttMs: 10 },
    constraints: {},
    best: choice(from) as RecommendFile['best'],
    splits: [],
    crossover: decadeBandwidths().map((bw) => ({ bandwidth_mbit: bw, ...choice(bw < 141 ? from : to), total_ms: 1 })),
    changes: [{ bandwidth_mbit: 141, from: from.split, to: to.split, ...(from.codec ? { from_codec: from.codec } : {}), ...(to.codec ? { to_codec: to.codec } : {}) }],
  };
}

function field(label: string, name: string): string | undefined {
  return label.split('; ').find((p) => p.startsWith(`${name}: `))?.slice(name.length + 2);
}

/** Every line of a successful run's output that names a written PNG: [file, width, height]. */
function pngLines(out: string): [string, number, number][] {
  return [...out.matchAll(/^(\S+\.png) \((\d+) x (\d+) px\)/gm)].map((m) => [m[1]!, Number(m[2]), Number(m[3])]);
}

describe('plot_results', () => {
  let dir: string;
  let model: string;
  let direct: string;
  let shaped: string;

  before(async () => {
    dir = await temp('plot');
    model = lenet5(dir);
    direct = await runAll(dir, 'lenet5', model);
    shaped = await runAll(dir, 'lenet5-link', model, ['--bandwidth', '100', '--rtt', '2']);
  });

  it("draws each part's bar at the median of the CSV's ok rows, the whiskers at p5 and p95, and marks the best split", async () => {
    const rows = csvRows(direct).filter((r) => r.status === 'ok');
    const results = await readResults(direct);
    assert.equal(results.groups.length, 1, 'one setting: the edge-only split (backend none) belongs to the local one');
    const g = results.groups[0]!;
    assert.deepEqual(g.splits.map((s) => String(s.split_index)), SPLITS);
    const spec = splitChartSpec(g, { title: 't' });
    const svg = await renderSvg(spec);
    const labels = markLabels(svg);
    const totals = new Map<string, number>();
    for (const i of SPLITS) {
      const mine = rows.filter((r) => r.split_index === i);
      assert.equal(mine.length, 2, `split ${i}: two ok repetitions`);
      const med = (c: string) => textbookMedian(mine.map((r) => Number(r[c])));
      totals.set(i, med('total_ms'));
      const expected = { edge: med('edge_ms'), transfer: med('transfer_ms'), cloud: med('cloud_ms') };
      for (const [part, v] of Object.entries(expected)) {
        const bar = barValues(g).find((b) => String(b.split_index) === i && b.part === part)!;
        assert.ok(Math.abs(bar.ms - v) < 1e-9, `split ${i} ${part}: bar ${bar.ms}, median ${v}`);
        // The SVG's bar for it carries the same value.
        const drawn = labels.filter((l) => field(l, 'part') === part && field(l, 'split point (index and layer it cuts after)')?.startsWith(`${i} `));
        assert.equal(drawn.length, 1, `split ${i} ${part}: one bar in the SVG`);
        assert.ok(Math.abs(Number(field(drawn[0]!, 'ms (median over ok repetitions)')) - v) < 1e-3, `split ${i} ${part}: drawn ${drawn[0]}`);
      }
      // The stack reaches the median total; the whisker spans the totals (two reps: min to max, interpolated).
      const stack = barValues(g).filter((b) => String(b.split_index) === i).reduce((a, b) => a + b.ms, 0);
      assert.ok(Math.abs(stack - Math.max(med('total_ms'), expected.edge + expected.transfer + expected.cloud)) < 1e-9, `split ${i}: the stack is the median total`);
      const t = mine.map((r) => Number(r.total_ms)).sort((a, b) => a - b);
      const s = g.splits.find((x) => String(x.split_index) === i)!;
      assert.ok(Math.abs(s.total_p5 - (t[0]! + 0.05 * (t[1]! - t[0]!))) < 1e-9 && Math.abs(s.total_p95 - (t[0]! + 0.95 * (t[1]! - t[0]!))) < 1e-9, `split ${i}: p5/p95`);
      // What a repetition sends: rep 0's payload, without its rep field, can differ by a few bytes.
      const bytes = Math.max(...mine.filter((r) => r.rep !== '0').map((r) => Number(r.transfer_bytes)));
      const moved = labels.filter((l) => field(l, 'split point (index and layer it cuts after)')?.startsWith(`${i} `) && field(l, 'bytes moved (KiB)') !== undefined);
      assert.ok(moved.length >= 1, `split ${i}: a point on the bytes line`);
      // The label gives 6 significant digits.
      for (const m of moved) assert.ok(Math.abs(Number(field(m, 'bytes moved (KiB)')) - bytes / 1024) <= 1e-5 * (bytes / 1024) + 1e-9, `split ${i}: drawn at ${m} KiB, ${bytes} bytes moved`);
      assert.equal(s.transfer_bytes, bytes);
    }
    const best = [...totals].reduce((b, x) => (x[1] < b[1] ? x : b))[0];
    assert.equal(String(g.best.split_index), best);
    const marks = [...svg.matchAll(/<text aria-label="([^"]*)"[^>]*>best<\/text>/g)].map((m) => m[1]!);
    assert.equal(marks.length, 1, 'one "best" label');
    assert.ok(field(marks[0]!, 'split point (index and layer it cuts after)')!.startsWith(`${best} `), `the best label is on split ${best}: ${marks[0]}`);
    assert.match(svg, new RegExp(`best split ${best} \\(`), 'the subtitle names the best split');
  });

  it('writes PNG and SVG beside the CSV, one chart per setting, named for it; the PNGs decode at the stated size and are not blank', async () => {
    const merged = join(dir, 'merged.csv');
    const [head, ...a] = readFileSync(direct, 'utf8').trimEnd().split('\n');
    const b = readFileSync(shaped, 'utf8').trimEnd().split('\n').slice(1);
    writeFileSync(merged, [head, ...a, ...b, ''].join('\n'));
    const r = await cli(['plot_results', '--results_file', merged]);
    assert.equal(r.code, 0, r.err);
    const pngs = pngLines(r.out);
    assert.deepEqual(
      pngs.map((p) => p[0]).sort(),
      ['merged.link-100mbit-rtt2ms.cpu-time.png', 'merged.link-100mbit-rtt2ms.png', 'merged.link-direct.cpu-time.png', 'merged.link-direct.png'].map((f) => join(dir, f)),
    );
    assert.ok(!existsSync(join(dir, 'merged.png')));
    for (const [png, w, h] of pngs) {
      const svg = readFileSync(png.replace(/\.png$/, '.svg'), 'utf8');
      assert.ok(svg.startsWith('<svg'), `${png}: an SVG beside it`);
      const meta = await sharp(readFileSync(png)).metadata();
      assert.equal(meta.format, 'png');
      assert.deepEqual([meta.width, meta.height], [w, h], `${png}: the size the command stated`);
      const size = svgSize(svg);
      assert.deepEqual([w, h], [Math.round(size.width * PNG_SCALE), Math.round(size.height * PNG_SCALE)], `${png}: twice the SVG's size`);
      assert.ok((await distinctColours(readFileSync(png))) > 20, `${png}: not blank`);
      const shapedChart = png.includes('100mbit');
      assert.match(svg, shapedChart ? /100 Mbit\/s, rtt 2 ms/ : /direct link/, `${png}: titled with its setting`);
      // Each chart has the four split points of its own rows (the CPU chart: an edge bar at all but the cloud-only one).
      if (png.endsWith('.cpu-time.png')) assert.equal(markLabels(svg).filter((l) => field(l, 'side') === 'edge CPU' && field(l, 'wall_ms') === undefined).length, SPLITS.length - 1);
      else assert.equal(new Set(markLabels(svg).filter((l) => field(l, 'part') === 'edge')).size, SPLITS.length);
    }
    // A single-setting file: X.png and X.svg.
    const one = await cli(['plot_results', '--results_file', direct]);
    assert.equal(one.code, 0, one.err);
    assert.deepEqual(pngLines(one.out).map((p) => p[0]), [join(dir, 'lenet5.png'), join(dir, 'lenet5.cpu-time.png')]);
    assert.ok(existsSync(join(dir, 'lenet5.svg')));
  });

  it('a sweep over several tensor codecs gives one chart per codec, titled with it', async () => {
    const csv = await runAll(dir, 'codecs', model, ['--tensor_codec', 'raw', 'fp16']);
    const r = await cli(['plot_results', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const pngs = pngLines(r.out).map((p) => p[0]).filter((p) => !p.endsWith('.cpu-time.png')).sort();
    assert.deepEqual(pngs, [join(dir, 'codecs.codec-fp16.png'), join(dir, 'codecs.codec-raw.png')]);
    assert.deepEqual(pngLines(r.out).map((p) => p[0]).filter((p) => p.endsWith('.cpu-time.png')).sort(), [join(dir, 'codecs.codec-fp16.cpu-time.png'), join(dir, 'codecs.codec-raw.cpu-time.png')], "each codec's CPU chart");
    const fp16 = readFileSync(join(dir, 'codecs.codec-fp16.svg'), 'utf8');
    assert.match(fp16, /cut tensors sent as fp16/);
    assert.doesNotMatch(readFileSync(join(dir, 'codecs.codec-raw.svg'), 'utf8'), /cut tensors sent as/);
    // Each chart has the split points of its own codec's rows, the edge-only one included.
    for (const png of pngs) assert.equal(new Set(markLabels(readFileSync(png.replace(/\.png$/, '.svg'), 'utf8')).filter((l) => field(l, 'part') === 'edge')).size, SPLITS.length);
  });

  it('draws the predicted totals of a predict CSV over the measured ones, and the crossover chart from recommend', async () => {
    const profile = join(dir, 'lenet5.profile.csv');
    const p = await cli(['profile', '--onnx_file', model, '--rep', '2', '--threads', '1', '--results_file', direct]);
    assert.equal(p.code, 0, p.err);
    const predictFile = join(dir, 'lenet5.predict.csv');
    const q = await cli(['predict', '--onnx_file', model, '--profile', profile, '--results_file', predictFile]);
    assert.equal(q.code, 0, q.err);
    const rec = await cli(['recommend', '--onnx_file', model, '--results_file', direct, '--bandwidth', '20', '--rtt', '10']);
    assert.equal(rec.code, 0, rec.err);
    const r = await cli(['plot_results', '--results_file', direct, '--predicted', predictFile]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(pngLines(r.out).map((x) => x[0]), [join(dir, 'lenet5.png'), join(dir, 'lenet5.cpu-time.png'), join(dir, 'lenet5.crossover.png')]);
    const svg = readFileSync(join(dir, 'lenet5.svg'), 'utf8');
    const predicted = new Map(csvRows(predictFile).map((x) => [x.split_index, Number(x.total_ms)]));
    const drawn = markLabels(svg).filter((l) => field(l, 'predicted_ms') !== undefined);
    assert.equal(drawn.length, SPLITS.length, 'one predicted point per measured split point');
    for (const l of drawn) {
      const i = field(l, 'split point (index and layer it cuts after)')!.split(' ')[0]!;
      assert.ok(Math.abs(Number(field(l, 'predicted_ms')) - predicted.get(i)!) < 1e-3, `split ${i}: ${l}`);
    }
    assert.match(svg, /predicted total/, 'in the legend');
    // The legend draws each series as its marks: bars a square, the bytes line a dashed stroke,
    // the predicted totals a diamond.
    const legend = legendSymbols(svg);
    assert.deepEqual([...legend.keys()], ['edge', 'transfer', 'cloud', 'other (codec, wait)', 'bytes moved', 'predicted total']);
    for (const part of ['edge', 'transfer', 'cloud', 'other (codec, wait)']) assert.match(legend.get(part)!.d, /^M[-\d.]+,[-\d.]+h[\d.]+v[\d.]+h-[\d.]+Z$/, `${part}: a square`);
    const line = legend.get('bytes moved')!;
    assert.match(line.d, /^M-[\d.]+,0L[\d.]+,0$/, 'bytes moved: a horizontal stroke');
    assert.ok(line.dash && line.dash !== '1,0' && Number(line.width) >= 1.5, `bytes moved: a dashed line (${JSON.stringify(line)})`);
    assert.equal(legend.get('predicted total')!.d.match(/[ML]/g)?.length, 4, `predicted total: a diamond (${legend.get('predicted total')!.d})`);
    // The bytes axis in KiB (the units list_layers prints), its ticks plain numbers of them.
    assert.match(svg, /Y-axis titled 'bytes moved \(KiB\)'/);

    const crossover = readFileSync(join(dir, 'lenet5.crossover.svg'), 'utf8');
    const table = (await readRecommendation(join(dir, 'lenet5.recommend.json'))).crossover;
    const dots = [...crossover.matchAll(/aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="point"/g)].map((m) => m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
    assert.deepEqual(
      dots,
      table.map((c) => `bandwidth edge <-> store (Mbit/s, log scale): ${c.bandwidth_mbit >= 1000 ? `${c.bandwidth_mbit / 1000}k` : c.bandwidth_mbit}; best split point: ${c.split_index} ${c.split_layer}`),
      'a dot per row of the crossover table, at its bandwidth and best split',
    );
    assert.match(crossover, /Y-axis titled 'best split point'/);
    assert.match(crossover, /X-axis titled 'bandwidth edge &lt;-&gt; store \(Mbit\/s, log scale\)' for a log scale/);
    assert.match(crossover, /asked: 20 Mbit\/s -&gt; split \d+/);
    // Given the recommend result itself: the crossover chart only.
    const only = await cli(['plot_results', '--results_file', join(dir, 'lenet5.recommend.json')]);
    assert.equal(only.code, 0, only.err);
    assert.deepEqual(pngLines(only.out).map((x) => x[0]), [join(dir, 'lenet5.crossover.png')]);
  });

  it('refuses predictions made for another link than the measured rows, in one line naming both links', async () => {
    const profile = join(dir, 'lenet5.profile.csv');
    const predictFile = join(dir, 'lenet5-50mbit.predict.csv');
    const q = await cli(['predict', '--onnx_file', model, '--profile', profile, '--bandwidth', '50', '--rtt', '20', '--results_file', predictFile]);
    assert.equal(q.code, 0, q.err);
    const before = readdirSync(dir).sort();
    const r = await cli(['plot_results', '--results_file', direct, '--predicted', predictFile]);
    assert.notEqual(r.code, 0, r.out);
    assert.equal(r.errLines.length, 1, r.err);
    assert.match(r.errLines[0]!, /lenet5-50mbit\.predict\.csv: predicted for 50 Mbit\/s, rtt 20 ms, but \S*lenet5\.csv was measured over a direct link \(no --bandwidth\/--rtt\); predict for that link/);
    assert.deepEqual(readdirSync(dir).sort(), before, 'no chart written');
  });

  it('refuses the predictions of another model whose split layers have the same names, by its model_sha256', async () => {
    const predictFile = join(dir, 'lenet5.predict.csv');
    assert.ok(existsSync(predictFile), 'made by the predict test above');
    const sha = csvRows(direct)[0]!.model_sha256!;
    const foreign = join(dir, 'foreign.predict.csv');
    writeFileSync(foreign, readFileSync(predictFile, 'utf8').replaceAll(sha, 'f'.repeat(64)));
    const before = readdirSync(dir).sort();
    const r = await cli(['plot_results', '--results_file', direct, '--predicted', foreign]);
    assert.notEqual(r.code, 0, r.out);
    assert.equal(r.errLines.length, 1, r.err);
    assert.match(r.errLines[0]!, new RegExp(`foreign\\.predict\\.csv: predictions of another model \\(model_sha256 ffffffffffff…\\), but \\S*lenet5\\.csv was measured on model_sha256 ${sha.slice(0, 12)}…`));
    assert.deepEqual(readdirSync(dir).sort(), before, 'no chart written');
  });

  it("draws each codec's own predicted totals on that codec's chart", async () => {
    const csv = join(dir, 'codecs.csv');
    assert.ok(existsSync(csv), 'made by the codec test above');
    const predictFile = join(dir, 'codecs.predict.csv');
    const q = await cli(['predict', '--onnx_file', model, '--profile', join(dir, 'lenet5.profile.csv'), '--tensor_codec', 'raw', 'fp16', '--results_file', predictFile]);
    assert.equal(q.code, 0, q.err);
    const r = await cli(['plot_results', '--results_file', csv, '--predicted', predictFile]);
    assert.equal(r.code, 0, r.err);
    const rows = csvRows(predictFile);
    const predictedAt0 = (codec: string) => rows.find((x) => x.split_index === '0' && x.tensor_codec === codec)!.total_ms;
    assert.notEqual(predictedAt0('raw'), predictedAt0('fp16'), 'the codecs predict apart');
    for (const codec of ['raw', 'fp16']) {
      const want = new Map(rows.filter((x) => x.tensor_codec === codec).map((x) => [x.split_index, Number(x.total_ms)]));
      const drawn = markLabels(readFileSync(join(dir, `codecs.codec-${codec}.svg`), 'utf8')).filter((l) => field(l, 'predicted_ms') !== undefined);
      assert.equal(drawn.length, SPLITS.length, `${codec}: one predicted point per split point`);
      for (const l of drawn) {
        const i = field(l, 'split point (index and layer it cuts after)')!.split(' ')[0]!;
        assert.ok(Math.abs(Number(field(l, 'predicted_ms')) - want.get(i)!) < 1e-3, `${codec} split ${i}: ${l}`);
      }
    }
    // At 5 Mbit/s fp16 moves half the bytes: its predictions differ from raw's where bytes cross.
    const total = (codec: string, i: string) => Number(rows.find((x) => x.tensor_codec === codec && x.split_index === i)!.total_ms);
    assert.ok(SPLITS.some((i) => Math.abs(total('raw', i) - total('fp16', i)) > 1e-3), 'the codecs have predictions of their own');
  });

  it('draws the crossover step at the exact bandwidth where the choice changes, either way up', async () => {
    for (const [from, to] of [[3, 7], [7, 3]] as const) {
      const r = changingAt141({ split: from }, { split: to });
      const svg = await renderSvg(crossoverChartSpec(r, 't'));
      const line = points(svg);
      const xs = line.map((p) => p[0]);
      assert.deepEqual(xs, [...xs].sort((a, b) => a - b), `${from} -> ${to}: the line runs left to right (${JSON.stringify(line)})`);
      const jump = line.findIndex((p, i) => i > 0 && p[1] !== line[i - 1]![1]);
      const at = (640 * Math.log(141 / 1)) / Math.log(10_000 / 1);
      assert.ok(Math.abs(line[jump]![0] - at) < 0.5, `${from} -> ${to}: the step at ${line[jump]![0]}, 141 Mbit/s is at ${at}`);
      assert.equal(line.filter((p, i) => i > 0 && p[1] !== line[i - 1]![1]).length, 1, 'one step');
    }
  });

  it("keeps the crossover chart's line labels inside the plot at its left edge, clear of the split point names", async () => {
    const r = changingAt141({ split: 3 }, { split: 7 });
    const low = { ...r, link: { bandwidthMbit: 1, rttMs: 10 }, changes: [{ bandwidth_mbit: 1.05, from: 7, to: 3 }, ...r.changes] };
    const svg = await renderSvg(crossoverChartSpec(low, 't'));
    const labels = [...svg.matchAll(/<text [^>]*aria-roledescription="text mark"[^>]*transform="translate\(([-\d.]+),[-\d.]+\) rotate\(-90\) translate\([-\d.]+,([-\d.]+)\)"[^>]*font-size="(\d+)px"[^>]*>([^<]*)<\/text>/g)];
    assert.deepEqual(labels.map((m) => m[4]).sort(), ['7 -&gt; 3 at 1.05 Mbit/s', '3 -&gt; 7 at 141 Mbit/s', 'asked: 1 Mbit/s -&gt; split 3'].sort());
    for (const [, x, dy, size, text] of labels) {
      // A label turned -90 degrees has its baseline at x + dy and its letters on the baseline's left, about 0.8 of the font size.
      const left = Number(x) + Number(dy) - 0.8 * Number(size);
      assert.ok(left >= 0, `${text}: its letters start at x ${left.toFixed(1)}, left of the plot (over the split point names)`);
    }
  });

  it('names the codec of each choice in the crossover chart where the cut tensors are coded', async () => {
    const r = changingAt141({ split: 3, codec: 'int8' }, { split: 3, codec: 'raw' });
    const svg = await renderSvg(crossoverChartSpec(r, 't'));
    const dots = [...svg.matchAll(/aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="point"/g)].map((m) => m[1]!.split('; best split point: ')[1]);
    assert.deepEqual(dots, decadeBandwidths().map((bw) => (bw < 141 ? '3 l3 (int8)' : '3 l3')), 'the same split point, two choices');
    assert.match(svg, /3 \(int8\) -&gt; 3 at 141 Mbit\/s/, 'the change names both codecs where coded');
    assert.match(svg, /asked: 20 Mbit\/s -&gt; split 3 \(int8\)/);
    assert.equal(points(svg).filter((p, i, a) => i > 0 && p[1] !== a[i - 1]![1]).length, 1, 'one step, from the int8 row to the raw one');
  });

  it('wraps a long title and subtitle to the plot: the chart is as wide as with short ones', async () => {
    const g = (await readResults(direct)).groups[0]!;
    const long = `${'a setting described at length, '.repeat(8)}end`;
    const short = svgSize(await renderSvg(splitChartSpec(g, { title: 't' })));
    const wide = await renderSvg(splitChartSpec({ ...g, label: long }, { title: `a title ${'that goes on '.repeat(12)}` }));
    // CHART_PNG=file.png writes the chart to look at.
    if (process.env.CHART_PNG) writeFileSync(process.env.CHART_PNG, (await svgToPng(wide)).png);
    assert.equal(svgSize(wide).width, short.width, 'the plot sets the width');
    assert.ok(svgSize(wide).height > short.height, 'the text took more lines instead');
    for (const word of long.split(' ')) assert.ok(wide.includes(word), `${word}: nothing cut off`);
    const r = changingAt141({ split: 3 }, { split: 7 });
    const crossShort = svgSize(await renderSvg(crossoverChartSpec(r, 't')));
    const crossLong = svgSize(await renderSvg(crossoverChartSpec({ ...r, source: long }, 't')));
    assert.equal(crossLong.width, crossShort.width, 'the crossover chart too');
  });

  it('keeps 200 split points readable: narrow bars, index labels only, width bounded', () => {
    assert.deepEqual(xLayout(13), { step: 40, named: true, angle: -40 });
    const wide = xLayout(200);
    assert.ok(!wide.named && wide.step * 200 <= 1400, JSON.stringify(wide));
    const ticks = sparseTicks(Array.from({ length: 200 }, (_, i) => i), wide.step);
    assert.ok(ticks.length <= 1400 / 40 && ticks.length >= 10, `${ticks.length} index labels`);
    assert.deepEqual(ticks.slice(0, 3), ['0', '10', '20']);
    assert.ok(Math.abs(textWidth('0123456789', 100) - 636.2) < 1, 'DejaVu digits are 1303/2048 em');
  });

  it("draws each side's CPU time per split point at the median of the CSV's ok rows, the part's wall time on its bar, no bar where a side runs nothing", async () => {
    const rows = csvRows(direct).filter((r) => r.status === 'ok');
    const g = (await readResults(direct)).groups[0]!;
    const values = cpuValues(g);
    const svg = await renderSvg(cpuChartSpec(g, { title: 't' }));
    const labels = markLabels(svg);
    const axis = 'split point (index and layer it cuts after)';
    for (const i of SPLITS) {
      const mine = rows.filter((r) => r.split_index === i);
      for (const side of ['edge', 'cloud'] as const) {
        const cells = mine.map((r) => r[`${side}_cpu_ms`]!);
        const bar = values.find((v) => String(v.split_index) === i && v.side === `${side} CPU`);
        const drawn = labels.filter((l) => field(l, axis)?.startsWith(`${i} `) && field(l, 'side') === `${side} CPU`);
        const ran = side === 'edge' ? i !== '0' : i !== SPLITS.at(-1);
        if (!ran) {
          assert.deepEqual(cells, ['', ''], `split ${i}: the ${side} runs nothing`);
          assert.equal(bar, undefined, `split ${i}: no ${side} bar`);
          assert.deepEqual(drawn, [], `split ${i}: nothing drawn for the ${side}`);
          continue;
        }
        const cpu = textbookMedian(cells.map(Number));
        const wall = textbookMedian(mine.map((r) => Number(r[`${side}_ms`])));
        assert.ok(bar && Math.abs(bar.cpu_ms - cpu) < 1e-9 && Math.abs(bar.wall_ms - wall) < 1e-9, `split ${i} ${side}: ${JSON.stringify(bar)}, medians ${cpu} and ${wall}`);
        // The SVG holds its bar at the CPU median and its tick at the wall time's.
        const at = (f: string) => drawn.map((l) => field(l, f)).filter((v): v is string => v !== undefined);
        const bars = at('CPU ms (median over ok repetitions)');
        assert.ok(bars.length === 1 && Math.abs(Number(bars[0]) - cpu) < 1e-3, `split ${i} ${side}: bar drawn at ${bars}`);
        assert.ok(at('wall_ms').length === 1 && Math.abs(Number(at('wall_ms')[0]) - wall) < 1e-3, `split ${i} ${side}: tick drawn at ${at('wall_ms')}`);
      }
    }
    const legend = legendSymbols(svg);
    assert.deepEqual([...legend.keys()], ['edge CPU', 'cloud CPU', 'wall time (edge_ms, cloud_ms)']);
    assert.match(legend.get('wall time (edge_ms, cloud_ms)')!.d, /^M-[\d.]+,0L[\d.]+,0$/, 'the wall time: a stroke, as its ticks');
    assert.match(svg, /Y-axis titled 'CPU ms \(median over ok repetitions\)'/);
    // Written by plot_results beside the time chart: a PNG that decodes and is not blank.
    const r = await cli(['plot_results', '--results_file', direct]);
    assert.equal(r.code, 0, r.err);
    const [png, w, h] = pngLines(r.out).find((p) => p[0] === join(dir, 'lenet5.cpu-time.png'))!;
    assert.match(r.out, /lenet5\.cpu-time\.png \(\d+ x \d+ px\), \S*lenet5\.cpu-time\.svg: CPU time of each side's part per split point/);
    const meta = await sharp(readFileSync(png)).metadata();
    assert.deepEqual([meta.width, meta.height], [w, h]);
    assert.ok((await distinctColours(readFileSync(png))) > 20, `${png}: not blank`);
  });

  it('a results file from before the CPU columns is drawn as before: no CPU chart, nothing drawn as 0', async () => {
    const sub = join(dir, 'old');
    mkdirSync(sub, { recursive: true });
    const old = join(sub, 'lenet5.csv');
    const keep = COLUMNS.filter((c) => c !== 'edge_cpu_ms' && c !== 'cloud_cpu_ms');
    writeFileSync(old, stringify([keep, ...csvRows(direct).map((x) => keep.map((c) => x[c]))]));
    const g = (await readResults(old)).groups[0]!;
    assert.ok(g.splits.every((s) => s.edge_cpu_ms === undefined && s.cloud_cpu_ms === undefined), 'no CPU time read');
    const r = await cli(['plot_results', '--results_file', old]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(pngLines(r.out).map((p) => p[0]), [join(sub, 'lenet5.png')]);
    assert.deepEqual(readdirSync(sub).sort(), ['lenet5.csv', 'lenet5.png', 'lenet5.svg']);
    assert.doesNotMatch(readFileSync(join(sub, 'lenet5.svg'), 'utf8'), /cpu_ms|CPU (ms|time)/);
  });

  it('refuses a missing file, a CSV that is no results file and a file without ok rows, in one line naming the file', async () => {
    const failed = join(dir, 'failed.csv');
    writeFileSync(failed, readFileSync(direct, 'utf8').replace(/,ok,/g, ',error,'));
    const summary = join(dir, 'summary-copy.csv');
    copyFileSync(join(dir, 'lenet5.summary.csv'), summary);
    const cases: [string[], RegExp][] = [
      [['plot_results', '--results_file', join(dir, 'never.csv')], /never\.csv: no such file/],
      [['plot_results', '--results_file', summary], /summary-copy\.csv: not a run_all or predict results file \(no column .*status/],
      [['plot_results', '--results_file', failed], /failed\.csv: no row with status ok/],
      [['plot_results', '--results_file', direct, '--predicted', shaped], /lenet5-link\.csv: not a predict results file/],
      [['plot_results', '--results_file', join(dir, 'lenet5.onnx')], /lenet5\.onnx: not a CSV file \(it looks like an ONNX model\)$/],
      [['plot_results'], /results_file/],
    ];
    const before = readdirSync(dir).sort();
    await expectOneLineFailures(cases);
    assert.deepEqual(readdirSync(dir).sort(), before, 'nothing written');
  });
});
