/**
 * The embedded S3 server on its own, through the minio client and through raw requests signed by
 * the minio client's own SigV4 signer: buckets, awkward keys, listing pages, multi-object deletes,
 * signature and body checks, an aborted upload, and NotImplemented for everything else.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Client } from 'minio';
import { signV4 } from 'minio/dist/esm/signing.mjs';
import { StoreError } from '../../src/errors.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import { SMALL_OBJECT_BYTES } from '../../src/storage/s3-server/object-folder.js';
import { startS3Server, type S3Server } from '../../src/storage/s3-server/server.js';
import { tempDirs } from '../helpers.js';

const ACCESS = 'test-access';
const SECRET = 'test-secret-key-0123';
const BUCKET = 'bkt';
const tempDir = tempDirs();

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: unknown; name?: unknown };
    return String(e.code ?? e.name);
  }
  assert.fail('expected an error, nothing was thrown');
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

async function names(client: Client, prefix: string, recursive = true, startAfter = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const item of client.listObjectsV2(BUCKET, prefix, recursive, startAfter) as AsyncIterable<{ name?: string; prefix?: string }>) {
    out.push(item.name ?? `prefix:${item.prefix}`);
  }
  return out;
}

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface RawAnswer {
  status: number;
  body: string;
}

/** A request signed with the minio client's signer; `tamper` changes it after signing. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  body: Buffer | undefined,
  opts: { payloadHash?: string; date?: Date; region?: string; anonymous?: boolean; abortAfter?: number; declaredLength?: number } = {},
): Promise<RawAnswer> {
  const date = opts.date ?? new Date();
  const amzDate = date.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': opts.payloadHash ?? 'UNSIGNED-PAYLOAD',
    'content-length': String(opts.declaredLength ?? body?.length ?? 0),
  };
  if (!opts.anonymous) {
    headers.authorization = signV4({ method, path, headers } as never, ACCESS, SECRET, opts.region ?? 'us-east-1', date, headers['x-amz-content-sha256']!);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      void readAll(res).then((b) => resolve({ status: res.statusCode ?? 0, body: b.toString() }), reject);
    });
    req.on('error', (err) => (opts.abortAfter !== undefined ? resolve({ status: 0, body: err.message }) : reject(err)));
    if (opts.abortAfter !== undefined && body) {
      req.write(body.subarray(0, opts.abortAfter), () => setTimeout(() => req.destroy(), 20));
      return;
    }
    req.end(body);
  });
}

describe('embedded S3 server', () => {
  let dir: string;
  let server: S3Server;
  let client: Client;
  let agent: http.Agent;

  before(async () => {
    dir = await tempDir('s3-server');
    server = await startS3Server({ dir, accessKey: ACCESS, secretKey: SECRET });
    agent = new http.Agent({ keepAlive: true });
    // partSize at its minimum, so a stream of unknown length above 5 MiB becomes a multipart upload.
    client = new Client({ endPoint: '127.0.0.1', port: server.port, useSSL: false, accessKey: ACCESS, secretKey: SECRET, region: 'us-east-1', pathStyle: true, partSize: 5 * 1024 * 1024, transportAgent: agent });
    await client.makeBucket(BUCKET, 'us-east-1');
  });
  after(async () => {
    agent?.destroy();
    await server?.close();
  });

  test('listens on loopback; buckets: exists, created once, region looked up, a missing one is NoSuchBucket', async () => {
    assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await client.bucketExists(BUCKET), true);
    assert.equal(await client.bucketExists('not-there'), false);
    assert.equal(await codeOf(client.makeBucket(BUCKET, 'us-east-1')), 'BucketAlreadyOwnedByYou');
    assert.equal(await codeOf(client.putObject('not-there', 'k', Buffer.from('x'))), 'NoSuchBucket');
    assert.equal(await codeOf(client.statObject('not-there', 'k')), 'NotFound');
    assert.equal(await codeOf(client.makeBucket('Not_A_Bucket', 'us-east-1')), 'InvalidBucketNameError');
    // Without a region the client asks the bucket's location first.
    const noRegion = new Client({ endPoint: '127.0.0.1', port: server.port, useSSL: false, accessKey: ACCESS, secretKey: SECRET, pathStyle: true });
    await noRegion.putObject(BUCKET, 'located.pb', Buffer.from('here'));
    assert.equal((await readAll(await noRegion.getObject(BUCKET, 'located.pb'))).toString(), 'here');
    await noRegion.removeObject(BUCKET, 'located.pb');
  });

  test('awkward keys round-trip through put, stat, get, list and delete, each one flat file', async () => {
    const keys = ['a b/c+d.pb', '100%/x', 'ünï/ç☃.bin', '.', '..', 'x/../y', 'trailing/', "~t*(!)'", 'deep/er/and/deeper.pb'];
    for (const k of keys) await client.putObject(BUCKET, k, Buffer.from(`body of ${k}`));
    for (const k of keys) {
      assert.equal((await client.statObject(BUCKET, k)).size, Buffer.byteLength(`body of ${k}`), k);
      assert.equal((await readAll(await client.getObject(BUCKET, k))).toString(), `body of ${k}`, k);
    }
    assert.deepEqual(await names(client, ''), [...keys].sort(utf8Order));
    assert.deepEqual(await names(client, 'a b/'), ['a b/c+d.pb']);
    assert.equal((await readdir(join(dir, BUCKET))).length, keys.length, 'one file per key, no folders');
    for (const k of keys) await client.removeObject(BUCKET, k);
    assert.deepEqual(await names(client, ''), []);
    assert.equal(await codeOf(client.statObject(BUCKET, 'a b/c+d.pb')), 'NotFound');
    assert.equal(await codeOf(client.getObject(BUCKET, '..')), 'NoSuchKey');
  });

  test('ListObjectsV2 pages past 1000 keys, honours start-after, and a delimiter gives common prefixes', async () => {
    const keys = Array.from({ length: 1205 }, (_, i) => `p/${String(i).padStart(4, '0')}.pb`);
    for (let i = 0; i < keys.length; i += 25) await Promise.all(keys.slice(i, i + 25).map((k) => client.putObject(BUCKET, k, Buffer.from(k))));
    await client.putObject(BUCKET, 'q/1.pb', Buffer.from('q'));
    await client.putObject(BUCKET, 'top.pb', Buffer.from('t'));
    assert.deepEqual(await names(client, 'p/'), keys);
    assert.deepEqual(await names(client, 'p/', true, 'p/1200.pb'), keys.slice(1201));
    assert.deepEqual(await names(client, '', false), ['top.pb', 'prefix:p/', 'prefix:q/']);
    await client.removeObjects(BUCKET, [...keys, 'q/1.pb', 'top.pb']);
    assert.deepEqual(await names(client, ''), []);
  });

  test('a multi-object delete removes every key it names (missing ones are fine) and no other', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `m/${i % 4}/${i}.pb`);
    await Promise.all(keys.map((k) => client.putObject(BUCKET, k, Buffer.from(k))));
    const errors = await client.removeObjects(BUCKET, [...keys.slice(0, 50), 'm/none.pb', 'm/&<amp>.pb']);
    assert.deepEqual(errors, []);
    assert.deepEqual(await names(client, 'm/'), keys.slice(50).sort(utf8Order));
    await client.removeObjects(BUCKET, keys.slice(50));
  });

  test('what it does not implement is refused at once with NotImplemented, and nothing is stored', async () => {
    await client.putObject(BUCKET, 'src.pb', Buffer.from('source'));
    const big = Readable.from((function* () {
      for (let i = 0; i < 7; i++) yield Buffer.alloc(1024 * 1024, i);
    })());
    assert.equal(await codeOf(client.putObject(BUCKET, 'multipart.pb', big)), 'NotImplemented');
    assert.equal(await codeOf(client.copyObject(BUCKET, 'copy.pb', `/${BUCKET}/src.pb`)), 'NotImplemented');
    assert.equal(await codeOf(client.getPartialObject(BUCKET, 'src.pb', 1, 2)), 'NotImplemented');
    assert.equal(await codeOf(client.listBuckets()), 'NotImplemented');
    assert.equal(await codeOf(client.setObjectTagging(BUCKET, 'src.pb', { a: 'b' })), 'NotImplemented');
    assert.equal(await codeOf(readAll(client.listObjects(BUCKET, '', true) as AsyncIterable<Buffer>)), 'NotImplemented');
    const presigned = await fetch(await client.presignedGetObject(BUCKET, 'src.pb', 60));
    assert.equal(presigned.status, 501);
    assert.match(await presigned.text(), /<Code>NotImplemented<\/Code>/);
    assert.deepEqual(await names(client, ''), ['src.pb']);
    await client.removeObject(BUCKET, 'src.pb');
  });

  test('signatures: the signer of the minio client is accepted; anonymous, stale, wrong-region and tampered requests are not', async () => {
    const body = Buffer.from('signed by hand');
    const hash = (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
    const path = `/${BUCKET}/raw.pb`;
    assert.equal((await rawRequest(server.port, 'PUT', path, body, { payloadHash: hash })).status, 200);
    assert.equal((await rawRequest(server.port, 'GET', path, undefined)).body, 'signed by hand');
    const cases: [string, Promise<RawAnswer>, number, string][] = [
      ['anonymous', rawRequest(server.port, 'GET', path, undefined, { anonymous: true }), 403, 'AccessDenied'],
      ['an hour old', rawRequest(server.port, 'GET', path, undefined, { date: new Date(Date.now() - 3600_000) }), 403, 'RequestTimeTooSkewed'],
      ['another region', rawRequest(server.port, 'GET', path, undefined, { region: 'eu-west-1' }), 400, 'AuthorizationHeaderMalformed'],
      ['a body that is not the one hashed', rawRequest(server.port, 'PUT', path, Buffer.from('replaced by hand'), { payloadHash: hash }), 400, 'XAmzContentSHA256Mismatch'],
    ];
    for (const [what, answer, status, code] of cases) {
      const got = await answer;
      assert.equal(got.status, status, `${what}: ${got.body}`);
      assert.ok(got.body.includes(`<Code>${code}</Code>`), `${what}: ${got.body}`);
    }
    assert.equal((await readAll(await client.getObject(BUCKET, 'raw.pb'))).toString(), 'signed by hand', 'a refused put changes nothing');
    await client.removeObject(BUCKET, 'raw.pb');
  });

  test('bodies around the size read and written whole (1 MiB) and streamed above it round-trip byte for byte, overwriting each other', async () => {
    const sizes = [0, 1, SMALL_OBJECT_BYTES - 1, SMALL_OBJECT_BYTES, SMALL_OBJECT_BYTES + 1, 3 * SMALL_OBJECT_BYTES + 7];
    for (const size of [...sizes, ...[...sizes].reverse()]) {
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) body[i] = (i / 4096 + size) & 0xff;
      await client.putObject(BUCKET, 'sized.bin', body);
      assert.equal((await client.statObject(BUCKET, 'sized.bin')).size, size);
      assert.ok((await readAll(await client.getObject(BUCKET, 'sized.bin'))).equals(body), `${size} bytes`);
    }
    assert.deepEqual(await readdir(join(dir, '.incoming')), [], 'no temporary file left');
    await client.removeObject(BUCKET, 'sized.bin');
  });

  test('an upload cut off midway leaves the old object whole and no temporary file', async () => {
    const old = Buffer.alloc(300_000, 1);
    await client.putObject(BUCKET, 'cut.pb', old);
    const created: string[] = [];
    const unsubscribe = server.onObjectCreated((_bucket, key) => created.push(key));
    try {
      const answer = await rawRequest(server.port, 'PUT', `/${BUCKET}/cut.pb`, Buffer.alloc(1024 * 1024, 2), { abortAfter: 200_000 });
      assert.equal(answer.status, 0, 'the client gave up before any answer');
      const incoming = join(dir, '.incoming');
      // The server removes the temporary file once it sees the connection gone: wait for that
      // (up to 120 s on a loaded machine), then check.
      const until = Date.now() + 120_000;
      while (Date.now() < until && (await readdir(incoming)).length > 0) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(await readdir(incoming), []);
      assert.ok((await readAll(await client.getObject(BUCKET, 'cut.pb'))).equals(old));
      assert.deepEqual(created, [], 'no "created" event for an object that was not stored');
    } finally {
      unsubscribe();
    }
  });

  test("the project's store: a key too long is a one-line StoreError; MinIO notifications are refused without harm", async () => {
    const store = await openMinioStore({ endpoint: server.endpoint, accessKey: ACCESS, secretKey: SECRET, bucket: BUCKET, notifications: 'minio' });
    try {
      const err = await store.put(`k/${'x'.repeat(300)}`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StoreError, String(err));
      assert.match(err.message, /KeyTooLongError/);
      assert.ok(!err.message.includes('\n'));
      // listenBucketNotification gets NotImplemented; waitFor falls back on its safety poll.
      const waiting = store.waitFor('n/late.pb', 10_000);
      await new Promise((r) => setTimeout(r, 50));
      await client.putObject(BUCKET, 'n/late.pb', Buffer.from('late'));
      await waiting;
    } finally {
      await store.close();
    }
    await server.close();
    await server.close(); // idempotent
    assert.equal(existsSync(join(dir, '.incoming')), false, 'closing removes the empty folder for incoming files');
    assert.equal(existsSync(join(dir, BUCKET)), true, 'the objects stay: the folder is the caller’s');
  });
});
