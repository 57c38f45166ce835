/**
 * A real headless Chromium for tests, from the npm package @sparticuz/chromium (installed by
 * `npm ci`, nothing downloaded at run time) driven by playwright-core.
 *
 * The package unpacks Chromium and its libraries into the system temp folder, and files left
 * there by another version make the launch fail, so it unpacks into a folder of its own named
 * for the version. TMPDIR points there only while the browser's paths are worked out.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);

function chromiumVersion(): string {
  const pkg = join(dirname(require.resolve('@sparticuz/chromium')), '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

export async function launchBrowser(): Promise<Browser> {
  const own = join(tmpdir(), `onnx-manager-chromium-${chromiumVersion()}`);
  mkdirSync(own, { recursive: true });
  const before = process.env.TMPDIR;
  process.env.TMPDIR = own;
  try {
    const { default: sparticuz } = await import('@sparticuz/chromium');
    const executablePath = await sparticuz.executablePath();
    return await playwright.launch({ executablePath, args: sparticuz.args, headless: true });
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

/** What a page did while it loaded: console errors, uncaught errors and requests that failed or left the file. */
export interface PageWatch {
  errors: string[];
  requests: string[];
}

// Chromium here runs as one process (sparticuz's flags): closing the last context closes the
// browser, so every page opens in one context kept for the browser's life.
const contexts = new WeakMap<Browser, BrowserContext>();

async function contextOf(browser: Browser): Promise<BrowserContext> {
  let c = contexts.get(browser);
  if (!c) {
    c = await browser.newContext();
    contexts.set(browser, c);
  }
  return c;
}

/**
 * Opens a local file in a new page and records every console error, page error and request
 * other than the file itself (a self-contained page makes none).
 */
export async function openFile(browser: Browser, file: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; watch: PageWatch }> {
  const page = await (await contextOf(browser)).newPage();
  await page.setViewportSize(viewport);
  const watch: PageWatch = { errors: [], requests: [] };
  const url = `file://${file}`;
  page.on('console', (m) => {
    if (m.type() === 'error') watch.errors.push(m.text());
  });
  page.on('pageerror', (e) => watch.errors.push(e.message));
  page.on('request', (r) => {
    if (r.url() !== url) watch.requests.push(r.url());
  });
  page.on('requestfailed', (r) => watch.errors.push(`request failed: ${r.url()}`));
  await page.goto(url, { waitUntil: 'load' });
  return { page, watch };
}

/** How many distinct colours a PNG screenshot has in a sample of its pixels (1 for a blank page). */
export async function distinctColours(png: Buffer): Promise<number> {
  const { default: sharp } = await import('sharp');
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const seen = new Set<number>();
  const step = Math.max(1, Math.floor((info.width * info.height) / 20000));
  for (let p = 0; p < info.width * info.height; p += step) {
    const o = p * info.channels;
    seen.add((data[o] << 16) | (data[o + 1] << 8) | data[o + 2]);
  }
  return seen.size;
}
