/**
 * Runs onnx-cloud's bundle (scripts/bundle-cloud.mjs) through V8's code cache: every OSCAR or
 * Kubernetes job starts a fresh process, and compiling the bundle's JavaScript was the largest part
 * of onnx-cloud's own start-up. Node 20 caches no ES module's code, so the bundle is CommonJS, run
 * here as a vm.Script with the cached data the build stored beside it.
 *
 * The packages a job may not need (the store client, the full argument parser) are bundled apart,
 * one file each (`./vendor/<name>.cjs`), and are read and run only when the code first requires
 * them. A cache that does not belong to its file is never read: its name carries the hash of the
 * file it was made for. One V8 rejects (another node, other V8 flags) only costs the compile.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/** One bundled file: its name beside the entry, and its cache's (absent: compiled without one). */
export interface BundleFile {
  file: string;
  cache?: string;
}

/** The entry's bundle and its apart-bundled packages, by the id the bundle requires them with. */
export interface BundleManifest {
  main: BundleFile;
  vendor: Record<string, BundleFile>;
}

interface Loaded {
  script: Script;
  path: string;
  exports: unknown;
  cacheRejected: boolean | undefined;
}

const WRAPPER = ['(function (exports, require, module, __filename, __dirname, __importMetaUrl) {', '\n})'];

export class CachedBundle {
  private readonly dir: string;
  private readonly loaded = new Map<string, Loaded>();

  /** entryUrl: the entry module's import.meta.url (the bundle's own import.meta.url is the entry's). */
  constructor(
    private readonly entryUrl: string,
    private readonly manifest: BundleManifest,
  ) {
    this.dir = dirname(fileURLToPath(entryUrl));
  }

  /** The entry bundle's exports (run once). */
  load(): Record<string, unknown> {
    return this.run(this.manifest.main, this.entryUrl) as Record<string, unknown>;
  }

  /** The files run so far, each with whether V8 took its cache (undefined: it had none). */
  report(): { file: string; cacheRejected: boolean | undefined }[] {
    return [...this.loaded.values()].map((l) => ({ file: l.path, cacheRejected: l.cacheRejected }));
  }

  /** The code cache of every file run so far, made now: it holds the functions compiled until now. */
  codeCaches(): { file: string; data: Buffer }[] {
    return [...this.loaded.values()].map((l) => ({ file: l.path, data: l.script.createCachedData() }));
  }

  private run(entry: BundleFile, url?: string): unknown {
    const path = join(this.dir, entry.file);
    const done = this.loaded.get(path);
    if (done) return done.exports;
    const source = readFileSync(path, 'utf8').replace(/^#!.*/, '');
    let cachedData: Buffer | undefined;
    const cachePath = entry.cache === undefined ? undefined : join(this.dir, entry.cache);
    if (cachePath) {
      try {
        cachedData = readFileSync(cachePath);
      } catch {
        // Not built (or removed): compiled without it.
      }
    }
    const script = new Script(WRAPPER[0] + source + WRAPPER[1], { filename: path, cachedData });
    const module = { exports: {} as unknown };
    const loaded: Loaded = { script, path, exports: undefined, cacheRejected: cachedData ? script.cachedDataRejected : undefined };
    this.loaded.set(path, loaded);
    const own = createRequire(path);
    const vendor = this.manifest.vendor;
    const require = Object.assign((id: string) => (Object.hasOwn(vendor, id) ? this.run(vendor[id]!) : own(id)), { resolve: own.resolve, cache: own.cache, main: undefined });
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    // A cycle sees the object being filled; a file that throws is run again when required again.
    loaded.exports = module.exports;
    try {
      wrapper.call(module.exports, module.exports, require, module, path, dirname(path), url ?? pathToFileURL(path).href);
    } catch (err) {
      this.loaded.delete(path);
      throw err;
    }
    loaded.exports = module.exports;
    return module.exports;
  }
}
