/**
 * CachedBundle (cloud/code-cache.ts) on small bundles of its own: apart-bundled files run once,
 * when first required; a cache is taken, a cache of other code is refused by V8 and the file still
 * runs; the bundle sees its entry's import.meta.url.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CachedBundle, type BundleManifest } from '../../cloud/code-cache.js';

describe('CachedBundle', () => {
  let dir: string;
  const entryUrl = () => pathToFileURL(join(dir, 'entry.js')).href;
  const manifest = (cache?: string): BundleManifest => ({ main: { file: 'main.cjs', ...(cache ? { cache } : {}) }, vendor: { './vendor/lib.cjs': { file: 'vendor/lib.cjs' } } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-manager-code-cache-'));
    await mkdir(join(dir, 'vendor'));
    await writeFile(
      join(dir, 'main.cjs'),
      [
        '#!/usr/bin/env node',
        'globalThis.__codeCacheRuns = (globalThis.__codeCacheRuns ?? 0) + 1;',
        "exports.url = __importMetaUrl;",
        "exports.lib = () => require('./vendor/lib.cjs');",
        "exports.path = require('node:path').basename(__filename);",
        'exports.square = (x) => x * x;',
      ].join('\n'),
    );
    await writeFile(join(dir, 'vendor', 'lib.cjs'), 'globalThis.__codeCacheLib = (globalThis.__codeCacheLib ?? 0) + 1; module.exports = { dir: __dirname };');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the entry with its import.meta.url and an apart-bundled file once, when first required', () => {
    const g = globalThis as { __codeCacheRuns?: number; __codeCacheLib?: number };
    const bundle = new CachedBundle(entryUrl(), manifest());
    const m = bundle.load() as { url: string; lib(): { dir: string }; path: string; square(x: number): number };
    assert.equal(bundle.load(), m, 'run once');
    assert.equal(g.__codeCacheRuns, 1);
    assert.equal(m.url, entryUrl());
    assert.equal(m.path, 'main.cjs');
    assert.equal(g.__codeCacheLib, undefined, 'not required yet');
    assert.equal(m.lib(), m.lib());
    assert.equal(g.__codeCacheLib, 1);
    assert.equal(m.lib().dir, join(dir, 'vendor'));
    assert.deepEqual(bundle.report(), [
      { file: join(dir, 'main.cjs'), cacheRejected: undefined },
      { file: join(dir, 'vendor', 'lib.cjs'), cacheRejected: undefined },
    ]);
  });

  it("takes a cache made for the file's code and refuses one made for other code, running the file either way", async () => {
    const first = new CachedBundle(entryUrl(), manifest());
    (first.load() as { square(x: number): number }).square(3);
    await writeFile(join(dir, 'main.cache'), first.codeCaches()[0]!.data);
    // Other files (V8 keeps what it compiled in this process by source and name): the same code,
    // and code of another length.
    const text = await readFile(join(dir, 'main.cjs'), 'utf8');
    await writeFile(join(dir, 'same.cjs'), text);
    await writeFile(join(dir, 'other.cjs'), `${text}\nexports.cube = (x) => x * x * x;`);
    const run = (file: string, cache?: string) => {
      const b = new CachedBundle(entryUrl(), { main: { file, ...(cache ? { cache } : {}) }, vendor: {} });
      return { m: b.load() as { square(x: number): number }, rejected: b.report()[0]!.cacheRejected };
    };
    const taken = run('same.cjs', 'main.cache');
    assert.equal(taken.m.square(4), 16);
    assert.equal(taken.rejected, false, 'taken');
    const refused = run('other.cjs', 'main.cache');
    assert.equal(refused.m.square(5), 25);
    assert.equal(refused.rejected, true, 'refused');
    // No cache file: compiled, as without a cache.
    await writeFile(join(dir, 'none.cjs'), text);
    const none = run('none.cjs', 'missing.cache');
    assert.equal(none.m.square(6), 36);
    assert.equal(none.rejected, undefined);
  });
});
