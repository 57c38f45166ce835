/**
 * The bundled onnx-cloud (scripts/bundle-cloud.mjs, cloud/code-cache.ts): a job from a file runs
 * without the store client and the full argument parser (their files are not even there), the
 * bundle runs through the code cache the build made, and onnxruntime's telemetry stays off unless
 * the user turns it on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { decodePayload, encodePayload } from '../../src/tensor/payload/index.js';
import { lenet5, projectRoot } from '../models/zoo.js';

const root = projectRoot();
const built = join(root, 'dist', 'cloud');

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

function run(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // An undefined value removes the variable.
    const all = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
    const child = spawn(process.execPath, [entry, ...args], { env: all, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('bundled onnx-cloud', () => {
  let dir: string;
  let part: string;
  let input: string;
  const job = (out: string) => ['--onnx_file', part, '--input_file', input, '--save_results', out];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-manager-bundle-test-'));
    part = join(dir, 'lenet5.onnx');
    input = join(dir, 'in.pb');
    await writeFile(part, encodeModel(lenet5()));
    const data = new Float32Array(784).map((_, i) => Math.sin(i));
    const payload = encodePayload({ kind: 'input', runId: 'r', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map([['input', { type: 'float32', dims: [1, 1, 28, 28], data }]]) });
    await writeFile(input, payload.concat());
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a job from a file without the store client and yargs: a copy without their files gives the same result', async () => {
    // A copy of dist/cloud without vendor/minio.cjs and vendor/yargs.cjs, beside the project's packages.
    const copy = join(dir, 'copy');
    await cp(built, join(copy, 'cloud'), { recursive: true, filter: (src) => !/vendor[\\/](minio|yargs)\.cjs$/.test(src) });
    await symlink(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
    await writeFile(join(copy, 'package.json'), '{"type":"module"}');
    assert.deepEqual((await readdir(join(copy, 'cloud', 'vendor'))).filter((f) => f.endsWith('.cjs')), [], 'the copy has no vendor bundle');
    const entry = join(copy, 'cloud', 'onnx-cloud.js');

    const full = await run(join(built, 'onnx-cloud.js'), job(join(dir, 'full.pb')));
    assert.equal(full.code, 0, full.err);
    const stripped = await run(entry, job(join(dir, 'stripped.pb')));
    assert.equal(stripped.code, 0, stripped.err);
    const a = decodePayload(await readFile(join(dir, 'full.pb')));
    const b = decodePayload(await readFile(join(dir, 'stripped.pb')));
    assert.equal(b.kind, 'output');
    assert.deepEqual([...b.tensors.keys()], ['logits']);
    const bytes = (p: typeof a) => {
      const d = p.tensors.get('logits')!.data as Float32Array;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    };
    assert.deepEqual(bytes(b), bytes(a), 'the same logits, bit for bit');

    // The same copy needs them for a job from the store and for --help: so the job above ran without them.
    const store = await run(entry, ['--input_key', 'input/r/0/0.pb', '--output_key', 'output/r/0/0.pb'], { MINIO_ENDPOINT: 'http://127.0.0.1:9', MINIO_ACCESS_KEY: 'k', MINIO_SECRET_KEY: 's' });
    assert.notEqual(store.code, 0);
    assert.match(store.err, /vendor[\\/]minio\.cjs/);
    const help = await run(entry, ['--help']);
    assert.notEqual(help.code, 0);
    assert.match(help.err, /vendor[\\/]yargs\.cjs/);
  });

  it('runs through the code cache the build made', async () => {
    const entry = (await import(pathToFileURL(join(built, 'onnx-cloud.js')).href)) as { onnxCloudBundle: { report(): { file: string; cacheRejected: boolean | undefined }[] } };
    const main = entry.onnxCloudBundle.report().find((f) => f.file === join(built, 'onnx-cloud.bundle.cjs'));
    assert.ok(main, 'the bundle ran');
    assert.equal(main.cacheRejected, false, 'V8 took the cache');
  });

  it("keeps onnxruntime's telemetry off unless the user turns it on", async () => {
    const home = join(dir, 'home');
    // onnxruntime's telemetry stays off by itself under CI=true (the CI run of this suite): the
    // child runs as on a user's machine.
    const off = await run(join(built, 'onnx-cloud.js'), job(join(dir, 'off.pb')), { HOME: home, XDG_CACHE_HOME: undefined, ORT_DISABLE_TELEMETRY: undefined, CI: undefined });
    assert.equal(off.code, 0, off.err);
    await assert.rejects(readdir(join(home, '.cache', 'Microsoft')), { code: 'ENOENT' });
    const on = await run(join(built, 'onnx-cloud.js'), job(join(dir, 'on.pb')), { HOME: home, XDG_CACHE_HOME: undefined, ORT_DISABLE_TELEMETRY: '0', CI: undefined });
    assert.equal(on.code, 0, on.err);
    assert.ok((await readdir(join(home, '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime'))).includes('onnxruntime.db'), 'with ORT_DISABLE_TELEMETRY=0 onnxruntime keeps its telemetry');
  });
});
