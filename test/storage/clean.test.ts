/**
 * `clean --run_id ID | --all` against the project's S3 server with real objects: only the named
 * run's payloads and results go (every run's with --all), nothing else in the bucket; and
 * `run_all --resume` removes what a killed sweep left before it goes on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { humanBytes } from '../../src/cli/format.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import { newRunId, TOOL_RUN_ID } from '../../src/storage/run-id.js';
import { startS3Server, type S3Server } from '../../src/storage/s3-server/server.js';
import type { ObjectStore } from '../../src/storage/store.js';
import { cli, expectOneLineFailures } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { running, workersOf } from '../processes.js';
import { projectRoot } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-clean-'));
const KEYS = { accessKey: 'clean-test', secretKey: 'clean-test-secret-key' };
const BUCKET = 'clean-test';
const RUN_A = '20261201T150000-aaaa1111';
const RUN_B = '20261201T160000-bbbb2222';
let server: S3Server;
let store: ObjectStore;
let env: Record<string, string | undefined>;

before(async () => {
  server = await startS3Server({ dir: mkdtempSync(join(dir, 's3-')), ...KEYS });
  store = await openMinioStore({ endpoint: server.endpoint, ...KEYS, bucket: BUCKET });
  env = { MINIO_ENDPOINT: server.endpoint, MINIO_ACCESS_KEY: KEYS.accessKey, MINIO_SECRET_KEY: KEYS.secretKey, MINIO_BUCKET: BUCKET };
});
after(async () => {
  await store.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Objects no sweep writes under these names: they must survive every clean. */
const OTHERS = ['models/0123abcd.onnx', 'input/notes.txt', 'input/README', `input/${RUN_A}/readme.txt`, `output/${RUN_A}/2/summary.csv`, 'results/a.csv', `other/${RUN_A}/2/0.pb`];

/** A run's payloads and results as a sweep names them (a warm-up, two reps, a codec's). */
function runKeys(run: string): string[] {
  return [`input/${run}/2/w1.pb`, `output/${run}/2/w1.pb`, `input/${run}/2/0.pb`, `output/${run}/2/0.pb`, `input/${run}/13/1-fp16.pb`, `output/${run}/13/1-fp16.pb`];
}

/** Puts every object; returns the bytes of each run's. */
async function fill(): Promise<{ a: number; b: number }> {
  const bytes = { a: 0, b: 0 };
  for (const [i, key] of [...OTHERS, ...runKeys(RUN_A), ...runKeys(RUN_B)].entries()) {
    const body = Buffer.alloc(100 + i, i);
    await store.put(key, body);
    if (runKeys(RUN_A).includes(key)) bytes.a += body.length;
    if (runKeys(RUN_B).includes(key)) bytes.b += body.length;
  }
  return bytes;
}

async function everything(): Promise<string[]> {
  return (await store.list('')).sort();
}

it("the run ids a run gets are of the form clean --all takes for this tool's in shared folders", () => {
  for (let k = 0; k < 20; k++) {
    const id = newRunId();
    assert.equal(TOOL_RUN_ID.exec(`${id}-3-0.pb`)?.[1], id);
  }
});

describe('clean', () => {
  it('--run_id removes that run’s input/ and output/ objects and nothing else; --all every run’s, never other objects', async () => {
    const bytesA = (await fill()).a;
    const r = await cli(['--operation', 'clean', '--run_id', RUN_A], { env });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `removed 6 objects (${humanBytes(bytesA)}) of run ${RUN_A} from bucket '${BUCKET}' at ${server.endpoint}: 3 under input/, 3 under output/`);
    assert.deepEqual(await everything(), [...OTHERS, ...runKeys(RUN_B)].sort());
    const again = await cli(['clean', '--run_id', RUN_A], { env });
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, `nothing to remove: no objects of run ${RUN_A} in bucket '${BUCKET}' at ${server.endpoint}`);
    const { a, b } = await fill();
    const all = await cli(['clean', '--all'], { env });
    assert.equal(all.code, 0, all.err);
    assert.equal(all.out, `removed 12 objects (${humanBytes(a + b)}) of 2 runs (${RUN_A}, ${RUN_B}) from bucket '${BUCKET}' at ${server.endpoint}: 6 under input/, 6 under output/`);
    assert.deepEqual(await everything(), [...OTHERS].sort());
  });

  it('refuses in one line: no run named, both, a run id that is not one, no store to clean', async () => {
    await expectOneLineFailures([
      [['clean'], /clean needs --run_id ID or --all/],
      [['clean', '--run_id', RUN_A, '--all'], /^onnx-manager: give only one of --run_id and --all$/],
      [['clean', '--run_id', '../models'], /--run_id '\.\.\/models' is not a run id/],
      [['clean', '--run_id', '..'], /--run_id '\.\.' is not a run id/],
      [['clean', '--run_id', ''], /^onnx-manager: --run_id needs a value$/],
    ]);
    const r = await cli(['clean', '--all'], { env: { MINIO_ENDPOINT: undefined } });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^onnx-manager: clean needs the store to clean: give --minio_endpoint/);
    assert.deepEqual(await everything(), [...OTHERS].sort(), 'nothing was touched');
  });

  it('run_all --resume removes what the killed sweep left in the bucket before it goes on', { timeout: 120_000 }, async () => {
    const model = writeZooModel('lenet5', dir);
    const csv = join(dir, 'killed.csv');
    const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
    const args = ['--operation', 'run_all', '--onnx_file', model, '--splits', '2', '--rep', '40', '--warmup', '0', '--threads', '1', '--results_file', csv];
    const rows = (): Record<string, string>[] => (existsSync(csv) ? (parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[]) : []);
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    for (let t = 0; rows().length < 5; t += 20) {
      assert.ok(t < 60_000, 'the sweep wrote rows');
      await new Promise((r) => setTimeout(r, 20));
    }
    const worker = workersOf(child.pid!)[0];
    child.kill('SIGKILL');
    await exited;
    // The orphaned worker ends when its input does, after the job in hand (its result is a leftover too).
    for (let t = 0; worker !== undefined && running(worker); t += 20) {
      assert.ok(t < 60_000, 'the worker ended');
      await new Promise((r) => setTimeout(r, 20));
    }
    const run = rows()[0]!.run_id!;
    const left = (await everything()).filter((k) => k.includes(`/${run}/`));
    assert.ok(left.length >= 10, `the killed sweep left its objects: ${left.length}`);
    const r = await cli([...args, '--resume'], { env });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^removed ${left.length} objects \\(.*\\) of run ${run} from bucket '${BUCKET}' at .*\\(left by the sweep this one resumes\\)$`, 'm'));
    assert.deepEqual(
      (await everything()).filter((k) => k.startsWith('input/') || k.startsWith('output/')).filter((k) => !OTHERS.includes(k)),
      [],
      'the old run’s objects are gone, and the resumed sweep removed its own',
    );
    assert.equal(rows().length >= 40, true);
  });
});
