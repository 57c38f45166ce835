/**
 * The cloud side started ahead of the model (startCloud, whileCloudStarts): the worker that
 * started is stopped when what ran meanwhile fails, a run over it uses it, and a run given the
 * reference outputs uses them instead of running the model itself. The worker starts before the
 * store's client is open and the edge's provider checked: whatever fails after it started (the
 * provider, the store, the worker itself), the worker, the embedded server and its folder are gone
 * when the error arrives.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildRunConfig } from '../../src/config/run-config.js';
import { startCloud, startRun, whileCloudStarts } from '../../src/profile/start-run.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { loadableProviders, tempDirs, writeZooModel } from '../helpers.js';
import { running, workersOf } from '../processes.js';

const tempDir = tempDirs();

async function lenet() {
  return analyzeFile(writeZooModel('lenet5', await tempDir('start-cloud')), { createSession });
}

/**
 * `f` with the temporary folder (where the embedded store keeps its objects) a new empty one, and
 * (with `nodeOptions`) the workers started with those node options; returns the embedded stores' folders left in it.
 */
async function inOwnTmp(f: () => Promise<void>, nodeOptions?: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'start-cloud-tmp-'));
  const saved = { TMPDIR: process.env.TMPDIR, NODE_OPTIONS: process.env.NODE_OPTIONS };
  process.env.TMPDIR = dir;
  if (nodeOptions !== undefined) process.env.NODE_OPTIONS = nodeOptions;
  try {
    await f();
    // Only the embedded store's: the provider probe and onnxruntime leave files of their own there.
    return (await readdir(dir)).filter((n) => n.startsWith('onnx-manager-s3-'));
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Workers of this process not in `before` that are still running. */
const newWorkers = (before: ReadonlySet<number>) => workersOf(process.pid).filter((p) => !before.has(p) && running(p));

describe('the cloud side started ahead of the model', () => {
  it('refuses an execution provider that cannot load after the worker started, and leaves no worker, server or folder', async (t) => {
    if ((await loadableProviders()).includes('cuda')) return t.skip('cuda loads here');
    const before = new Set(workersOf(process.pid));
    let launched = false;
    const left = await inOwnTmp(async () => {
      await assert.rejects(
        startCloud(buildRunConfig({ exec_type: 'GPU', threads: 1 }, {}), { launched: () => (launched = true) }),
        /execution provider 'cuda' is not/,
      );
    });
    assert.ok(launched, 'the worker was started before the provider was checked');
    assert.deepEqual(newWorkers(before), [], 'no worker left running');
    assert.deepEqual(left, [], 'the embedded store removed its folder');
  });

  it('starts no worker on a store endpoint that does not answer', async () => {
    const before = new Set(workersOf(process.pid));
    const env = { MINIO_ACCESS_KEY: 'key', MINIO_SECRET_KEY: 'secret-key' };
    // Nothing listens on port 1; no retry budget: the client's opening fails at once. The worker
    // would fail on it too, and say so on stderr: it is started only on a store that answered.
    const config = buildRunConfig({ minio_endpoint: 'http://127.0.0.1:1', store_retry_s: 0, threads: 1 }, env);
    let launched = false;
    const seen: number[] = [];
    const watching = setInterval(() => seen.push(...newWorkers(before)), 5);
    try {
      await assert.rejects(startCloud(config, { env, launched: () => (launched = true) }), /cannot reach the object store at http:\/\/127\.0\.0\.1:1/);
    } finally {
      clearInterval(watching);
    }
    assert.ok(launched, 'launched is told when the start fails too');
    assert.deepEqual([...seen, ...newWorkers(before)], [], 'no worker was started');
  });

  it('closes the embedded server and removes its folder when the worker fails as it starts', async () => {
    const before = new Set(workersOf(process.pid));
    // Every worker fails as node starts: its preload module does not exist.
    const left = await inOwnTmp(
      () =>
        assert.rejects(
          whileCloudStarts(buildRunConfig({ threads: 1 }, {}), async (starting) => {
            const cloud = await starting!;
            await cloud.warming;
          }),
          /the local cloud worker exited/,
        ),
      `--require=${join(tmpdir(), 'no-such-preload-module.cjs')}`,
    );
    assert.deepEqual(newWorkers(before), [], 'no worker left running');
    assert.deepEqual(left, [], 'the embedded store removed its folder');
  });

  it('is stopped, worker and all, when what runs while it starts fails', async () => {
    const before = new Set(workersOf(process.pid));
    let started: number[] = [];
    await assert.rejects(
      whileCloudStarts(buildRunConfig({ threads: 1 }, {}), async (starting) => {
        const cloud = await starting!;
        await cloud.warming;
        started = workersOf(process.pid).filter((p) => !before.has(p));
        throw new Error('the model could not be analysed');
      }),
      /the model could not be analysed/,
    );
    assert.equal(started.length, 1, 'one worker started');
    assert.ok(!running(started[0]!), 'and it is gone');
  });

  it('is what a run over it uses, and the run closes it', async () => {
    const analysis = await lenet();
    const feeds = randomInputs(analysis);
    let workers: number[] = [];
    await whileCloudStarts(buildRunConfig({ warmup: 0, threads: 1 }, {}), async (starting) => {
      const cloud = await starting!;
      const run = await startRun(analysis, cloud.config, { feeds, cloud });
      try {
        assert.equal(run.ctx.backend, cloud.backend);
        assert.equal(run.directStore, cloud.directStore);
        workers = workersOf(process.pid);
        const { rows } = await run.measureSplit(analysis.splitPoints[2]!, 2);
        assert.ok(rows.every((r) => r.status === 'ok'), rows.map((r) => r.error).join('; '));
      } finally {
        await run.close();
      }
      assert.ok(workers.length > 0 && workers.every((p) => !running(p)), 'the worker stopped with the run');
    });
  });

  it('compares with the reference outputs it is given instead of running the model for them', async () => {
    const analysis = await lenet();
    const feeds = randomInputs(analysis);
    const session = await createSession(analysis.model.bytes, {});
    let given: Record<string, HostTensor>;
    try {
      given = await session.run(feeds);
    } finally {
      await session.release();
    }
    // Every output off by exactly 0.5: the rows' max_abs_diff says which reference was used.
    const shifted = Object.fromEntries(Object.entries(given).map(([n, t]) => [n, { ...t, data: Float32Array.from(t.data as Float32Array, (v) => v + 0.5) }]));
    const run = await startRun(analysis, buildRunConfig({ warmup: 0, threads: 1 }, {}), { feeds, expected: shifted });
    try {
      const { rows } = await run.measureSplit(analysis.splitPoints[2]!, 1);
      assert.equal(rows.length, 1);
      assert.ok(Math.abs(Number(rows[0]!.max_abs_diff) - 0.5) < 1e-3, `max_abs_diff ${rows[0]!.max_abs_diff} against the shifted reference`);
    } finally {
      await run.close();
    }
  });
});
