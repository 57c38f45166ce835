/**
 * What a put sends: one PUT whose body is exactly the bytes given, signed over their SHA-256
 * (x-amz-content-sha256, checked here against the bytes received), with its length and content
 * type and no Content-MD5 over http; a key the client would refuse is refused before any request.
 * Against a recording S3 endpoint on loopback (the embedded server's tests check the signature).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { StoreError } from '../../src/errors.js';
import { Chunks } from '../../src/proto/writer.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import type { ObjectStore } from '../../src/storage/store.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe('a put on the wire', () => {
  const seen: Seen[] = [];
  let server: http.Server;
  let store: ObjectStore;

  before(async () => {
    server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts) });
        // The bucket exists (opening checks it); every put succeeds.
        res.writeHead(200, { ETag: '"e"' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    store = await openMinioStore({ endpoint: `127.0.0.1:${port}`, accessKey: 'ak', secretKey: 'sk-secret', bucket: 'puts', region: 'us-east-1' });
  });

  after(async () => {
    await store.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const putsOf = (key: string) => seen.filter((s) => s.method === 'PUT' && s.url === `/puts/${key}`);

  /** Each case: what is put, and the bytes that must arrive. */
  const cases: [string, () => { data: Uint8Array | Chunks; bytes: Buffer }][] = [
    ['a Buffer', () => ({ data: Buffer.from('hello, store'), bytes: Buffer.from('hello, store') })],
    ['a view into a larger array', () => ({ data: new Uint8Array(Buffer.from('xxpayloadxx')).subarray(2, 9), bytes: Buffer.from('payload') })],
    [
      'Chunks',
      () => {
        const c = new Chunks();
        c.push(Buffer.from('ab'));
        c.push(Buffer.alloc(70_000, 3));
        c.field(3, Buffer.from('cd'));
        return { data: c, bytes: Buffer.from(c.concat()) };
      },
    ],
    ['0 bytes', () => ({ data: new Uint8Array(0), bytes: Buffer.alloc(0) })],
    ['300 KB', () => ({ data: Buffer.alloc(300_000, 7), bytes: Buffer.alloc(300_000, 7) })],
  ];
  for (const [name, make] of cases) {
    test(`${name}: one PUT of exactly its bytes, signed over their SHA-256, no Content-MD5`, async () => {
      const key = `t/${name.replace(/\W+/g, '-')}.pb`;
      const { data, bytes } = make();
      await store.put(key, data);
      const puts = putsOf(key);
      assert.equal(puts.length, 1);
      const p = puts[0]!;
      assert.deepEqual(p.body, bytes);
      assert.equal(p.headers['content-length'], String(bytes.length));
      assert.equal(p.headers['content-type'], 'application/octet-stream');
      assert.equal(p.headers['x-amz-content-sha256'], createHash('sha256').update(bytes).digest('hex'));
      assert.equal(p.headers['content-md5'], undefined);
      assert.match(String(p.headers.authorization), /^AWS4-HMAC-SHA256 Credential=ak\/\d{8}\/us-east-1\/s3\/aws4_request, ?SignedHeaders=[^,]*x-amz-content-sha256[^,]*, ?Signature=[0-9a-f]{64}$/);
    });
  }

  test('an empty key or one over 1024 characters is refused, and nothing is sent', async () => {
    const before = seen.length;
    for (const key of ['', 'k'.repeat(1025)]) {
      await assert.rejects(store.put(key, Buffer.from('x')), (e: unknown) => e instanceof StoreError && e.message.includes('invalid object key'));
    }
    assert.equal(seen.length, before);
  });
});
