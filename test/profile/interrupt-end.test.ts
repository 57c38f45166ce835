/**
 * Ctrl-C (SIGINT) or SIGTERM once run_all's last row is recorded, while it stops the cloud worker
 * and the store and writes the summary: nothing is cut, so the sweep ends as a finished one: its
 * exit code (0, every row ok), its summary whole, no hint to resume, and a line that says the
 * interrupt came after the last row.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { writeZooModel } from '../helpers.js';
import { endsWithin, until } from '../processes.js';
import { startRunAll } from './run-all-child.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-interrupt-end-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Repetitions of the edge-only split point: the sweep is still going when its first row is seen. */
const REP = 1000;

describe('an interrupt after run_all\'s last row', () => {
  const model = writeZooModel('lenet5', dir);
  // lenet5's edge-only split point: its rows need no cloud worker.
  const EDGE_ONLY = 'logits';

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`(${signal}) while the worker is being stopped ends the sweep as a finished one: exit 0, the summary whole, no hint to resume`, async () => {
      const csv = join(dir, `end-${signal}.csv`);
      const run = startRunAll(['--onnx_file', model, '--splits', EDGE_ONLY, '--rep', String(REP), '--warmup', '0', '--results_file', csv]);
      const rows = () => (existsSync(csv) ? readFileSync(csv, 'utf8').split('\n').filter(Boolean).length - 1 : 0);
      assert.ok(await until(() => rows() > 0, 60_000), `no row: ${run.said.err}`);
      // The worker, ready since the sweep began, is held: the sweep's close waits for it to end
      // (up to its deadline), after the last row and before the summary.
      const workers = [...run.workers];
      assert.ok(workers.length > 0, 'the worker had started');
      for (const pid of workers) process.kill(pid, 'SIGSTOP');
      try {
        assert.ok(await until(() => rows() === REP, 60_000), `the rows: ${rows()} of ${REP}: ${run.said.err}`);
        run.child.kill(signal);
      } finally {
        for (const pid of workers) process.kill(pid, 'SIGCONT');
      }
      const { code, signal: killedBy } = await run.done();
      for (const pid of run.workers) {
        const ended = await endsWithin(pid, 2000);
        if (!ended) process.kill(pid, 'SIGKILL');
        assert.ok(ended, `the worker ${pid} is left running`);
      }
      assert.deepEqual({ code, killedBy }, { code: 0, killedBy: null }, run.said.err);
      const out = run.said.out.split('\n');
      assert.match(out[0]!, new RegExp(`^${REP} rows \\(1 split point x ${REP} repetitions\\) in `));
      assert.ok(out.includes('interrupted after the last row was recorded: the sweep is complete, its results and summary whole'), run.said.out);
      assert.doesNotMatch(run.said.out, /continue with|so far/);
      const summary = parse(readFileSync(csv.replace(/\.csv$/, '.summary.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
      assert.deepEqual(
        summary.map((r) => [r.split_layer, r.reps, r.failed]),
        [[EDGE_ONLY, String(REP), '0']],
      );
      assert.ok(!existsSync(`${csv}.lock`));
    });
  }

  it('a second interrupt while the worker is being stopped ends run_all at once, saying so (exit 130), the rows whole', async () => {
    const csv = join(dir, 'end-twice.csv');
    const run = startRunAll(['--onnx_file', model, '--splits', EDGE_ONLY, '--rep', String(REP), '--warmup', '0', '--results_file', csv]);
    const rows = () => (existsSync(csv) ? readFileSync(csv, 'utf8').split('\n').filter(Boolean).length - 1 : 0);
    assert.ok(await until(() => rows() > 0, 60_000), `no row: ${run.said.err}`);
    const workers = [...run.workers];
    for (const pid of workers) process.kill(pid, 'SIGSTOP');
    try {
      assert.ok(await until(() => rows() === REP, 60_000), `the rows: ${rows()} of ${REP}: ${run.said.err}`);
      run.child.kill('SIGINT');
      // Two signals sent together may arrive as one; the worker's deadline (5 s) leaves time.
      await new Promise((r) => setTimeout(r, 200));
      run.child.kill('SIGINT');
      // Gone without waiting for the worker, which still holds its copy of run_all's output.
      assert.ok(await endsWithin(run.child.pid!, 3000), 'run_all ended at once');
    } finally {
      for (const pid of workers) process.kill(pid, 'SIGCONT');
    }
    const { code, signal } = await run.done();
    assert.deepEqual({ code, signal }, { code: 130, signal: null }, run.said.err);
    for (const pid of run.workers) {
      const ended = await endsWithin(pid, 2000);
      if (!ended) process.kill(pid, 'SIGKILL');
      assert.ok(ended, `the worker ${pid} is left running`);
    }
    assert.equal(run.said.err.trim().split('\n').at(-1), 'onnx-manager: run_all interrupted again; stopped at once');
    assert.equal(run.said.out, '');
    assert.equal(rows(), REP);
    assert.ok(readFileSync(csv, 'utf8').endsWith('\n'));
  });
});
