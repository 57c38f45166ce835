// Bundles the cloud entries, after tsc has compiled them, in place:
//  - dist/cloud/onnx-cloud.js, what every OSCAR or Kubernetes job starts: one CommonJS bundle
//    (onnx-cloud.bundle.cjs) with the packages a job may not need bundled apart
//    (vendor/minio.cjs, the store client; vendor/yargs.cjs, the full argument parser), each with a
//    V8 code cache made here by running a job from a file and one from the store
//    (cloud/code-cache.ts runs them; dist/cloud/onnx-cloud.js becomes a few lines that do so);
//  - dist/cloud/worker.js, the local cloud worker: one ES module, its lazy parts in chunks/.
// Node then reads a few files and compiles little instead of resolving and evaluating about a
// hundred small modules: the start-up of every job.
// Native packages (onnxruntime-node, sharp, zstd, crc32) stay outside and load from node_modules.
// Run by `npm run build`, `npm ci` (prepare), `npm test` and `npm run bench`. Without it the
// compiled entries work the same, only start slower; without the caches (a failed warm-up), the
// bundle works the same, compiled at each start.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cloud = join(root, 'dist/cloud');
const entries = ['dist/cloud/onnx-cloud.js', 'dist/cloud/worker.js', 'dist/cloud/code-cache.js'];
const missing = entries.filter((e) => !existsSync(`${root}/${e}`));
if (missing.length) {
  console.error(`bundle-cloud: ${missing.join(', ')} missing: run tsc -p tsconfig.json first`);
  process.exit(1);
}
const common = {
  absWorkingDir: root,
  minify: true,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['onnxruntime-node', 'sharp', '@mongodb-js/zstd', '@node-rs/crc32'],
  logLevel: 'warning',
};
await rm(`${cloud}/chunks`, { recursive: true, force: true });
await rm(`${cloud}/vendor`, { recursive: true, force: true });
for (const old of ['onnx-cloud.bundle.cjs']) await rm(join(cloud, old), { force: true });

// The worker: what it imports with import() and what it shares goes to chunks.
await build({
  ...common,
  entryPoints: ['dist/cloud/worker.js'],
  outdir: 'dist/cloud',
  entryNames: '[name]',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  // CommonJS dependencies inside the bundle call require(): give the ES module one.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
});

// onnx-cloud: CommonJS, run by cloud/code-cache.ts, which gives it its entry's import.meta.url.
// Each with what the project imports from it: minio's named exports; yargs' default export, which
// for a CommonJS module (as Node reads one imported by an ES module) is its module.exports.
const vendorSpecs = {
  minio: { contents: "export * from 'minio';" },
  yargs: { contents: "export { default } from 'yargs';", footer: 'module.exports = module.exports.default;' },
};
const vendor = Object.keys(vendorSpecs);
const cjs = {
  ...common,
  format: 'cjs',
  define: { 'import.meta.url': '__importMetaUrl' },
  // import() of the native packages becomes require(): a vm.Script has no module loader.
  supported: { 'dynamic-import': false },
};
const vendorRequire = (name) => `./vendor/${name}.cjs`;
await build({
  ...cjs,
  entryPoints: ['dist/cloud/onnx-cloud.js'],
  outfile: 'dist/cloud/onnx-cloud.bundle.cjs',
  plugins: [
    {
      name: 'vendor',
      setup(b) {
        b.onResolve({ filter: new RegExp(`^(${vendor.join('|')})$`) }, (args) => ({ path: vendorRequire(args.path), external: true }));
      },
    },
  ],
});
await mkdir(`${cloud}/vendor`, { recursive: true });
for (const name of vendor) {
  await build({
    ...cjs,
    stdin: { contents: vendorSpecs[name].contents, resolveDir: root, sourcefile: `${name}.mjs` },
    ...(vendorSpecs[name].footer ? { footer: { js: vendorSpecs[name].footer } } : {}),
    outfile: `dist/cloud/vendor/${name}.cjs`,
  });
}

// The entry and the caches, named by the hash of the file each is made for.
const hash = async (file) => createHash('sha256').update(await readFile(join(cloud, file))).digest('hex').slice(0, 16);
const fileOf = async (file) => ({ file, cache: `${file}.${await hash(file)}.v8cache` });
const manifest = { main: await fileOf('onnx-cloud.bundle.cjs'), vendor: {} };
for (const name of vendor) manifest.vendor[vendorRequire(name)] = await fileOf(`vendor/${name}.cjs`);
const entryUrl = pathToFileURL(join(cloud, 'onnx-cloud.js')).href;
const { CachedBundle } = await import(pathToFileURL(join(cloud, 'code-cache.js')).href);
const loader = new CachedBundle(entryUrl, { main: { file: manifest.main.file }, vendor: Object.fromEntries(Object.entries(manifest.vendor).map(([k, v]) => [k, { file: v.file }])) });
const names = Object.keys(loader.load());
await writeFile(
  join(cloud, 'onnx-cloud.js'),
  [
    '#!/usr/bin/env node',
    '// onnx-cloud, as scripts/bundle-cloud.mjs bundles it: onnx-cloud.bundle.cjs run through its code cache.',
    "import { CachedBundle } from './code-cache.js';",
    '/** The bundle as it was run: its files, and whether V8 took their caches (CachedBundle.report()). */',
    `export const onnxCloudBundle = new CachedBundle(import.meta.url, ${JSON.stringify(manifest)});`,
    `export const { ${names.join(', ')} } = onnxCloudBundle.load();`,
    '',
  ].join('\n'),
);
for (const entry of ['dist/cloud/onnx-cloud.js', 'dist/cloud/worker.js']) await rm(`${root}/${entry}.map`, { force: true });

// The warm-up: a job from a file and one from the store, so that the caches hold what a job compiles.
try {
  await warmUp(loader.load().cloudMain);
  for (const { file, data } of loader.codeCaches()) {
    const name = file.slice(cloud.length + 1);
    const entry = name === manifest.main.file ? manifest.main : Object.values(manifest.vendor).find((v) => v.file === name);
    await writeFile(join(cloud, entry.cache), data);
  }
} catch (err) {
  console.warn(`bundle-cloud: no code cache (onnx-cloud starts slower): ${err instanceof Error ? err.message : err}`);
}

async function warmUp(cloudMain) {
  const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
  const [{ encodeModel }, { partHash }, { encodePayload }, { startEmbeddedStore }, { storeKeys }] = await Promise.all(
    ['onnx/codec.js', 'onnx/part-hash.js', 'tensor/payload/index.js', 'storage/embedded.js', 'storage/store.js'].map(dist),
  );
  const value = (name) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } });
  const graph = { name: 'warm-up', node: [{ opType: 'Relu', input: ['x'], output: ['y'], name: 'relu' }], input: [value('x')], output: [value('y')] };
  const model = encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'onnx-manager', graph });
  const tensors = new Map([['x', { type: 'float32', dims: [1, 4], data: new Float32Array([-1, 0, 1, 2]) }]]);
  const payload = encodePayload({ kind: 'input', runId: 'warm-up', splitIndex: 0, rep: 0, nextModels: [partHash(model)], timings: [], tensors }).concat();
  const dir = await mkdtemp(join(tmpdir(), 'onnx-manager-bundle-'));
  const bucket = 'warm-up';
  const store = await startEmbeddedStore({ bucket });
  const lines = [];
  const io = { out: (l) => lines.push(l), err: (l) => lines.push(l), isTTY: false };
  try {
    await writeFile(join(dir, 'part.onnx'), model);
    await writeFile(join(dir, 'in.pb'), payload);
    const fromFile = await cloudMain(['--onnx_file', join(dir, 'part.onnx'), '--input_file', join(dir, 'in.pb'), '--save_results', join(dir, 'out.pb')], {}, io);
    await store.store.put(storeKeys.model(partHash(model)), model);
    await store.store.put(storeKeys.input('warm-up', 0, 0), payload);
    const env = { MINIO_ENDPOINT: store.endpoint, MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey, MINIO_BUCKET: bucket, MINIO_REGION: store.region };
    const fromStore = await cloudMain(['--input_key', storeKeys.input('warm-up', 0, 0), '--output_key', storeKeys.output('warm-up', 0, 0)], env, io);
    if (fromFile !== 0 || fromStore !== 0) throw new Error(`the warm-up jobs failed: ${lines.join(' ')}`);
  } finally {
    await store.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
