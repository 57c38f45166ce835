/**
 * The real cloud worker process stopped (SIGSTOP) or killed mid-sweep. Every request to it has a
 * deadline (--timeout): a stopped worker is killed and a fresh one started, loading a part
 * included, so the sweep never hangs and nothing is left running. A cycle that overlapped a
 * restart runs again on the fresh worker, and cloud_restarts records the restart.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { LocalBackend } from '../../src/backends/local.js';
import { partHash } from '../../src/onnx/part-hash.js';
import { startEmbeddedStore } from '../../src/storage/embedded.js';
import { storeKeys } from '../../src/storage/store.js';
import { writeZooModel } from '../helpers.js';
import { running, workersOf } from '../processes.js';
import { projectRoot } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-restarts-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
const model = writeZooModel('lenet5', dir);

/** Sends SIGCONT and SIGKILL, whatever state the process is in (nothing is left running). */
function release(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const sig of ['SIGCONT', 'SIGKILL'] as const) {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

async function until<T>(what: string, get: () => T | undefined, ms = 60_000): Promise<T> {
  for (let t = 0; ; t += 20) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (t > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function rows(file: string): Record<string, string>[] {
  return existsSync(file) ? (parse(readFileSync(file, 'utf8'), { columns: true, relax_column_count: true }) as Record<string, string>[]) : [];
}

/** run_all as a user runs it, with the embedded store; its pid, exit code and stderr. */
function runAll(args: string[]): { pid: number; exited: Promise<number | null>; stderr: () => string } {
  const env = { ...process.env };
  for (const k of ['MINIO_ENDPOINT', 'MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY']) delete env[k];
  const child = spawn(process.execPath, [bin, '--operation', 'run_all', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { pid: child.pid!, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), stderr: () => err };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('a cloud worker stopped or killed mid-sweep', () => {
  it('loading a part on a stopped worker fails after the deadline, the worker is killed, and the next load starts a fresh one', { timeout: 60_000 }, async () => {
    const store = await startEmbeddedStore({ bucket: 'restarts' });
    const backend = new LocalBackend({ store: { endpoint: store.endpoint, accessKey: store.accessKey, secretKey: store.secretKey, bucket: 'restarts' } });
    backend.deadlineMs = 1500;
    let stopped: number | undefined;
    try {
      const bytes = readFileSync(model);
      const hash = partHash(bytes);
      await store.store.put(storeKeys.model(hash), bytes);
      await backend.warmUp();
      assert.equal(backend.restarts, 0);
      stopped = await until('the worker', () => workersOf(process.pid)[0]);
      process.kill(stopped, 'SIGSTOP');
      await assert.rejects(backend.prepare([hash]), (err: Error) => {
        assert.equal(err.name, 'TimeoutError');
        assert.match(err.message, /^the local cloud worker did not answer within 1\.5 s while loading a part; it was stopped and starts again for the next request$/);
        return true;
      });
      await until('the stopped worker to be gone', () => !running(stopped!));
      assert.equal(backend.restarts, 1);
      const again = await backend.prepare([hash]);
      assert.ok(again.loadMs > 0, 'a fresh worker loaded the part');
      const fresh = workersOf(process.pid);
      assert.equal(fresh.length, 1);
      assert.notEqual(fresh[0], stopped);
      assert.equal(backend.restarts, 1);
    } finally {
      release(stopped);
      await backend.close();
      await store.stop();
    }
  });

  it('run_all with the worker stopped mid-split: the stuck cycle runs again on a fresh worker after --timeout, the next split point loads, every row is ok', { timeout: 120_000 }, async () => {
    const csv = join(dir, 'stopped.csv');
    const run = runAll(['--onnx_file', model, '--splits', '2', '3', '--rep', '6', '--warmup', '1', '--threads', '1', '--timeout', '3', '--results_file', csv]);
    let stopped: number | undefined;
    try {
      await until('a few rows', () => rows(csv).length >= 3 || undefined);
      stopped = await until('the worker', () => workersOf(run.pid)[0]);
      process.kill(stopped, 'SIGSTOP');
      const code = await run.exited;
      assert.equal(code, 0, run.stderr());
      assert.ok(!running(stopped), 'the stopped worker was killed');
      const got = rows(csv);
      assert.deepEqual(
        got.map((r) => `${r.split_index}/${r.rep}:${r.status}`),
        ['2', '3'].flatMap((s) => Array.from({ length: 6 }, (_, i) => `${s}/${i}:ok`)),
      );
      const restarts = got.map((r) => Number(r.cloud_restarts));
      assert.equal(
        restarts.reduce((a, b) => a + b, 0),
        1,
        `one restart in cloud_restarts: ${restarts.join(',')}`,
      );
      assert.ok(got.every((r) => /^\d+$/.test(r.cloud_restarts!)));
    } finally {
      release(stopped);
      await run.exited;
    }
  });

  it('run_all with the worker stopped during a warm-up: the restart goes to the next recorded row, not to the unrecorded warm-up', { timeout: 180_000 }, async () => {
    const csv = join(dir, 'stopped-warmup.csv');
    // 2000 warm-ups of split 2 before its one recorded cycle: a stop two seconds in lands in them
    // (300, about 6 ms each on a quiet fast machine, were over within the two seconds).
    const run = runAll(['--onnx_file', model, '--splits', '2', '--rep', '1', '--warmup', '2000', '--threads', '1', '--timeout', '3', '--results_file', csv]);
    let stopped: number | undefined;
    try {
      stopped = await until('the worker', () => workersOf(run.pid)[0]);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(rows(csv).length, 0, 'still warming up');
      process.kill(stopped, 'SIGSTOP');
      const code = await run.exited;
      assert.equal(code, 0, run.stderr());
      const got = rows(csv);
      assert.deepEqual(got.map((r) => `${r.split_index}/${r.rep}:${r.status}:${r.cloud_restarts}`), ['2/0:ok:1']);
    } finally {
      release(stopped);
      await run.exited;
    }
  });

  it('run_all with the worker killed mid-split: the cycle that overlapped the restart runs again, no ok row carries the restart, cloud_restarts counts it', { timeout: 120_000 }, async () => {
    const csv = join(dir, 'killed.csv');
    const run = runAll(['--onnx_file', model, '--splits', '2', '--rep', '20', '--warmup', '1', '--threads', '1', '--results_file', csv]);
    let killed: number | undefined;
    try {
      await until('a few rows', () => rows(csv).length >= 5 || undefined);
      killed = await until('the worker', () => workersOf(run.pid)[0]);
      const killedAt = performance.now();
      process.kill(killed, 'SIGKILL');
      // How long a restart takes on this machine now: from the kill to the rerun row in the file.
      await until('the rerun row', () => rows(csv).some((r) => Number(r.cloud_restarts) > 0) || undefined);
      const restartSpanMs = performance.now() - killedAt;
      const code = await run.exited;
      assert.equal(code, 0, run.stderr());
      const got = rows(csv);
      assert.deepEqual(
        got.map((r) => `${r.rep}:${r.status}`),
        Array.from({ length: 20 }, (_, i) => `${i}:ok`),
      );
      const rerun = got.filter((r) => Number(r.cloud_restarts) > 0);
      assert.equal(rerun.length, 1, `cloud_restarts: ${got.map((r) => r.cloud_restarts).join(',')}`);
      assert.equal(rerun[0]!.cloud_restarts, '1');
      // A restart costs a process start and a part load: a row whose wait held one would take
      // most of the restart's span measured above, far above a warm cycle's wait. A slow row on a
      // loaded machine stays under half that span, which grows with the load too.
      for (const r of got) {
        const others = median(got.filter((o) => o !== r).map((o) => Number(o.wait_ms)));
        const bound = Math.max(20 * others, restartSpanMs / 2);
        assert.ok(
          Number(r.wait_ms) < bound,
          `rep ${r.rep}: wait_ms ${r.wait_ms} against a median of ${others} of the other rows and a restart span of ${restartSpanMs.toFixed(0)} ms`,
        );
      }
    } finally {
      release(killed);
      await run.exited;
    }
  });
});
