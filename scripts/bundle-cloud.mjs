// Bundles the cloud entries, after tsc has compiled them, each into one file in place:
// dist/cloud/onnx-cloud.js (what every OSCAR or Kubernetes job starts) and dist/cloud/worker.js
// (the local cloud worker). Node then reads one file instead of resolving and evaluating about a
// hundred small modules (the project's and yargs', minio's): the start-up of every job.
// Native packages (onnxruntime-node, sharp, zstd) stay outside and load from node_modules; modules
// the entry imports with import() are bundled too but evaluated only when called.
// Run by `npm run build`, `npm ci` (prepare), `npm test` and `npm run bench`. Without it the
// compiled entries work the same, only start slower.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entries = ['dist/cloud/onnx-cloud.js', 'dist/cloud/worker.js'];
const missing = entries.filter((e) => !existsSync(`${root}/${e}`));
if (missing.length) {
  console.error(`bundle-cloud: ${missing.join(', ')} missing: run tsc -p tsconfig.json first`);
  process.exit(1);
}
await rm(`${root}/dist/cloud/chunks`, { recursive: true, force: true });
await build({
    absWorkingDir: root,
    entryPoints: entries,
    outdir: 'dist/cloud',
    entryNames: '[name]',
    // What the entries import with import() (the store client, the worker loop) and what they
    // share goes to chunks, read only when a job needs it.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['onnxruntime-node', 'sharp', '@mongodb-js/zstd'],
    // CommonJS dependencies inside the bundle call require(): give the ES module one.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    logLevel: 'warning',
});
// tsc's source maps describe the modules before bundling.
for (const entry of entries) await rm(`${root}/${entry}.map`, { force: true });
