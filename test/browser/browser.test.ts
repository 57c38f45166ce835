import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { tempDirs } from '../helpers.js';
import { distinctColours, launchBrowser, openFile } from './browser.js';

const temp = tempDirs();
let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('the packaged Chromium opens a local page, reports its errors and external requests, and screenshots it', async () => {
  const dir = await temp('browser');
  const good = join(dir, 'good.html');
  await writeFile(good, '<!doctype html><title>t</title><body style="background:#fff"><h1 id="h" style="color:#c00">split 3</h1><svg width="200" height="80"><rect width="120" height="40" fill="#36c"/></svg></body>');
  const { page, watch } = await openFile(browser, good);
  assert.equal(await page.textContent('#h'), 'split 3');
  assert.deepEqual(watch, { errors: [], requests: [] });
  assert.ok((await distinctColours(await page.screenshot())) > 2);
  await page.close();

  const bad = join(dir, 'bad.html');
  await writeFile(bad, '<!doctype html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); undefinedCall();</script></body>');
  const b = await openFile(browser, bad);
  assert.ok(b.watch.errors.some((e) => e.includes('boom')));
  assert.ok(b.watch.errors.some((e) => e.includes('undefinedCall')));
  assert.ok(b.watch.requests.includes('http://127.0.0.1:9/x.png'));
  await b.page.close();

  const blank = join(dir, 'blank.html');
  await writeFile(blank, '<!doctype html><body style="background:#fff"></body>');
  const c = await openFile(browser, blank);
  assert.equal(await distinctColours(await c.page.screenshot()), 1);
  await c.page.close();
});
