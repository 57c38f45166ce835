/**
 * The store as the cloud processes see it: --store_retry_s reaches them in --cloud_config, opening
 * the store waits for it within the same budget, and an outage only the cloud side sees (the
 * worker's connections to the store cut while it fetches the payload) makes the cycle run again,
 * the retries counted in store_retries, instead of a row carrying the outage in its wait_ms.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBackend, localModule } from '../../src/backends/local.js';
import { decodeCloudConfig, encodeCloudConfig } from '../../src/config/cloud-config.js';
import { buildRunConfig, cloudConfigOf } from '../../src/config/run-config.js';
import type { Row } from '../../src/profile/columns.js';
import { runSweep } from '../../src/profile/sweep.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import { openStoreFromEnv } from '../../src/storage/open.js';
import { startS3Server, type S3Server } from '../../src/storage/s3-server/server.js';
import type { ObjectStore } from '../../src/storage/store.js';
import { analyze, sweepContext, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';
import { tieSockets } from '../storage/tie-sockets.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-cloud-outage-'));
const KEYS = { accessKey: 'cloud-outage', secretKey: 'cloud-outage-secret-key' };
const BUCKET = 'cloud-outage';
const OUTAGE_MS = 1500;
let server: S3Server;
let store: ObjectStore;
let analysis: ModelAnalysis;

before(async () => {
  server = await startS3Server({ dir: mkdtempSync(join(dir, 's3-')), ...KEYS });
  store = await openMinioStore({ endpoint: server.endpoint, ...KEYS, bucket: BUCKET });
  analysis = await analyze(zooSubject(zoo.find((z) => z.name === 'lenet5')!));
});
after(async () => {
  await store.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A TCP relay to the S3 server that can be cut (every connection through it dropped, new ones
 * dropped at once) or killed as the store is killed (connections dropped, the port closed, so new
 * ones are refused, and open again after `ms`) when a request matching `pattern` goes through.
 */
async function relay(): Promise<{ endpoint: string; cut(ms: number): void; killOn(pattern: RegExp, ms: number): void; killed: number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  let downUntil = 0;
  let killOn: { pattern: RegExp; ms: number } | undefined;
  let killed = 0;
  const kill = (ms: number) => {
    killed++;
    srv.close();
    for (const s of open) s.destroy();
    setTimeout(() => srv.listen(port, '127.0.0.1'), ms);
  };
  const srv = net.createServer((c) => {
    if (Date.now() < downUntil) return void c.destroy();
    c.on('data', (d: Buffer) => {
      if (killOn && killOn.pattern.test(d.toString('latin1'))) {
        const { ms } = killOn;
        killOn = undefined;
        kill(ms);
      }
    });
    const up = net.connect(server.port, '127.0.0.1');
    tieSockets(open, c, up);
    c.pipe(up);
    up.pipe(c);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut(ms) {
      downUntil = Date.now() + ms;
      for (const s of open) s.destroy();
    },
    killOn(pattern, ms) {
      killOn = { pattern, ms };
    },
    get killed() {
      return killed;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        if (!srv.listening) return resolve();
        srv.close(() => resolve());
      }),
  };
}

/** A sweep over the test's store whose cloud side is `backend` (its worker reaches the store where the backend says). */
const sweepOf = (backend: LocalBackend, tag: string) => sweepContext(analysis, store, backend, { tag, timeoutMs: 30_000, warmup: 1 });

describe('the store as the cloud processes see it', () => {
  it('--store_retry_s reaches the cloud processes in --cloud_config, and their store retries for that long', async () => {
    const config = buildRunConfig({ store_retry_s: 7, minio_endpoint: server.endpoint, minio_bucket: BUCKET }, { MINIO_ACCESS_KEY: KEYS.accessKey, MINIO_SECRET_KEY: KEYS.secretKey });
    const cloud = cloudConfigOf(config);
    assert.equal(cloud.storeRetryS, 7);
    assert.match(encodeCloudConfig(cloud), /"storeRetryS":7\}$/);
    assert.deepEqual(decodeCloudConfig(encodeCloudConfig(cloud)), cloud);
    assert.equal(cloudConfigOf(buildRunConfig({}, {})).storeRetryS, undefined, 'the default needs no field');
    assert.throws(() => decodeCloudConfig('{"v":1,"provider":{"name":"cpu"},"graphOptimizationLevel":"all","bucket":"b","storeRetryS":-1}'), /field 'storeRetryS' must be a number of seconds, 0 or more, got -1/);
    const access = { endpoint: server.endpoint, ...KEYS, bucket: BUCKET };
    const backend = (await localModule.create({ config, cloud, store: Promise.resolve(store), storeAccess: access, embeddedStore: false, env: process.env, warn: () => undefined })) as LocalBackend;
    try {
      await backend.warmUp();
      assert.equal(backend.workerConfig?.storeRetryS, 7, 'the worker runs with it');
    } finally {
      await backend.close();
    }
    const cloudStore = await openStoreFromEnv(cloud, { MINIO_ENDPOINT: server.endpoint, MINIO_ACCESS_KEY: KEYS.accessKey, MINIO_SECRET_KEY: KEYS.secretKey });
    try {
      assert.equal(cloudStore.outages?.budgetMs, 7000);
    } finally {
      await cloudStore.close();
    }
  });

  it('opening the store waits for it within the budget, saying so once, and names the budget when it is spent', { timeout: 60_000 }, async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const waits: string[] = [];
    const opening = openMinioStore({ endpoint: `http://127.0.0.1:${port}`, ...KEYS, bucket: BUCKET, retryBudgetMs: 30_000 }, { onWait: (r) => waits.push(r) });
    await new Promise((r) => setTimeout(r, 1000));
    const late = await startS3Server({ dir: mkdtempSync(join(dir, 's3-')), ...KEYS, port });
    try {
      const opened = await opening;
      await opened.put('x', Buffer.from('y'));
      await opened.close();
      assert.equal(waits.length, 1, waits.join('\n'));
      assert.match(waits[0]!, /cannot reach the object store at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    } finally {
      await late.close();
    }
    await assert.rejects(openMinioStore({ endpoint: `http://127.0.0.1:${port}`, ...KEYS, bucket: BUCKET, retryBudgetMs: 800 }), /^StoreError: cannot reach the object store at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\), for 1 s \(--store_retry_s 0\.8\)$/);
  });

  it('an outage only the cloud worker sees makes the cycle run again: every row ok, none carries it, store_retries counts it', { timeout: 120_000 }, async () => {
    const link = await relay();
    const backend = new LocalBackend({ store: { endpoint: link.endpoint, ...KEYS, bucket: BUCKET } });
    const rows: Row[] = [];
    try {
      await runSweep(sweepOf(backend, 'cloud-outage'), {
        rep: 12,
        splits: [2],
        onRow: (r) => {
          rows.push(r);
          if (rows.length === 4) link.cut(OUTAGE_MS);
        },
      });
    } finally {
      await backend.close();
      await link.close();
    }
    assert.deepEqual(
      rows.map((r) => `${r.rep}:${r.status}`),
      Array.from({ length: 12 }, (_, i) => `${i}:ok`),
    );
    const retried = rows.filter((r) => Number(r.store_retries) > 0);
    assert.equal(retried.length, 1, `store_retries: ${rows.map((r) => r.store_retries).join(',')}`);
    assert.equal(retried[0]!.rep, 4, 'the cycle after the cut');
    for (const r of rows) assert.ok(Number(r.wait_ms) < OUTAGE_MS, `rep ${r.rep}: wait_ms ${r.wait_ms} holds no part of the ${OUTAGE_MS} ms outage`);
  });

  /** A sweep of splits 2 and 4 whose worker's first fetch of a part kills the store for `outageMs`. */
  async function killedDuringLoad(outageMs: number, deadlineMs?: number) {
    const link = await relay();
    const backend = new LocalBackend({ store: { endpoint: link.endpoint, ...KEYS, bucket: BUCKET } });
    if (deadlineMs !== undefined) backend.deadlineMs = deadlineMs;
    const events: string[] = [];
    backend.onStoreOutage((e) => events.push(e.kind));
    link.killOn(new RegExp(`^GET /${BUCKET}/models/[0-9a-f]{64}\\.onnx`), outageMs);
    const rows: Row[] = [];
    try {
      await runSweep(sweepOf(backend, 'load-outage'), { rep: 3, splits: [2, 4], onRow: (r) => void rows.push(r) });
    } finally {
      await backend.close();
      await link.close();
    }
    assert.equal(link.killed, 1, 'the store was killed during the load');
    assert.deepEqual(
      rows.map((r) => `${r.split_index}/${r.rep}:${r.status}`),
      ['2/0:ok', '2/1:ok', '2/2:ok', '4/0:ok', '4/1:ok', '4/2:ok'],
    );
    assert.deepEqual(events, ['down', 'up'], 'the worker said when its store went and when it came back');
    assert.ok(Number(rows[0]!.store_retries) > 0, `the first row counts the load's retries: store_retries ${rows.map((r) => r.store_retries).join(',')}, worker restarts ${backend.restarts}`);
    assert.deepEqual(rows.slice(1).map((r) => Number(r.store_retries)), [0, 0, 0, 0, 0]);
    for (const r of rows) {
      assert.ok(Number(r.cloud_load_ms) > 0, `split ${r.split_index}: cloud_load_ms ${r.cloud_load_ms} measured`);
      assert.ok(Number(r.cloud_load_ms) < outageMs, `split ${r.split_index}: cloud_load_ms ${r.cloud_load_ms} holds no part of the ${outageMs} ms outage`);
    }
    return { rows, backend };
  }

  it('the store killed while the worker loads a part: the sweep hears of it, the load is timed again, and store_retries counts the retries', { timeout: 120_000 }, async () => {
    await killedDuringLoad(OUTAGE_MS);
  });

  it('an outage longer than the deadline while the worker loads a part: the worker waiting for its store is not taken for hung', { timeout: 120_000 }, async () => {
    const { rows, backend } = await killedDuringLoad(4000, 1500);
    assert.equal(backend.restarts, 0, 'the worker was not killed');
    assert.deepEqual(rows.map((r) => Number(r.cloud_restarts)), [0, 0, 0, 0, 0, 0]);
  });
});
