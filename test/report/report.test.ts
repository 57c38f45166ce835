/**
 * report on a real run_all CSV of a zoo model (with recommend's result beside it), opened in a
 * real headless Chromium: no console errors and no request of any kind, one table row per
 * split point, sorting by total_ms orders the rows, the search box filters them, the charts are
 * inline, what comes from files is escaped, and the page is not blank.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { distinctColours, launchBrowser, openFile } from '../browser/browser.js';
import { COLUMNS } from '../../src/profile/columns.js';
import { cli, expectOneLineFailures } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { csvRows, lenet5, runAll, SPLITS, textbookMedian } from './fixture.js';

const temp = tempDirs();
let browser: Browser;
after(async () => {
  await browser?.close();
});

/**
 * What a reader sees at the page's width: each chart's drawn width, its own (SVG) width and its
 * smallest text in CSS pixels (font size times the chart's scale), the page's content width, and
 * how wide the split table is against its box and the page.
 */
interface Sizes {
  charts: { width: number; own: number; smallestText: number }[];
  content: number;
  table: { width: number; box: number; right: number };
  page: { scrollWidth: number; width: number };
}
const SIZES = `(() => {
  const charts = [...document.querySelectorAll('figure.chart svg')].map((svg) => {
    const sizes = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim() !== '').map((t) => {
      const m = t.getScreenCTM();
      return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    });
    return { width: svg.getBoundingClientRect().width, own: svg.width.baseVal.value, smallestText: Math.min(...sizes) };
  });
  const wrap = document.querySelector('.table-wrap');
  const body = getComputedStyle(document.body);
  return {
    charts,
    content: document.body.clientWidth - parseFloat(body.paddingLeft) - parseFloat(body.paddingRight),
    table: { width: wrap.scrollWidth, box: wrap.clientWidth, right: document.getElementById('splits').getBoundingClientRect().right },
    page: { scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth },
  };
})()`;

/** The split table's visible rows, each as its cells' text by header. */
async function tableRows(page: Page): Promise<Record<string, string>[]> {
  // The DOM's types are not in this project's lib: the few members used, by hand.
  type Cell = { textContent: string };
  type TableRow = { hidden: boolean; cells: ArrayLike<Cell> };
  type Table = { tHead: { rows: ArrayLike<TableRow> }; tBodies: ArrayLike<{ rows: ArrayLike<TableRow> }> };
  return page.$$eval('#splits', ([t]) => {
    const table = t as unknown as Table;
    const heads = Array.from(table.tHead.rows[0]!.cells).map((c) => c.textContent.trim());
    return Array.from(table.tBodies[0]!.rows)
      .filter((r) => !r.hidden)
      .map((r) => Object.fromEntries(Array.from(r.cells).map((c, i) => [heads[i]!, c.textContent.trim()])));
  });
}

describe('report', () => {
  let dir: string;
  let model: string;
  let csv: string;

  before(async () => {
    dir = await temp('report');
    model = lenet5(dir);
    csv = await runAll(dir, 'lenet5', model);
    const r = await cli(['recommend', '--onnx_file', model, '--results_file', csv, '--bandwidth', '20', '--rtt', '10']);
    assert.equal(r.code, 0, r.err);
    browser = await launchBrowser();
  });

  it('writes one self-contained page beside the CSV with the settings, the model, the recommendation and the charts', async () => {
    const r = await cli(['report', '--results_file', csv, '--onnx_file', model]);
    assert.equal(r.code, 0, r.err);
    const file = join(dir, 'lenet5.html');
    assert.match(r.out, /wrote .*lenet5\.html/);
    const html = readFileSync(file, 'utf8');
    assert.doesNotMatch(html, /<(script|img|link|iframe)[^>]*\s(src|href)=/i, 'nothing loaded from anywhere');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    const facts = JSON.parse((await cli(['print_model', '--onnx_file', model, '--json'])).out) as { parameters: number; nodes: number };
    const { page, watch } = await openFile(browser, file);
    try {
      const text = (await page.textContent('body'))!;
      assert.match(text, new RegExp(`parameters${facts.parameters}`), "print_model's parameter count");
      assert.match(text, new RegExp(`nodes${facts.nodes} \\(`), "print_model's node count");
      assert.match(text, /backend \(where the cloud part ran\)local \(the edge-only split point runs no cloud part/);
      assert.match(text, /link edge <-> storedirect/);
      assert.match(text, /intra-op threads1graph optimisationall/, "the run_all CSV's own threads and graph_opt columns");
      assert.match(text, /Best split for 20 Mbit\/s, rtt 10 ms: \d+/);
      const rec = JSON.parse(readFileSync(join(dir, 'lenet5.recommend.json'), 'utf8')) as { crossover: unknown[] };
      assert.equal(await page.locator('#crossover tbody tr').count(), rec.crossover.length, 'the crossover table');
      assert.equal(await page.locator('figure.chart svg').count(), 3, 'the split chart, the CPU chart and the crossover chart, inline');
      assert.deepEqual(watch, { errors: [], requests: [] });

      const rows = await tableRows(page);
      assert.deepEqual(rows.map((x) => x.split_index), SPLITS, 'one row per split point, in index order');
      const measured = csvRows(csv).filter((x) => x.status === 'ok');
      for (const row of rows) {
        const med = textbookMedian(measured.filter((m) => m.split_index === row.split_index).map((m) => Number(m.total_ms)));
        assert.ok(Math.abs(Number(row.total_ms) - med) < 1e-3, `split ${row.split_index}: total_ms ${row.total_ms}, median ${med}`);
      }
      const best = rows.reduce((b, x) => (Number(x.total_ms) < Number(b.total_ms) ? x : b));
      assert.equal(await page.locator('#splits tr.best td').first().textContent(), best.split_index, 'the best row is marked');
      // Each side's CPU time: the median of its rows, empty where it runs nothing.
      for (const row of rows) {
        for (const side of ['edge', 'cloud'] as const) {
          const cells = measured.filter((m) => m.split_index === row.split_index).map((m) => m[`${side}_cpu_ms`]!);
          const cell = row[`${side}_cpu_ms`];
          if (cells.every((c) => c === '')) assert.equal(cell, '', `split ${row.split_index}: the ${side} runs nothing`);
          else assert.ok(cell !== '' && Math.abs(Number(cell) - textbookMedian(cells.map(Number))) < 1e-3, `split ${row.split_index} ${side}_cpu_ms: ${cell}`);
        }
      }
      assert.equal(rows.find((x) => x.split_index === '0')!.edge_cpu_ms, '');
      assert.equal(rows.find((x) => x.split_index === SPLITS.at(-1))!.cloud_cpu_ms, '');
      // The CPU chart as a reader sees it: drawn, with both sides' bars and the legend.
      const cpuChart = page.locator('#chart-lenet5\\.cpu-time');
      const cpuText = (await cpuChart.textContent())!;
      for (const words of ['lenet5: CPU time per side per split point', 'edge CPU', 'cloud CPU', 'wall time (edge_ms, cloud_ms)', 'CPU ms (median over ok repetitions)']) assert.ok(cpuText.includes(words), `the CPU chart shows '${words}': ${cpuText}`);
      const cpuShot = await cpuChart.screenshot();
      assert.ok((await distinctColours(cpuShot)) > 20, 'the CPU chart is drawn');
      const marks = await cpuChart.locator('[aria-roledescription="bar"]').count();
      assert.equal(marks, 2 * SPLITS.length - 2, 'a bar per side that runs a part, at every split point');

      const header = page.locator('#splits thead th', { hasText: /^total_ms$/ }).locator('button');
      await header.click();
      const up = (await tableRows(page)).map((x) => Number(x.total_ms));
      assert.deepEqual(up, [...up].sort((a, b) => a - b), 'ascending after one click');
      assert.equal(await page.locator('#splits thead th', { hasText: /^total_ms$/ }).getAttribute('aria-sort'), 'ascending');
      await header.click();
      const down = (await tableRows(page)).map((x) => Number(x.total_ms));
      assert.deepEqual(down, [...up].reverse(), 'descending after a second click');
      await page.locator('#splits thead th', { hasText: /^split_layer$/ }).locator('button').click();
      const layers = (await tableRows(page)).map((x) => x.split_layer);
      assert.deepEqual(layers, [...layers].sort((a, b) => a.localeCompare(b)), 'text columns sort as text');

      await page.fill('#search', 'maxpool');
      const hits = await tableRows(page);
      assert.deepEqual(hits.map((x) => x.split_layer), ['maxpool_0_out'], 'the search box keeps the matching rows');
      assert.match((await page.textContent('#shown'))!, /^1 of 4 rows shown$/);
      await page.fill('#search', '');
      assert.equal((await tableRows(page)).length, SPLITS.length);

      const shot = await page.screenshot({ fullPage: true });
      assert.ok((await distinctColours(shot)) > 20, 'the page is not blank');
      assert.deepEqual(watch, { errors: [], requests: [] }, 'no errors or requests while used');
    } finally {
      await page.close();
    }
  });

  it("takes the predicted totals from the predict CSV beside it", async () => {
    const profile = join(dir, 'lenet5.profile.csv');
    const p = await cli(['profile', '--onnx_file', model, '--rep', '2', '--threads', '1', '--results_file', csv]);
    assert.equal(p.code, 0, p.err);
    const predictFile = join(dir, 'lenet5.predict.csv');
    const q = await cli(['predict', '--onnx_file', model, '--profile', profile, '--results_file', predictFile]);
    assert.equal(q.code, 0, q.err);
    const r = await cli(['report', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const { page, watch } = await openFile(browser, join(dir, 'lenet5.html'));
    try {
      const predicted = new Map(csvRows(predictFile).map((x) => [x.split_index, Number(x.total_ms)]));
      const rows = await tableRows(page);
      assert.equal(rows.length, SPLITS.length);
      for (const row of rows) assert.ok(Math.abs(Number(row.predicted_total_ms) - predicted.get(row.split_index)!) < 1e-3, `split ${row.split_index}: ${row.predicted_total_ms}`);
      assert.ok((await page.locator('figure.chart svg').first().innerHTML()).includes('predicted total'), 'the chart draws them');
      assert.deepEqual(watch, { errors: [], requests: [] });

      // At 1280 px the charts are drawn larger than their own size to fill the page (text of 12
      // px at least), and the split table (17 columns here) fits the page.
      const sizes = await page.evaluate<Sizes>(SIZES);
      assert.equal(sizes.charts.length, 3);
      for (const c of sizes.charts) {
        assert.ok(c.smallestText >= 12, `the smallest chart text is ${c.smallestText.toFixed(1)} px: ${JSON.stringify(sizes)}`);
        assert.ok(c.width >= Math.min(0.75 * sizes.content, 1.3 * c.own), `a chart ${c.width} px wide of ${sizes.content}: ${JSON.stringify(sizes)}`);
      }
      assert.ok(sizes.table.width <= sizes.table.box && sizes.table.right <= sizes.page.width, `the split table fits: ${JSON.stringify(sizes)}`);
      assert.ok(sizes.page.scrollWidth <= sizes.page.width, `the page does not scroll sideways: ${JSON.stringify(sizes)}`);
      // Narrower than a chart, the chart keeps its own size and scrolls in its box.
      await page.setViewportSize({ width: 600, height: 900 });
      const narrow = await page.evaluate<Sizes>(SIZES);
      for (const c of narrow.charts) assert.ok(c.width >= c.own - 0.5 && c.smallestText >= 11 - 1e-6, JSON.stringify(narrow));
    } finally {
      await page.close();
    }
  });

  it("names one best split everywhere under recommend's constraints: the top of the page, the recommendation, the table and both charts, also as plot_results writes them", async () => {
    const sub = join(dir, 'constrained');
    mkdirSync(sub);
    const copy = join(sub, 'lenet5.csv');
    copyFileSync(csv, copy);
    // An edge_ms limit below every split point's but the cloud-only one's.
    const ok = csvRows(copy).filter((x) => x.status === 'ok');
    const edgeMs = SPLITS.map((i) => textbookMedian(ok.filter((x) => x.split_index === i).map((x) => Number(x.edge_ms))));
    const limit = Number((Math.min(...edgeMs.filter((v) => v > 0)) / 2).toPrecision(2));
    const rec = await cli(['recommend', '--onnx_file', model, '--results_file', copy, '--max_edge_ms', String(limit)]);
    assert.equal(rec.code, 0, rec.err);
    const best = (JSON.parse(readFileSync(join(sub, 'lenet5.recommend.json'), 'utf8')) as { best: { split_index: number; split_layer: string } }).best;
    const fastest = SPLITS.reduce((b, i) => {
      const t = (j: string) => textbookMedian(ok.filter((x) => x.split_index === j).map((x) => Number(x.total_ms)));
      return t(i) < t(b) ? i : b;
    });
    const under = `under edge_ms &lt;= ${limit}`;
    const named = `best split ${best.split_index} (${best.split_layer}) ${under}`;
    const checkTimeChart = (svg: string, where: string) => {
      assert.ok(svg.includes(named), `${where}: the time chart names ${named}`);
      const marks = [...svg.matchAll(/<text aria-label="([^"]*)"[^>]*>best<\/text>/g)].map((m) => m[1]!);
      assert.equal(marks.length, 1, where);
      assert.match(marks[0]!, new RegExp(`: ${best.split_index} `), `${where}: the best mark is on split ${best.split_index}`);
      if (fastest !== String(best.split_index)) {
        assert.match(svg, new RegExp(`fastest without the constraints: split ${fastest} \\([^)]*\\): total [\\d.]+ ms, \\d+ bytes moved \\(excluded: edge_ms [\\d.]+ &gt; ${limit}\\)`), where);
        assert.match(svg, />fastest, excluded<\/text>/, `${where}: the fastest split point is labelled as excluded`);
      }
    };
    const checkCrossover = (svg: string, where: string) => {
      assert.ok(svg.includes(`best split vs bandwidth, ${under}`), `${where}: the crossover chart's title says it is drawn ${under}`);
      assert.match(svg, new RegExp(`only the split points that meet edge_ms &lt;= ${limit} \\(recommend's constraints; \\d+ of \\d+ split points excluded\\)`), where);
    };

    const plotted = await cli(['plot_results', '--results_file', copy]);
    assert.equal(plotted.code, 0, plotted.err);
    checkTimeChart(readFileSync(join(sub, 'lenet5.svg'), 'utf8'), 'lenet5.svg');
    checkCrossover(readFileSync(join(sub, 'lenet5.crossover.svg'), 'utf8'), 'lenet5.crossover.svg');
    assert.match(plotted.out, new RegExp(`lenet5\\.png .*best split ${best.split_index} \\(.*\\) under edge_ms <= ${limit}`));

    const r = await cli(['report', '--results_file', copy]);
    assert.equal(r.code, 0, r.err);
    const { page, watch } = await openFile(browser, join(sub, 'lenet5.html'));
    try {
      const top = await page.locator('body > ul li').allTextContents();
      assert.equal(top.length, 2, 'the measured choice and recommend\'s');
      assert.ok(top[0]!.includes(`best split ${best.split_index} (${best.split_layer}) under edge_ms <= ${limit}`), top[0]);
      assert.ok(top[1]!.includes(`under edge_ms <= ${limit}: best split ${best.split_index} (${best.split_layer})`), top[1]);
      assert.match((await page.textContent('#recommendation .box strong'))!, new RegExp(`under edge_ms <= ${limit}: ${best.split_index} \\(`));
      const rows = await tableRows(page);
      assert.deepEqual(rows.filter((x) => x.best.startsWith('best')).map((x) => [x.split_index, x.best]), [[String(best.split_index), `best under edge_ms <= ${limit}`]]);
      assert.equal(await page.locator('#splits tr.best td').first().textContent(), String(best.split_index));
      for (const x of rows.filter((y) => y.split_index !== String(best.split_index) && Number(y.edge_ms) > limit)) assert.match(x.best, new RegExp(`excluded: edge_ms [\\d.]+ > ${limit}$`), `split ${x.split_index}`);
      const svgOf = (id: string) => page.locator(`#${id} svg`).evaluate((x) => (x as unknown as { outerHTML: string }).outerHTML);
      const [time, crossover] = [await svgOf('chart-lenet5'), await svgOf('chart-lenet5\\.crossover')];
      checkTimeChart(time!, 'the page\'s time chart');
      checkCrossover(crossover!, 'the page\'s crossover chart');
      assert.deepEqual(watch, { errors: [], requests: [] });
    } finally {
      await page.close();
    }
  });

  it('escapes what comes from the files, and writes --output_file', async () => {
    const evil = join(dir, 'evil.csv');
    const layer = '<img src=http://127.0.0.1:9/x.png onerror=alert(1)>&"q"';
    // Split 3's layer named with markup, and split 7's rows all failed with markup in the error.
    const failedRow = (line: string) => {
      const cells = line.split(',');
      cells[COLUMNS.indexOf('status')] = 'error';
      cells[COLUMNS.indexOf('error')] = '<b>store down</b>';
      return cells.join(',');
    };
    const text = readFileSync(csv, 'utf8').replace(/^3,maxpool_0_out,/gm, `3,"${layer.replace(/"/g, '""')}",`);
    writeFileSync(evil, text.split('\n').map((l) => (l.startsWith('7,') ? failedRow(l) : l)).join('\n'));
    const out = join(dir, 'page', 'evil-report.html');
    const r = await cli(['report', '--results_file', evil, '--output_file', out]);
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(join(dir, 'evil.html')), 'written where asked only');
    const html = readFileSync(out, 'utf8');
    assert.ok(!html.includes('<img'), 'no markup from the file');
    assert.ok(html.includes('&lt;img src=http://127.0.0.1:9/x.png onerror=alert(1)&gt;&amp;&quot;q&quot;'), 'the layer name, escaped');
    const { page, watch } = await openFile(browser, out);
    try {
      const rows = await tableRows(page);
      assert.equal(rows.find((x) => x.split_index === '3')!.split_layer, layer, 'shown as text');
      assert.deepEqual(rows.map((x) => x.split_index), SPLITS, 'a split point without an ok row keeps its row');
      const failed = rows.find((x) => x.split_index === '7')!;
      assert.deepEqual([failed.total_ms, failed.reps, failed.failed, failed.best], ['', '0', '2', 'failed: <b>store down</b>']);
      assert.match((await page.textContent('#charts'))!, /not drawn, no ok row: 7/);
      assert.match((await page.textContent('#model'))!, /No model given/);
      assert.deepEqual(watch, { errors: [], requests: [] });
    } finally {
      await page.close();
    }
  });

  it('shows a results file from before the CPU columns as before: no CPU columns in the table, no CPU chart', async () => {
    const sub = join(dir, 'old-columns');
    mkdirSync(sub, { recursive: true });
    const old = join(sub, 'lenet5.csv');
    const keep = COLUMNS.filter((c) => c !== 'edge_cpu_ms' && c !== 'cloud_cpu_ms');
    writeFileSync(old, stringify([keep, ...csvRows(csv).map((x) => keep.map((c) => x[c]))]));
    const r = await cli(['report', '--results_file', old]);
    assert.equal(r.code, 0, r.err);
    const { page, watch } = await openFile(browser, join(sub, 'lenet5.html'));
    try {
      const rows = await tableRows(page);
      assert.deepEqual(rows.map((x) => x.split_index), SPLITS);
      assert.deepEqual(Object.keys(rows[0]!).filter((h) => /cpu/.test(h)), [], 'no CPU column');
      assert.equal(await page.locator('figure.chart svg').count(), 1, 'the time chart only');
      assert.doesNotMatch((await page.textContent('body'))!, /cpu_ms|CPU time/);
      assert.deepEqual(watch, { errors: [], requests: [] });
    } finally {
      await page.close();
    }
  });

  it('refuses what is not a run_all CSV in one line naming the file', async () => {
    const cases: [string[], RegExp][] = [
      [['report', '--results_file', join(dir, 'none.csv')], /none\.csv: no such file/],
      [['report', '--results_file', join(dir, 'lenet5.summary.csv')], /lenet5\.summary\.csv: not a run_all or predict results file/],
      [['report', '--results_file', csv, '--onnx_file', join(dir, 'none.onnx')], /none\.onnx/],
    ];
    await expectOneLineFailures(cases);
  });

  it('does not draw a predict CSV beside the results that is for another link, and says so at the top', async () => {
    const other = join(dir, 'other-link');
    mkdirSync(other, { recursive: true });
    const copy = join(other, 'lenet5.csv');
    copyFileSync(csv, copy);
    const q = await cli(['predict', '--onnx_file', model, '--profile', join(dir, 'lenet5.profile.csv'), '--bandwidth', '50', '--rtt', '20', '--results_file', join(other, 'lenet5.predict.csv')]);
    assert.equal(q.code, 0, q.err);
    const r = await cli(['report', '--results_file', copy]);
    assert.equal(r.code, 0, r.err);
    const html = readFileSync(join(other, 'lenet5.html'), 'utf8');
    assert.match(html, /<li>lenet5\.predict\.csv \(beside the CSV\) is not drawn: predicted for 50 Mbit\/s, rtt 20 ms, but \S*lenet5\.csv was measured over a direct link/);
    assert.doesNotMatch(html, /predicted_total_ms|Red diamonds/, 'no predicted totals in the table or the charts');
  });

  it('does not draw a predict CSV beside the results that is of another model with the same split layer names, and says so', async () => {
    const other = join(dir, 'other-model');
    mkdirSync(other, { recursive: true });
    const copy = join(other, 'lenet5.csv');
    copyFileSync(csv, copy);
    const sha = csvRows(csv)[0]!.model_sha256!;
    writeFileSync(join(other, 'lenet5.predict.csv'), readFileSync(join(dir, 'lenet5.predict.csv'), 'utf8').replaceAll(sha, 'f'.repeat(64)));
    const r = await cli(['report', '--results_file', copy]);
    assert.equal(r.code, 0, r.err);
    const html = readFileSync(join(other, 'lenet5.html'), 'utf8');
    assert.match(html, /<li>lenet5\.predict\.csv \(beside the CSV\) is not drawn: predictions of another model \(model_sha256 ffffffffffff…\), but \S*lenet5\.csv was measured on model_sha256 [0-9a-f]{12}…/);
    assert.doesNotMatch(html, /predicted_total_ms|Red diamonds/, 'no predicted totals in the table or the charts');
  });

  it('refuses an --onnx_file other than the model the results were measured on, as predict and --resume do', async () => {
    const other = writeZooModel('input_reuse', dir);
    const page = join(dir, 'mismatch.html');
    const r = await cli(['report', '--results_file', csv, '--onnx_file', other, '--output_file', page]);
    assert.equal(r.code, 2, r.err);
    assert.equal(r.errLines.length, 1, r.err);
    const sha = csvRows(csv)[0]!.model_sha256!;
    assert.match(r.errLines[0]!, new RegExp(`${csv.replace(/[.\\/]/g, '\\$&')} holds results of another model \\(model_sha256 ${sha.slice(0, 12)}…, ${other.replace(/[.\\/]/g, '\\$&')} is [0-9a-f]{12}…\\)`));
    assert.ok(!existsSync(page), 'no page is written');
    // The model itself is taken.
    const same = await cli(['report', '--results_file', csv, '--onnx_file', model, '--output_file', page]);
    assert.equal(same.code, 0, same.err);
  });
});
