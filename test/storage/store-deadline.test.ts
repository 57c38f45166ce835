/**
 * Every store request has a deadline: against an S3 server that is stopped (SIGSTOP; its port
 * still accepts connections and nothing answers), a request gives up after the idle deadline and
 * is retried as an outage, and succeeds once the server answers again; a server stopped for the
 * whole --store_retry_s budget ends in a StoreUnavailableError, not in a wait for ever.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openMinioStore } from '../../src/storage/minio-store.js';
import { StoreUnavailableError } from '../../src/storage/retrying-store.js';
import { startS3Process } from './s3-process.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-store-deadline-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEYS = { accessKey: 'deadline-test', secretKey: 'deadline-test-secret-key' };

describe('store requests have a deadline', () => {
  it('a request to a stopped server is given up after the idle deadline and retried until the server answers again', { timeout: 60_000 }, async () => {
    const server = await startS3Process(mkdtempSync(join(dir, 's3-')), KEYS);
    const store = await openMinioStore({ endpoint: server.endpoint, ...KEYS, bucket: 'deadline', requestIdleMs: 300, retryBudgetMs: 30_000 });
    try {
      await store.put('a.bin', Buffer.from('abc'));
      server.child.kill('SIGSTOP');
      const got = store.get('a.bin');
      await new Promise((r) => setTimeout(r, 1500));
      server.child.kill('SIGCONT');
      assert.deepEqual(await got, Buffer.from('abc'));
      assert.ok(store.outages!.retries >= 1, `retries: ${store.outages!.retries}`);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('a server stopped for the whole budget ends the request with StoreUnavailableError', { timeout: 60_000 }, async () => {
    const server = await startS3Process(mkdtempSync(join(dir, 's3-')), KEYS);
    const store = await openMinioStore({ endpoint: server.endpoint, ...KEYS, bucket: 'deadline', requestIdleMs: 300, retryBudgetMs: 1500 });
    try {
      server.child.kill('SIGSTOP');
      await assert.rejects(store.exists('a.bin'), (err: Error) => {
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.match(err.message, /has been unavailable for \d+ s \(--store_retry_s 1\.5\): .*no answer from the store within 0\.3 s|ETIMEDOUT/);
        return true;
      });
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
