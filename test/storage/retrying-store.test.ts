/**
 * Retrying an unavailable store: the backoff (cap, budget, jitter bounds) on an injected clock,
 * which failures are retried (unreachable, reset, hang-ups, 5xx) and which are not (4xx), and
 * the retry over a real embedded S3 server that is stopped and started again on its port and
 * folder, with nothing printed per request.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { StoreError } from '../../src/errors.js';
import { backoffDelay, isTransientStoreFailure, type BackoffPolicy } from '../../src/storage/backoff.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import { RetryingStore, StoreUnavailableError, type RetryClock } from '../../src/storage/retrying-store.js';
import { startS3Server, type S3Server } from '../../src/storage/s3-server/server.js';
import type { ObjectStore, StoreOutageEvent, WaitOptions } from '../../src/storage/store.js';

const POLICY: BackoffPolicy = { baseMs: 100, capMs: 2000, budgetMs: 10_000 };

/** A clock that only moves when the store sleeps. */
function fakeClock(random: () => number = () => 0.5): RetryClock & { t: number; sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number, signal: AbortSignal) => {
      signal.throwIfAborted();
      clock.sleeps.push(ms);
      clock.t += ms;
    },
    random,
  };
  return clock;
}

function refused(): Error {
  return new StoreError('cannot reach the object store at http://127.0.0.1:1 (ECONNREFUSED)', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
}

/** An inner store whose exists() fails with `failures` in turn, then answers true. */
function flaky(failures: (() => Error)[]): ObjectStore & { calls: number } {
  const s = {
    bucket: 'b',
    description: "bucket 'b' at http://127.0.0.1:1",
    calls: 0,
    async exists() {
      s.calls++;
      const f = failures.shift();
      if (f) throw f();
      return true;
    },
    put: async () => undefined,
    get: async () => Buffer.alloc(0),
    list: async () => [],
    remove: async () => undefined,
    waitFor: async () => undefined,
    close: async () => undefined,
  };
  return s;
}

describe('backoff', () => {
  test('doubles from the base, is capped, and jitter keeps each delay between half and all of it', () => {
    const expected = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
    for (let attempt = 1; attempt <= expected.length; attempt++) {
      const full = expected[attempt - 1]!;
      assert.equal(backoffDelay(attempt, POLICY, 0, () => 0), full / 2, `attempt ${attempt}: least`);
      assert.equal(backoffDelay(attempt, POLICY, 0, () => 0.999999), full / 2 + (full / 2) * 0.999999, `attempt ${attempt}: most`);
    }
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(1 + (i % 40), POLICY, 0);
      assert.ok(d >= 50 && d <= POLICY.capMs, `${d} within [base/2, cap]`);
    }
    assert.equal(backoffDelay(1e6, POLICY, 0, () => 0.5), 1500, 'a huge attempt number stays at the cap');
  });

  test('never sleeps past the budget', () => {
    assert.equal(backoffDelay(8, POLICY, 9_900, () => 0.99), 100);
    assert.equal(backoffDelay(8, POLICY, 10_000, () => 0.99), 0);
    assert.equal(backoffDelay(8, POLICY, 12_000, () => 0.99), 0);
  });

  test('retries unreachable, reset, hung-up, timed-out and 5xx; not 4xx, missing keys or a wait that timed out', () => {
    const withCode = (code: string) => Object.assign(new Error(code), { code });
    for (const e of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'InternalError', 'ServiceUnavailable', 'SlowDown']) {
      assert.ok(isTransientStoreFailure(new StoreError('x', { cause: withCode(e) })), e);
    }
    assert.ok(isTransientStoreFailure(new Error('socket hang up')));
    assert.ok(isTransientStoreFailure(new Error('Request failed after 0 retries: Error: Retryable HTTP status: 503')));
    assert.ok(isTransientStoreFailure(new AggregateError([withCode('ECONNREFUSED')])), 'an AggregateError of connect attempts');
    for (const e of ['AccessDenied', 'NoSuchKey', 'NoSuchBucket', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'NotImplemented', 'ENOTFOUND', 'CERT_HAS_EXPIRED']) {
      assert.ok(!isTransientStoreFailure(new StoreError('x', { cause: withCode(e) })), e);
    }
    assert.ok(!isTransientStoreFailure(new Error('Request failed after 0 retries: Error: Retryable HTTP status: 404')));
    assert.ok(!isTransientStoreFailure(new Error("object 'k' did not appear within 10 ms")));
  });
});

describe('RetryingStore', () => {
  test('retries until the store answers, counting the retries and telling once when it went down and came back', async () => {
    const clock = fakeClock();
    const inner = flaky([refused, refused, () => new Error('socket hang up'), refused]);
    const store = new RetryingStore(inner, POLICY, clock);
    const events: StoreOutageEvent['kind'][] = [];
    store.on((e) => events.push(e.kind));
    assert.equal(await store.exists('k'), true);
    assert.equal(inner.calls, 5);
    assert.equal(store.retries, 4);
    assert.deepEqual(clock.sleeps, [75, 150, 300, 600], 'base 100 doubling, half jitter at random 0.5');
    assert.deepEqual(events, ['down', 'retry', 'retry', 'retry', 'retry', 'up']);
    assert.equal(store.downMs, 1125);
    assert.equal(store.down, false);
  });

  test('a 4xx answer passes through at once', async () => {
    const clock = fakeClock();
    const denied = () => new StoreError('access denied (AccessDenied)', { cause: Object.assign(new Error('Access Denied'), { code: 'AccessDenied' }) });
    const store = new RetryingStore(flaky([denied]), POLICY, clock);
    await assert.rejects(store.exists('k'), (e: Error) => e instanceof StoreError && !(e instanceof StoreUnavailableError) && /AccessDenied/.test(e.message));
    assert.equal(store.retries, 0);
    assert.deepEqual(clock.sleeps, []);
  });

  test('gives up when the store has been down for the budget, naming the store and the last failure', async () => {
    const clock = fakeClock(() => 0.999);
    const inner = flaky(Array.from({ length: 1000 }, () => refused));
    const store = new RetryingStore(inner, POLICY, clock);
    await assert.rejects(store.exists('k'), (e: Error) => {
      assert.ok(e instanceof StoreUnavailableError);
      assert.match(e.message, /^bucket 'b' at http:\/\/127\.0\.0\.1:1 has been unavailable for 10 s \(--store_retry_s 10\): cannot reach the object store .*ECONNREFUSED/);
      return true;
    });
    assert.equal(clock.t, POLICY.budgetMs, 'the last sleep ends at the budget, not past it');
    assert.ok(clock.sleeps.every((d) => d <= POLICY.capMs));
    assert.ok(inner.calls < 20, `${inner.calls} calls in 10 s`);
  });

  test('a wait for an object created after it, cut short by an outage, checks at once when it starts again', async () => {
    const clock = fakeClock();
    const inner = flaky([]);
    const given: (WaitOptions | undefined)[] = [];
    const failures = [refused];
    inner.waitFor = async (_key: string, _ms: number, _signal?: AbortSignal, options?: WaitOptions) => {
      given.push(options);
      const f = failures.shift();
      if (f) throw f();
    };
    const store = new RetryingStore(inner, POLICY, clock);
    await store.waitFor('k', 1000, undefined, { createdAfter: true });
    assert.deepEqual(given, [{ createdAfter: true }, undefined], 'the object may have come during the outage');
    assert.equal(store.retries, 1);
  });

  test('close() ends a retry in progress', async () => {
    const inner = flaky(Array.from({ length: 1000 }, () => refused));
    const store = new RetryingStore(inner, { budgetMs: 60_000 });
    const pending = store.exists('k');
    await new Promise((r) => setTimeout(r, 30));
    await store.close();
    await assert.rejects(pending, /closed/);
  });
});

describe('a real store stopped and started again', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('calls made while the server is down wait for it and succeed; minio prints nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onnx-manager-retry-'));
    dirs.push(dir);
    const keys = { accessKey: 'retry-test', secretKey: 'retry-test-secret-key' };
    let server: S3Server = await startS3Server({ dir, ...keys });
    const port = server.port;
    const store = await openMinioStore({ endpoint: server.endpoint, ...keys, bucket: 'retry-bucket', retryBudgetMs: 30_000 });
    const written: string[] = [];
    const warn = console.warn;
    const write = process.stderr.write;
    console.warn = (...args: unknown[]) => void written.push(args.join(' '));
    process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      await store.put('a', Buffer.from('before'));
      await server.close();
      const calls = [store.get('a'), store.put('b', Buffer.from('during')), store.exists('a'), store.list('a')];
      await new Promise((r) => setTimeout(r, 700));
      server = await startS3Server({ dir, ...keys, port });
      const [got, , exists, listed] = await Promise.all(calls);
      assert.equal(String(got), 'before');
      assert.equal(exists, true);
      assert.deepEqual(listed, ['a']);
      assert.equal(String(await store.get('b')), 'during');
      assert.ok(store.outages!.retries >= 4, `${store.outages!.retries} retries`);
      assert.ok(store.outages!.downMs >= 500, `down ${store.outages!.downMs} ms`);
      // A missing key is an answer, not an outage.
      const before = store.outages!.retries;
      await assert.rejects(store.get('missing'), /not found/);
      assert.equal(store.outages!.retries, before);
      // --store_retry_s 0: no retries, the failure at once.
      const once = await openMinioStore({ endpoint: server.endpoint, ...keys, bucket: 'retry-bucket', retryBudgetMs: 0 });
      assert.equal(once.outages, undefined);
      await server.close();
      await assert.rejects(once.get('a'), (e: Error) => e instanceof StoreError && !(e instanceof StoreUnavailableError) && /ECONNREFUSED|ECONNRESET|socket hang up/.test(e.message));
      await once.close();
    } finally {
      console.warn = warn;
      process.stderr.write = write;
      await store.close();
      await server.close();
    }
    assert.deepEqual(written, [], 'nothing printed per request');
  });

  test('5xx answers are retried, then the call succeeds', async () => {
    let failures = 3;
    const proxy = http.createServer((req, res) => {
      if (failures-- > 0) {
        res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>ServiceUnavailable</Code></Error>');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/xml', 'x-amz-request-id': '1' }).end();
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as AddressInfo).port;
    failures = 0;
    const store = await openMinioStore({ endpoint: `http://127.0.0.1:${port}`, accessKey: 'k', secretKey: 'secret-key', bucket: 'b5xx', retryBudgetMs: 30_000 });
    try {
      failures = 3;
      assert.equal(await store.exists('x'), true);
      assert.equal(store.outages!.retries, 3);
    } finally {
      await store.close();
      proxy.close();
    }
  });
});
