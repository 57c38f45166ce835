/**
 * The cloud side started ahead of the model (startCloud, whileCloudStarts): the worker that
 * started is stopped when what ran meanwhile fails, a run over it uses it, and a run given the
 * reference outputs uses them instead of running the model itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRunConfig } from '../../src/config/run-config.js';
import { startRun, whileCloudStarts } from '../../src/profile/start-run.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { running, workersOf } from '../processes.js';

const tempDir = tempDirs();

async function lenet() {
  return analyzeFile(writeZooModel('lenet5', await tempDir('start-cloud')), { createSession });
}

describe('the cloud side started ahead of the model', () => {
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
