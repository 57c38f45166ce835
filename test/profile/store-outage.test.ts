/**
 * run_all through a store outage: the store (the embedded S3 server, on its own here) is stopped
 * mid-sweep and started again on the same port and folder. The sweep waits and says so once, runs
 * the interrupted cycle again (no row carries the outage in its timings), counts the retries in
 * store_retries, and prints nothing per request. A store that never comes back stops the sweep
 * after --store_retry_s with one line and exit 1, the finished rows in the CSV, ready for --resume.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { buildRunConfig } from '../../src/config/run-config.js';
import { startS3Server, type S3Server } from '../../src/storage/s3-server/server.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-outage-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEYS = { accessKey: 'outage-test', secretKey: 'outage-test-secret-key' };
const OUTAGE_MS = 6000;
const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');

function rows(file: string): Record<string, string>[] {
  return existsSync(file) ? (parse(readFileSync(file, 'utf8'), { columns: true, relax_column_count: true }) as Record<string, string>[]) : [];
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  for (let t = 0; !ok(); t += 20) {
    if (t > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** run_all as a user runs it, against `server`; its stderr (and the worker's) captured. */
function runAll(server: S3Server, args: string[]): { exited: Promise<number | null>; stderr: () => string } {
  const env = { ...process.env, MINIO_ENDPOINT: server.endpoint, MINIO_ACCESS_KEY: KEYS.accessKey, MINIO_SECRET_KEY: KEYS.secretKey };
  const child = spawn(process.execPath, [bin, '--operation', 'run_all', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), stderr: () => err };
}

describe('run_all through a store outage', () => {
  const model = writeZooModel('lenet5', dir);
  // One split point with parts on both sides, so every row moves a payload through the store.
  const base = ['--onnx_file', model, '--splits', '2', '--warmup', '1', '--threads', '1'];

  it('--store_retry_s: 120 s by default, 0 turns retries off, a negative or non-number value is refused before anything starts', async () => {
    assert.equal(buildRunConfig({}, {}).store.retryBudgetMs, 120_000);
    assert.equal(buildRunConfig({ store_retry_s: 0 }, {}).store.retryBudgetMs, 0);
    assert.equal(buildRunConfig({ store_retry_s: 2.5 }, {}).store.retryBudgetMs, 2500);
    for (const bad of ['-1', 'abc']) {
      const r = await cli(['--operation', 'run_all', ...base, '--store_retry_s', bad, '--results_file', join(dir, 'never.csv')]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /--store_retry_s/);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.ok(!existsSync(join(dir, 'never.csv')));
    }
  });

  it('waits for the store, runs the interrupted cycle again, and every row is ok with no outage in its timings', async () => {
    const folder = mkdtempSync(join(dir, 's3-'));
    let server = await startS3Server({ dir: folder, ...KEYS });
    const port = server.port;
    const csv = join(dir, 'outage.csv');
    const run = runAll(server, [...base, '--rep', '30', '--results_file', csv]);
    try {
      await until('a few rows', () => rows(csv).length >= 4);
      await server.close();
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      const during = rows(csv).length;
      server = await startS3Server({ dir: folder, ...KEYS, port });
      const code = await run.exited;
      assert.equal(code, 0, run.stderr());
      const got = rows(csv);
      assert.ok(during < 30, `${during} rows before the store came back: the sweep waited`);
      assert.equal(got.length, 30);
      assert.deepEqual(
        got.map((r) => Number(r.rep)),
        Array.from({ length: 30 }, (_, i) => i),
      );
      for (const r of got) {
        assert.equal(r.status, 'ok', `rep ${r.rep}: ${r.error}`);
        for (const c of ['upload_ms', 'wait_ms', 'download_ms', 'total_ms', 'edge_ms']) {
          assert.ok(Number(r[c]) < OUTAGE_MS / 2, `rep ${r.rep}: ${c} ${r[c]} ms holds no part of the ${OUTAGE_MS} ms outage`);
        }
      }
      const retried = got.filter((r) => Number(r.store_retries) > 0);
      assert.ok(retried.length >= 1 && retried.length <= 2, `store_retries on the row(s) that overlapped the outage: ${got.map((r) => r.store_retries).join(',')}`);
      assert.ok(got.every((r) => /^\d+$/.test(r.store_retries!)));
      const err = run.stderr();
      assert.doesNotMatch(err, /Retrying request/);
      assert.equal(err.match(/waiting for the store/g)?.length, 1, err);
      assert.match(err, /the store is back after \d+\.\d s/);
      assert.ok(err.trim().split('\n').length <= 30, `a line per progress step, not per request:\n${err}`);
    } finally {
      await server.close();
    }
  });

  it('a store that never comes back stops the sweep after --store_retry_s with one line and exit 1; --resume finishes it', async () => {
    const folder = mkdtempSync(join(dir, 's3-'));
    let server = await startS3Server({ dir: folder, ...KEYS });
    const port = server.port;
    const csv = join(dir, 'gone.csv');
    const run = runAll(server, [...base, '--rep', '40', '--store_retry_s', '2', '--results_file', csv]);
    try {
      await until('a few rows', () => rows(csv).length >= 3);
      await server.close();
      const code = await run.exited;
      const err = run.stderr();
      assert.equal(code, 1, err);
      const stopped = err.split('\n').filter((l) => /stopped/.test(l));
      assert.equal(stopped.length, 1, err);
      assert.match(stopped[0]!, new RegExp(`^onnx-manager: stopped: bucket 'onnx-manager' at http://127\\.0\\.0\\.1:${port} has been unavailable for 2 s \\(--store_retry_s 2\\): .*; continue with the same command and --resume once it is back$`));
      assert.doesNotMatch(err, /Retrying request|at .*\.js:\d+/);
      const kept = rows(csv);
      assert.ok(kept.length >= 3 && kept.length < 40, `${kept.length} rows kept`);
      assert.ok(kept.every((r) => r.status === 'ok'), 'no row recorded the outage as an error');
      server = await startS3Server({ dir: folder, ...KEYS, port });
      const again = runAll(server, [...base, '--rep', '40', '--store_retry_s', '2', '--results_file', csv, '--resume']);
      assert.equal(await again.exited, 0, again.stderr());
      const all = rows(csv);
      assert.equal(all.length, 40);
      assert.equal(new Set(all.map((r) => r.rep)).size, 40, 'none lost, none duplicated');
    } finally {
      await server.close();
    }
  });
});
