import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { encodeModel } from '../../src/onnx/codec.js';
import { cli } from '../cli-helper.js';
import { distinctColours, launchBrowser, openFile } from '../browser/browser.js';
import { tempDirs } from '../helpers.js';
import { densenet121Like } from './graph-models.js';

// The page's globals, as far as these tests use them (the project compiles without the DOM library).
interface PageElement {
  id: string;
  dataset: Record<string, string>;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; top: number; width: number; height: number };
}
declare const document: { querySelector(s: string): PageElement | null; getElementById(id: string): PageElement | null };
declare const window: { graphView?: { panZoom: { getZoom(): number; zoomBy(f: number): void; getSizes(): { realZoom: number } } } };
declare function requestAnimationFrame(f: () => void): void;

/** Waits three frames: the page pans a frame after it zooms, and svg-pan-zoom applies either on the next one. */
const frames = (page: Page) => page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => requestAnimationFrame(done)))));

const temp = tempDirs();
let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const viewportTransform = (page: Page) => page.$eval('.svg-pan-zoom_viewport', (g) => g.getAttribute('transform'));

test('the graph page of DenseNet-121 opens with no errors or requests, zooms, pans to a search hit and is not blank', async () => {
  const dir = await temp('graph-browser');
  const file = join(dir, 'densenet121.onnx');
  writeFileSync(file, encodeModel(densenet121Like()));
  const r = await cli(['--operation', 'show_graph', '--onnx_file', file, '--split_layer', '100']);
  assert.equal(r.code, 0, r.err);
  const { page, watch } = await openFile(browser, join(dir, 'densenet121.graph.html'));
  assert.deepEqual(watch, { errors: [], requests: [] });
  assert.ok((await page.$$('#graph .node')).length >= 400);
  // It opens at one SVG unit a pixel with the input at the top, in the middle.
  await page.waitForFunction(() => window.graphView !== undefined);
  await frames(page);
  const start = await page.evaluate(() => {
    const box = document.getElementById('in0')!.getBoundingClientRect();
    const area = document.getElementById('graph')!.getBoundingClientRect();
    return { zoom: window.graphView!.panZoom.getSizes().realZoom, top: box.top - area.top, dx: box.left + box.width / 2 - (area.left + area.width / 2) };
  });
  assert.ok(Math.abs(start.zoom - 1) < 1e-6 && Math.abs(start.top - 12) < 2 && Math.abs(start.dx) < 2, JSON.stringify(start));
  assert.ok((await distinctColours(await page.screenshot())) > 5, 'the screenshot is not blank');

  // A wheel over the graph zooms.
  const before = await viewportTransform(page);
  await page.mouse.move(500, 400);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction((t) => document.querySelector('.svg-pan-zoom_viewport')!.getAttribute('transform') !== t, before);
  const zoomed = await viewportTransform(page);
  assert.notEqual(zoomed, before);
  // So does the API.
  const z = await page.evaluate(() => {
    const v = window.graphView!.panZoom;
    const z0 = v.getZoom();
    v.zoomBy(2);
    return [z0, v.getZoom()];
  });
  assert.ok(Math.abs(z[1]! / z[0]! - 2) < 1e-6, `zoom ${z[0]} -> ${z[1]}`);
  assert.notEqual(await viewportTransform(page), zoomed);

  // From the whole graph, the search finds a node by name and brings it to the middle of the graph area, readable.
  await page.click('#fit');
  await frames(page);
  await page.fill('#search', 'concat_40');
  assert.equal(await page.textContent('#count'), '1 found');
  await frames(page);
  const where = await page.evaluate(() => {
    const hit = document.querySelector('.node.current')!;
    const box = hit.getBoundingClientRect();
    const area = document.getElementById('graph')!.getBoundingClientRect();
    return { id: hit.id, name: hit.dataset.name, zoom: window.graphView!.panZoom.getSizes().realZoom, dx: box.left + box.width / 2 - (area.left + area.width / 2), dy: box.top + box.height / 2 - (area.top + area.height / 2) };
  });
  assert.equal(where.name, 'concat_40');
  assert.ok(Math.abs(where.zoom - 1) < 1e-6, JSON.stringify(where));
  assert.ok(Math.abs(where.dx) < 2 && Math.abs(where.dy) < 2, JSON.stringify(where));
  // Edge and cloud boxes are both drawn, in their colours.
  assert.equal(await page.$eval(`#${where.id} > rect`, (r) => r.getAttribute('fill')), '#fde68a');
  assert.deepEqual(watch, { errors: [], requests: [] });
  await page.close();
});
