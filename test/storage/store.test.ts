/**
 * The object store against the embedded S3 server through the minio client (the same code path as a
 * real MinIO), a second process sharing it, configuration parsing, failures (closed port, bad
 * credentials, missing bucket), and MinIO-notification waiting against a small fake MinIO.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StoreError, TimeoutError, UsageError } from '../../src/errors.js';
import { Chunks } from '../../src/proto/writer.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import { openStore } from '../../src/storage/open.js';
import { parseEndpoint, storeConfigFromEnv, storeKeys, type ObjectStore } from '../../src/storage/store.js';

const BUCKET = 'onnx-test';

function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function rejectsWith<T extends Error>(p: Promise<unknown>, cls: new (...a: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return err;
  }
  assert.fail(`expected ${cls.name}, nothing was thrown`);
}

describe('object store on the embedded S3 server', () => {
  let emb: EmbeddedStore;
  let store: ObjectStore;
  /** A second store on the same server without the event hook: pure polling, like another process. */
  let polling: ObjectStore;

  before(async () => {
    emb = await startEmbeddedStore({ bucket: BUCKET });
    store = emb.store;
    polling = await openMinioStore({ endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: BUCKET });
  });
  after(async () => {
    await polling?.close();
    await emb?.stop();
    assert.equal(existsSync(emb.dir), false, 'the temporary folder is removed on stop');
  });

  test('serves loopback only, and describes itself without credentials', () => {
    assert.match(emb.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(store.bucket, BUCKET);
    assert.ok(store.description.includes(emb.endpoint) && store.description.includes(BUCKET), store.description);
    assert.ok(!store.description.includes(emb.secretKey) && !polling.description.includes(emb.secretKey));
  });

  test('put/get of bytes, of a Uint8Array view, of Chunks, of 0 bytes', async () => {
    const bytes = pattern(4096, 3);
    await store.put('t/bytes.pb', bytes);
    assert.deepEqual(await store.get('t/bytes.pb'), bytes);

    // A view into a larger buffer: exactly the view's bytes are stored.
    const big = pattern(1000, 5);
    const view = new Uint8Array(big.buffer, big.byteOffset + 100, 300);
    await store.put('t/view.pb', view);
    assert.deepEqual(await store.get('t/view.pb'), Buffer.from(big.subarray(100, 400)));

    const chunks = new Chunks();
    const parts = [pattern(10, 7), pattern(70_000, 8), new Uint8Array(0), pattern(1, 9), pattern(3333, 10)];
    for (const p of parts) chunks.push(p);
    chunks.field(3, pattern(500, 11));
    await store.put('t/chunks.pb', chunks);
    assert.deepEqual(await store.get('t/chunks.pb'), Buffer.from(chunks.concat()));

    await store.put('t/empty.pb', new Uint8Array(0));
    assert.equal((await store.get('t/empty.pb')).length, 0);
    await store.put('t/empty-chunks.pb', new Chunks());
    assert.equal((await store.get('t/empty-chunks.pb')).length, 0);
    assert.equal(await store.exists('t/empty.pb'), true);

    // A put replaces the object.
    await store.put('t/bytes.pb', Buffer.from('replaced'));
    assert.equal((await store.get('t/bytes.pb')).toString(), 'replaced');
  });

  test('a 20 MB object goes up in one PUT and comes back intact (timed)', async (t) => {
    const data = pattern(20 * 1024 * 1024, 12);
    const chunks = new Chunks();
    for (let off = 0; off < data.length; off += 3 * 1024 * 1024 + 17) chunks.push(data.subarray(off, off + 3 * 1024 * 1024 + 17));
    const t0 = performance.now();
    await store.put('t/big.pb', chunks);
    const t1 = performance.now();
    const back = await store.get('t/big.pb');
    const t2 = performance.now();
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
    t.diagnostic(`20 MiB on loopback: put ${(t1 - t0).toFixed(1)} ms, get ${(t2 - t1).toFixed(1)} ms`);
  });

  test('small put/get roundtrips on loopback: each object comes back intact (timed)', async (t) => {
    const puts: number[] = [];
    const gets: number[] = [];
    const keys = Array.from({ length: 20 }, (_, i) => `t/rt/${i}.pb`);
    for (const [i, key] of keys.entries()) {
      const data = pattern(64 * 1024, 13 + i);
      const t0 = performance.now();
      await store.put(key, data);
      const t1 = performance.now();
      const back = await store.get(key);
      gets.push(performance.now() - t1);
      puts.push(t1 - t0);
      assert.ok(back.equals(data), `${key}: the bytes put`);
    }
    const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
    t.diagnostic(`64 KiB on loopback, median of 20: put ${median(puts).toFixed(2)} ms, get ${median(gets).toFixed(2)} ms`);
    assert.deepEqual((await store.list('t/rt/')).sort(), [...keys].sort());
    await store.remove(keys);
    assert.deepEqual(await store.list('t/rt/'), []);
  });

  test('exists, list by prefix over the layout keys, remove', async () => {
    const keys = [storeKeys.model('ab'.repeat(32)), storeKeys.input('run1', 0, 0), storeKeys.input('run1', 0, 1), storeKeys.input('run1', 12, 0), storeKeys.output('run1', 0, 0), storeKeys.input('run2', 0, 0)];
    assert.deepEqual(keys.slice(0, 2), [`models/${'ab'.repeat(32)}.onnx`, 'input/run1/0/0.pb']);
    for (const k of keys) await store.put(k, Buffer.from(k));
    assert.equal(await store.exists('input/run1/0/0.pb'), true);
    assert.equal(await store.exists('input/run1/0/9.pb'), false);
    assert.deepEqual((await store.list('input/run1/')).sort(), ['input/run1/0/0.pb', 'input/run1/0/1.pb', 'input/run1/12/0.pb']);
    assert.deepEqual(await store.list('input/run1/0/'), ['input/run1/0/0.pb', 'input/run1/0/1.pb']);
    assert.deepEqual(await store.list('output/'), ['output/run1/0/0.pb']);
    assert.deepEqual(await store.list('models/'), [keys[0]]);
    assert.deepEqual(await store.list('nothing/'), []);

    await store.remove(['input/run1/0/0.pb', 'input/run1/0/1.pb', 'input/never-there.pb']);
    await store.remove([]);
    assert.deepEqual(await store.list('input/run1/'), ['input/run1/12/0.pb']);
    assert.equal(await store.exists('input/run1/0/0.pb'), false);
    await store.remove(await store.list(''));
    assert.deepEqual(await store.list(''), []);
  });

  test('both stores remove many keys in one multi-object delete, with no server error and no retry', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `rm/${i % 3}/${i}.pb`);
    // minio retries an HTTP 500 once with a console warning: count them.
    const warn = console.warn;
    let warnings = 0;
    for (const s of [polling, store]) {
      for (const k of keys) await s.put(k, Buffer.from(k));
      await s.put('rm-kept.pb', Buffer.from('kept'));
      console.warn = () => void warnings++;
      try {
        await s.remove([...keys, 'rm/never-there.pb']);
      } finally {
        console.warn = warn;
      }
      assert.deepEqual(await s.list('rm'), ['rm-kept.pb']);
    }
    assert.equal(warnings, 0);
  });

  test('get of a missing key is a StoreError naming bucket and key', async () => {
    const err = await rejectsWith(store.get('output/run9/3/7.pb'), StoreError);
    assert.match(err.message, /output\/run9\/3\/7\.pb/);
    assert.ok(err.message.includes(BUCKET));
    assert.ok(!err.message.includes('\n'));
    assert.equal(err.key, 'output/run9/3/7.pb');
    assert.equal(err.bucket, BUCKET);
  });

  test('waitFor resolves at once when the key already exists', async () => {
    await store.put('w/there.pb', Buffer.from('x'));
    await store.waitFor('w/there.pb', 1000);
    await polling.waitFor('w/there.pb', 1000);
  });

  test("waitFor wakes on the embedded server's event when another party puts the key later", async (t) => {
    const key = 'w/event.pb';
    const start = performance.now();
    let putDone = 0;
    let putReturned = false;
    let wokeBeforePutReturned = false;
    const waiting = store.waitFor(key, 5000).then(() => {
      wokeBeforePutReturned = !putReturned;
      return performance.now();
    });
    await new Promise((r) => setTimeout(r, 30));
    const putStart = performance.now();
    await polling.put(key, Buffer.from('from the other store'));
    putReturned = true;
    putDone = performance.now();
    const woke = await waiting;
    t.diagnostic(`event wake: ${(woke - putStart).toFixed(1)} ms after the put started (put took ${(putDone - putStart).toFixed(1)} ms)`);
    // The server emits the event once the object is in place and before it answers the PUT, so an
    // evented waiter wakes before the put returns; a poll could only see the object after that.
    assert.ok(wokeBeforePutReturned, `woke only after the put returned (${(woke - start).toFixed(1)} ms after waiting began)`);
    assert.equal((await store.get(key)).toString(), 'from the other store');
  });

  test('waitFor by pure polling (no hook) resolves promptly after a later put', async (t) => {
    const key = 'w/poll.pb';
    const waiting = polling.waitFor(key, 5000).then(() => performance.now());
    await new Promise((r) => setTimeout(r, 120)); // past the backoff ramp: polling at the 50 ms cap
    const putStart = performance.now();
    await store.put(key, Buffer.from('p'));
    const putDone = performance.now();
    const woke = await waiting;
    t.diagnostic(`poll wake: ${(woke - putDone).toFixed(1)} ms after the put returned`);
    assert.ok(woke >= putStart, 'not before the object existed');
  });

  test('an event hook wakes a waiter without any poll (deterministic)', async () => {
    const bus = new EventEmitter();
    const hooked = await openMinioStore(
      { endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: BUCKET },
      {
        onObjectCreated: (listener) => {
          bus.on('created', listener);
          return () => bus.off('created', listener);
        },
      },
    );
    try {
      const waiting = hooked.waitFor('w/never-put.pb', 5000);
      await new Promise((r) => setTimeout(r, 20));
      bus.emit('created', 'w/other.pb'); // another key does not wake it
      bus.emit('created', 'w/never-put.pb');
      await waiting; // the key is never put: only the hook can resolve it (else a TimeoutError)
      assert.equal(bus.listenerCount('created'), 1);
    } finally {
      await hooked.close();
    }
    assert.equal(bus.listenerCount('created'), 0, 'close unsubscribes from the hook');
  });

  test('waitFor times out with a TimeoutError naming the key', async () => {
    for (const s of [store, polling]) {
      const t0 = performance.now();
      const err = await rejectsWith(s.waitFor('w/never.pb', 150), TimeoutError);
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 145, `timed out early, after ${elapsed} ms`);
      assert.match(err.message, /w\/never\.pb/);
      assert.match(err.message, /150 ms/);
      assert.equal(err.what, 'w/never.pb');
    }
  });

  test('waitFor honours an AbortSignal', async () => {
    const ac = new AbortController();
    const waiting = polling.waitFor('w/aborted.pb', 5000, ac.signal);
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(waiting, (err: Error) => err.name === 'AbortError');
    await assert.rejects(polling.waitFor('w/aborted.pb', 5000, AbortSignal.abort()), (err: Error) => err.name === 'AbortError');
  });

  test('many concurrent waiters on different keys all wake', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `w/many/${i}.pb`);
    const waits = keys.map((k, i) => (i % 2 ? store : polling).waitFor(k, 5000));
    await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
    await Promise.all(waits);
  });

  test('closing a store rejects its pending waits and later calls with a StoreError', async () => {
    const s = await openMinioStore({ endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: BUCKET });
    const waiting = s.waitFor('w/closed.pb', 5000);
    await new Promise((r) => setTimeout(r, 20));
    await s.close();
    await rejectsWith(waiting, StoreError);
    await rejectsWith(s.get('w/there.pb'), StoreError);
    await s.close(); // idempotent
  });

  test('a second process opens its own store with the endpoint and keys and exchanges objects', async (t) => {
    const worker = fileURLToPath(new URL('./fixture-worker.js', import.meta.url));
    const inKey = storeKeys.input('proc', 2, 0);
    const outKey = storeKeys.output('proc', 2, 0);
    const payload = pattern(256 * 1024, 21);
    const child = spawn(process.execPath, [worker, BUCKET, inKey, outKey], {
      // Credentials go through the environment, never the command line.
      env: { ...process.env, MINIO_ENDPOINT: emb.endpoint, MINIO_ACCESS_KEY: emb.accessKey, MINIO_SECRET_KEY: emb.secretKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await store.put(inKey, payload);
      await store.waitFor(outKey, 20_000);
      const back = await store.get(outKey);
      assert.ok(back.equals(Buffer.from(payload).reverse()));
      assert.equal(await exited, 0, stderr);
      const timings = JSON.parse(stdout.trim()) as Record<string, number>;
      assert.equal(timings.bytes, payload.length);
      t.diagnostic(`child: open ${timings.open_ms!.toFixed(1)} ms, get ${timings.get_ms!.toFixed(1)} ms, put ${timings.put_ms!.toFixed(1)} ms (256 KiB)`);
    } finally {
      if (child.exitCode === null) child.kill();
      await exited;
    }
  });

  test('wrong credentials (an unknown access key, or the right one with a wrong secret key): a one-line StoreError naming the endpoint, not the keys', async () => {
    const secret = 'wrong-secret-value-42';
    for (const [access, code] of [['NOT-AN-ACCOUNT', 'InvalidAccessKeyId'], [emb.accessKey, 'SignatureDoesNotMatch']] as const) {
      const err = await rejectsWith(openMinioStore({ endpoint: emb.endpoint, accessKey: access, secretKey: secret, bucket: BUCKET }), StoreError);
      assert.ok(err.message.includes(emb.endpoint), err.message);
      assert.ok(!err.message.includes(secret) && !err.message.includes(access) && !err.message.includes(emb.secretKey));
      assert.ok(!err.message.includes('\n'));
      assert.match(err.message, /access denied/i);
      assert.ok(err.message.includes(code), err.message);
    }
  });

  test('missing or empty keys against an endpoint: a one-line StoreError saying which key is missing, before any request', async () => {
    const cases: [Partial<{ accessKey: string; secretKey: string }>, RegExp][] = [
      [{}, /needs keys: MINIO_ACCESS_KEY and MINIO_SECRET_KEY are not set or empty/],
      [{ accessKey: '', secretKey: '' }, /needs keys: MINIO_ACCESS_KEY and MINIO_SECRET_KEY are not set or empty/],
      [{ accessKey: emb.accessKey }, /needs keys: MINIO_SECRET_KEY is not set or empty \(set it, or MINIO_SECRET_KEY_FILE naming a file holding it\)/],
      [{ accessKey: emb.accessKey, secretKey: '' }, /needs keys: MINIO_SECRET_KEY is not set or empty/],
      [{ secretKey: emb.secretKey }, /needs keys: MINIO_ACCESS_KEY is not set or empty/],
    ];
    for (const [keys, message] of cases) {
      const err = await rejectsWith(openMinioStore({ endpoint: emb.endpoint, bucket: BUCKET, ...keys }), StoreError);
      assert.match(err.message, message);
      assert.ok(err.message.includes(emb.endpoint), err.message);
      assert.ok(!err.message.includes(emb.secretKey) && !err.message.includes('\n'));
    }
  });

  test('a missing bucket is created by default, and a clear error when creating is turned off', async () => {
    const err = await rejectsWith(
      openMinioStore({ endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: 'not-there', createBucket: false }),
      StoreError,
    );
    assert.match(err.message, /not-there/);
    assert.match(err.message, /does not exist/);
    const s = await openMinioStore({ endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: 'made-on-open' });
    try {
      await s.put('a.pb', Buffer.from('a'));
      assert.deepEqual(await s.list(''), ['a.pb']);
    } finally {
      await s.close();
    }
    // Opening again finds it.
    const again = await openMinioStore({ endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: 'made-on-open', createBucket: false });
    await again.close();
  });
});

describe('opening failures', () => {
  test('a closed port gives a one-line StoreError naming the endpoint', async () => {
    const port = await closedPort();
    const secret = 'top-secret-key-99';
    for (const endpoint of [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`]) {
      // No retry budget: opening would wait for the store (see store-deadline.test).
      const err = await rejectsWith(openMinioStore({ endpoint, accessKey: 'someone', secretKey: secret, bucket: BUCKET, retryBudgetMs: 0 }), StoreError);
      assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
      assert.match(err.message, /cannot reach/);
      assert.match(err.message, /ECONNREFUSED/);
      assert.ok(!err.message.includes('\n'));
      assert.ok(!err.message.includes(secret) && !err.message.includes('someone'));
    }
  });

  test('an endpoint that accepts but never answers times out with a StoreError', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent = http.createServer(() => {});
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const err = await rejectsWith(openMinioStore({ endpoint: `127.0.0.1:${port}`, accessKey: 'ak', secretKey: 'sk', bucket: BUCKET, connectTimeoutMs: 200 }), StoreError);
      assert.match(err.message, /no answer within 200 ms/);
      assert.ok(err.message.includes(`127.0.0.1:${port}`));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('openStore: embedded without an endpoint, MinIO with one', async () => {
    const opened = await openStore({ bucket: 'open-test' });
    try {
      assert.ok(opened.embedded);
      assert.match(opened.embedded.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      await opened.store.put('x.pb', Buffer.from('x'));
      const viaMinio = await openStore({ bucket: 'open-test', endpoint: opened.embedded.endpoint, accessKey: opened.embedded.accessKey, secretKey: opened.embedded.secretKey });
      try {
        assert.equal(viaMinio.embedded, undefined);
        assert.equal((await viaMinio.store.get('x.pb')).toString(), 'x');
      } finally {
        await viaMinio.stop();
      }
    } finally {
      await opened.stop();
      await opened.stop(); // idempotent
    }
    assert.equal(existsSync(opened.embedded!.dir), false);
  });
});

describe('storeConfigFromEnv', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-manager-store-cfg-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('host:port, URLs (the scheme sets TLS), flags over the environment', () => {
    assert.deepEqual(storeConfigFromEnv({ minio_bucket: 'b' }, {}), { bucket: 'b' });
    assert.equal(storeConfigFromEnv({}, {}).bucket, 'onnx-manager');
    const plain = storeConfigFromEnv({ minio_bucket: 'b' }, { MINIO_ENDPOINT: 'minio.local:9000', MINIO_ACCESS_KEY: 'ak', MINIO_SECRET_KEY: 'sk' });
    assert.deepEqual(plain, { bucket: 'b', endpoint: 'http://minio.local:9000', useSSL: false, accessKey: 'ak', secretKey: 'sk' });
    const secure = storeConfigFromEnv({ minio_bucket: 'b', minio_secure: false }, { MINIO_ENDPOINT: 'https://s3.example.org' });
    assert.equal(secure.useSSL, true);
    assert.equal(secure.endpoint, 'https://s3.example.org');
    assert.equal(storeConfigFromEnv({ minio_secure: true }, { MINIO_ENDPOINT: 'minio:9000' }).useSSL, true);
    assert.equal(storeConfigFromEnv({}, { MINIO_ENDPOINT: 'http://minio:9000/' }).useSSL, false);
    const flagWins = storeConfigFromEnv({ minio_endpoint: 'other:1234', minio_region: 'eu-west-1' }, { MINIO_ENDPOINT: 'env:9000' });
    assert.equal(flagWins.endpoint, 'http://other:1234');
    assert.equal(flagWins.region, 'eu-west-1');
    assert.equal(storeConfigFromEnv({}, { MINIO_ENDPOINT: '  ' }).endpoint, undefined);
    assert.equal(storeConfigFromEnv({}, { MINIO_NOTIFICATIONS: 'minio' }).notifications, 'minio');
    assert.throws(() => storeConfigFromEnv({}, { MINIO_NOTIFICATIONS: 'sqs' }), UsageError);
  });

  test('endpoint forms and bad endpoints', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1:9000'), { host: '127.0.0.1', port: 9000, useSSL: false, url: 'http://127.0.0.1:9000' });
    assert.deepEqual(parseEndpoint('minio'), { host: 'minio', port: undefined, useSSL: false, url: 'http://minio' });
    assert.deepEqual(parseEndpoint('[::1]:9000'), { host: '::1', port: 9000, useSSL: false, url: 'http://[::1]:9000' });
    assert.deepEqual(parseEndpoint('HTTPS://Minio.Example:9443'), { host: 'minio.example', port: 9443, useSSL: true, url: 'https://minio.example:9443' });
    for (const bad of ['ftp://x', 'http://host:9000/bucket', 'http://user:pw@host', 'host:99999', 'http://', 'a b']) {
      assert.throws(() => parseEndpoint(bad), UsageError, bad);
    }
    // A URL with credentials is refused without echoing them.
    assert.throws(
      () => storeConfigFromEnv({}, { MINIO_ENDPOINT: 'http://me:hunter2@host' }),
      (err: Error) => err instanceof UsageError && !err.message.includes('hunter2'),
    );
  });

  test('_FILE variants read the secrets from files; secrets never reach the description', async () => {
    const akFile = join(dir, 'access');
    const skFile = join(dir, 'secret');
    await writeFile(akFile, 'file-access-key\n');
    await writeFile(skFile, 'file-secret-key-value\n');
    const cfg = storeConfigFromEnv({ minio_bucket: BUCKET }, { MINIO_ACCESS_KEY_FILE: akFile, MINIO_SECRET_KEY_FILE: skFile });
    assert.equal(cfg.accessKey, 'file-access-key');
    assert.equal(cfg.secretKey, 'file-secret-key-value');
    assert.throws(() => storeConfigFromEnv({}, { MINIO_SECRET_KEY: 'a', MINIO_SECRET_KEY_FILE: skFile }), UsageError);
    assert.throws(
      () => storeConfigFromEnv({}, { MINIO_SECRET_KEY_FILE: join(dir, 'missing') }),
      (err: Error) => err.name === 'FileError' && err.message.includes('missing') && !err.message.includes('\n'),
    );

    // Against the embedded server with the real keys from files: the description names endpoint and bucket only.
    const emb = await startEmbeddedStore({ bucket: BUCKET });
    try {
      await writeFile(akFile, `${emb.accessKey}\n`);
      await writeFile(skFile, `${emb.secretKey}\n`);
      const fromFiles = storeConfigFromEnv({ minio_bucket: BUCKET }, { MINIO_ENDPOINT: emb.endpoint, MINIO_ACCESS_KEY_FILE: akFile, MINIO_SECRET_KEY_FILE: skFile });
      const s = await openMinioStore(fromFiles);
      try {
        await s.put('f.pb', Buffer.from('f'));
        assert.ok(s.description.includes(emb.endpoint) && s.description.includes(BUCKET));
        assert.ok(!s.description.includes(emb.secretKey));
      } finally {
        await s.close();
      }
    } finally {
      await emb.stop();
    }
  });
});

describe("waitFor with MinIO's bucket notifications (fake MinIO)", () => {
  /**
   * A minimal MinIO stand-in: HEAD bucket, HEAD object (404 until "created"), and the
   * listenBucketNotification long-poll, which streams one JSON line per event, keys URL-encoded.
   */
  test('a notification wakes the waiter; keys are URL-decoded; close ends the long-poll', async () => {
    const created = new Set<string>();
    const listeners = new Set<http.ServerResponse>();
    let listenRequests = 0;
    let statRequests = 0;
    const sockets = new Set<import('node:net').Socket>();
    const fake = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const [, bucket, ...rest] = url.pathname.split('/');
      const key = decodeURIComponent(rest.join('/'));
      if (req.method === 'HEAD' && bucket === 'fake' && !key) return void res.writeHead(200).end();
      if (req.method === 'HEAD' && key) {
        statRequests++;
        if (created.has(key)) return void res.writeHead(200, { 'content-length': '1', etag: '"x"', 'last-modified': new Date().toUTCString() }).end();
        return void res.writeHead(404).end();
      }
      if (req.method === 'GET' && !key && url.searchParams.getAll('events').includes('s3:ObjectCreated:*')) {
        listenRequests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(' '); // MinIO's keep-alive: a space, no newline (a blank line would crash the client's parser)
        listeners.add(res);
        res.on('close', () => listeners.delete(res));
        return;
      }
      res.writeHead(501).end();
    });
    fake.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const { port } = fake.address() as AddressInfo;
    /** Announces `key`; with store=false the object never appears to a stat, so only the notification can wake a waiter. */
    const emit = (key: string, store = true): void => {
      if (store) created.add(key);
      const encoded = encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');
      const line = JSON.stringify({ Records: [{ eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: 'fake' }, object: { key: encoded } } }] });
      for (const r of listeners) r.write(`${line}\n`);
    };
    const s = await openMinioStore({ endpoint: `127.0.0.1:${port}`, accessKey: 'ak', secretKey: 'sk', bucket: 'fake', region: 'us-east-1', notifications: 'minio' });
    try {
      const key = 'input/run 1/0/0.pb'; // sent as input/run+1/0/0.pb
      const waiting = s.waitFor(key, 5000);
      while (listeners.size === 0 || statRequests === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
      emit('input/other.pb', false); // another key does not wake it
      emit(key, false);
      await waiting;
      // A second wait reuses the same long-poll; an object already there is found by the first check.
      const second = s.waitFor('output/x.pb', 5000);
      await new Promise((r) => setTimeout(r, 10));
      emit('output/x.pb', false);
      await second;
      created.add('output/y.pb');
      await s.waitFor('output/y.pb', 5000);
      assert.equal(listenRequests, 1);
      // Without notification or object the safety poll keeps checking and the wait times out.
      const before = statRequests;
      await rejectsWith(s.waitFor('output/never.pb', 400), TimeoutError);
      assert.ok(statRequests - before >= 2, `${statRequests - before} safety polls`);
      await s.close();
      const t0 = performance.now();
      while (listeners.size > 0 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
      assert.equal(listeners.size, 0, 'close ends the notification long-poll');
    } finally {
      await s.close();
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });
});
