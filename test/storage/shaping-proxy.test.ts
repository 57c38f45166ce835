/**
 * The shaping proxy: every byte delivered intact and in order in both directions (random data,
 * large and tiny writes, many connections at once, half-close), bounded queues when the receiver
 * does not read, closing and stopping, the link clock's schedule, the rate holding for small
 * requests after an idle link (lower bounds only), refused settings; and a store
 * behind it (the embedded server through the minio client, the Host header a server sees, TLS
 * passed through with the endpoint's name checked). No upper wall-clock bound is asserted: only
 * that nothing crosses faster than the link allows.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { openLinkedStore } from '../../src/storage/linked-store.js';
import { openMinioStore, storeAgent } from '../../src/storage/minio-store.js';
import { DEFAULT_QUEUE_LIMIT, LinkClock, startShapingProxy } from '../../src/storage/shaping-proxy.js';
import { selfSignedCert } from '../backends/kube-server.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * A target that reads each connection until its end, then answers with the sha256 and length of
 * what it got, followed by `reply(length)` bytes, and ends (so the client's half-close is what
 * makes it answer).
 */
async function hashServer(reply: (length: number) => Buffer): Promise<{ port: number; close: () => Promise<void>; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => {
      const got = Buffer.concat(parts);
      const header = Buffer.from(`${sha(got)} ${got.length}\n`);
      s.end(Buffer.concat([header, reply(got.length)]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends `data` in writes of the given sizes (cycled), half-closes, and returns everything received until the end. */
function exchange(port: number, data: Buffer, sizes: number[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(got));
    });
    s.on('error', reject);
    let off = 0;
    let i = 0;
    const writeMore = (): void => {
      while (off < data.length) {
        const n = Math.min(sizes[i++ % sizes.length]!, data.length - off);
        const ok = s.write(data.subarray(off, off + n));
        off += n;
        if (!ok) return void s.once('drain', writeMore);
      }
      s.end();
    };
    writeMore();
  });
}

/** The reply of hashServer for a given request, as the client must see it. */
function expectedReply(sent: Buffer, reply: (length: number) => Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${sha(sent)} ${sent.length}\n`), reply(sent.length)]);
}

/** Resolves once `cond` holds, checking every few milliseconds (no bound on how long). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('shaping proxy: bytes', () => {
  const replies = new Map<number, Buffer>();
  const reply = (n: number): Buffer => {
    if (!replies.has(n)) replies.set(n, randomBytes(Math.min(n * 2 + 7, 3_000_000)));
    return replies.get(n)!;
  };
  let target: Awaited<ReturnType<typeof hashServer>>;
  before(async () => {
    target = await hashServer(reply);
  });
  after(() => target.close());

  for (const [name, shape] of [
    ['rate and delay', { bandwidthMbit: 400, rttMs: 2 }],
    ['delay only', { rttMs: 4 }],
    ['rate only', { bandwidthMbit: 800, rttMs: 0 }],
  ] as const) {
    test(`${name}: random data in large and tiny writes, both ways, with a half-close`, async () => {
      const proxy = await startShapingProxy({ ...shape, target: { host: '127.0.0.1', port: target.port } });
      try {
        for (const [size, writes] of [
          [1_500_000, [65536, 1_000_000, 3]],
          [20_000, [1, 2, 3, 5, 8, 13]],
          [1, [1]],
          [0, [1]],
        ] as const) {
          const data = randomBytes(size);
          const got = await exchange(proxy.port, data, [...writes]);
          assert.ok(got.equals(expectedReply(data, reply)), `${size} bytes in writes of ${writes.join(',')}: reply intact`);
        }
        await until(() => proxy.open === 0);
        assert.equal(proxy.connections, 4);
      } finally {
        await proxy.stop();
      }
    });
  }

  test('many connections at once, each intact, and the counters add up', async () => {
    const proxy = await startShapingProxy({ bandwidthMbit: 300, rttMs: 3, target: { host: '127.0.0.1', port: target.port } });
    try {
      const sent = Array.from({ length: 24 }, (_, i) => randomBytes(1 + ((i * 7919) % 90_000)));
      const got = await Promise.all(sent.map((d, i) => exchange(proxy.port, d, [1 + (i % 5) * 4000])));
      let down = 0;
      sent.forEach((d, i) => {
        const want = expectedReply(d, reply);
        assert.ok(got[i]!.equals(want), `connection ${i}`);
        down += want.length;
      });
      assert.equal(proxy.bytes.up, sent.reduce((s, d) => s + d.length, 0));
      assert.equal(proxy.bytes.down, down);
      assert.equal(proxy.connections, 24);
      await until(() => proxy.open === 0);
    } finally {
      await proxy.stop();
    }
  });

  test('a slow link with a small queue: the source is paused and every byte still arrives', async () => {
    const proxy = await startShapingProxy({ bandwidthMbit: 40, rttMs: 1, queueLimit: 4096, target: { host: '127.0.0.1', port: target.port } });
    try {
      const data = randomBytes(300_000);
      const got = await exchange(proxy.port, data, [100_000]);
      assert.ok(got.equals(expectedReply(data, reply)));
    } finally {
      await proxy.stop();
    }
  });
});

/**
 * A target that answers every request of `size` bytes on a kept-open connection with `reply(size)`
 * bytes and notes when the request's last byte arrived and when the reply was written; the
 * request is a 4-byte big-endian length and then that many bytes.
 */
async function timingServer(reply: (size: number) => Buffer): Promise<{ port: number; times: { got: number; sent: number }[]; close: () => Promise<void> }> {
  const times: { got: number; sent: number }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const size = buf.readUInt32BE(0);
        const got = performance.now();
        buf = buf.subarray(4 + size);
        s.write(reply(size));
        times.push({ got, sent: performance.now() });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    times,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('shaping proxy: the rate holds for every request', () => {
  test('small and large requests after an idle link, both ways: none gets through faster than its bytes x 8 / rate + rtt/2, every byte intact', async () => {
    const replies = new Map<number, Buffer>();
    const reply = (n: number): Buffer => {
      if (!replies.has(n)) replies.set(n, randomBytes(n === 0 ? 1 : n));
      return replies.get(n)!;
    };
    const target = await timingServer(reply);
    const mbit = 1;
    const rttMs = 6;
    const msPerByte = 8 / (mbit * 1000);
    const proxy = await startShapingProxy({ bandwidthMbit: mbit, rttMs, target: { host: '127.0.0.1', port: target.port } });
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.on('error', () => undefined);
    try {
      await new Promise<void>((r) => client.once('connect', () => r()));
      let received = Buffer.alloc(0);
      let arrived: () => void = () => undefined;
      client.on('data', (c: Buffer) => {
        received = Buffer.concat([received, c]);
        arrived();
      });
      // One request of each size on the same connection, each after the link has been idle for a while.
      for (const size of [1, 100, 648, 1000, 1460, 3288, 20_000]) {
        await new Promise((r) => setTimeout(r, 40));
        const request = Buffer.concat([Buffer.alloc(4), randomBytes(size)]);
        request.writeUInt32BE(size, 0);
        const want = reply(size);
        received = Buffer.alloc(0);
        const done = new Promise<number>((resolve) => {
          arrived = () => {
            if (received.length >= want.length) resolve(performance.now());
          };
        });
        const sent = performance.now();
        client.write(request);
        const back = await done;
        const t = target.times.at(-1)!;
        assert.ok(received.equals(want), `${size} bytes: the reply intact`);
        const upMs = t.got - sent;
        const downMs = back - t.sent;
        assert.ok(upMs >= request.length * msPerByte + rttMs / 2 - 1e-6, `${request.length} bytes up took ${upMs.toFixed(2)} ms, under ${(request.length * msPerByte + rttMs / 2).toFixed(2)} ms`);
        assert.ok(downMs >= want.length * msPerByte + rttMs / 2 - 1e-6, `${want.length} bytes down took ${downMs.toFixed(2)} ms, under ${(want.length * msPerByte + rttMs / 2).toFixed(2)} ms`);
      }
      assert.equal(target.times.length, 7);
    } finally {
      client.destroy();
      await proxy.stop();
      await target.close();
    }
  });
});

describe('shaping proxy: memory, closing, stopping', () => {
  test('a receiver that does not read: the proxy holds at most its queue limit plus what is in flight', async () => {
    let stalled: net.Socket | undefined;
    const sink = net.createServer({ pauseOnConnect: true }, (s) => {
      stalled = s;
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const proxy = await startShapingProxy({ bandwidthMbit: 1000, rttMs: 2, target: { host: '127.0.0.1', port: (sink.address() as net.AddressInfo).port } });
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.on('error', () => undefined);
    try {
      // Far more than the loopback socket buffers on both legs can hold.
      const data = Buffer.alloc(96 * 1024 * 1024, 7);
      client.write(data);
      // Wait until bytes reach the sink's connection (on a loaded machine that can take longer
      // than a pause), then until nothing moves any more: the proxy stopped reading.
      while (!stalled || proxy.bytes.up === 0) await new Promise((r) => setTimeout(r, 20));
      for (let last = -1, still = 0; still < 3; ) {
        still = proxy.bytes.up === last ? still + 1 : 0;
        last = proxy.bytes.up;
        await new Promise((r) => setTimeout(r, 100));
      }
      const rate = (1000 * 1e6) / 8 / 1000; // bytes per ms
      const limit = Math.max(DEFAULT_QUEUE_LIMIT, 10 * rate) + Math.ceil(rate * 1) + 65536; // queue + in flight + one read
      assert.ok(proxy.queued <= limit, `queued ${proxy.queued}`);
      assert.ok(client.writableLength > 0, 'the client is held back instead of the proxy buffering everything');
      assert.ok(proxy.bytes.up < data.length);
      assert.ok(stalled);
    } finally {
      client.destroy();
      await proxy.stop();
      stalled?.destroy();
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });

  test('the server closing ends the client after what was in flight; the client closing closes the server side', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      if (sockets.length === 1) s.end('bye'); // the first connection is closed by the server
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const proxy = await startShapingProxy({ bandwidthMbit: 10, rttMs: 20, target: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port } });
    try {
      const first = net.connect({ host: '127.0.0.1', port: proxy.port });
      const got: Buffer[] = [];
      first.on('data', (c: Buffer) => got.push(c));
      await new Promise<void>((r) => first.on('close', () => r()));
      assert.equal(Buffer.concat(got).toString(), 'bye', 'delayed bytes delivered before the close');

      const second = net.connect({ host: '127.0.0.1', port: proxy.port });
      await until(() => sockets.length === 2);
      const serverSide = sockets[1]!;
      const closed = new Promise<void>((r) => serverSide.on('close', () => r()));
      second.destroy();
      await closed;
      await until(() => proxy.open === 0);
    } finally {
      await proxy.stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a target that refuses connections: the client is closed', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const proxy = await startShapingProxy({ rttMs: 1, target: { host: '127.0.0.1', port } });
    try {
      const c = net.connect({ host: '127.0.0.1', port: proxy.port });
      c.on('error', () => undefined);
      await new Promise<void>((r) => c.on('close', () => r()));
      await until(() => proxy.open === 0);
    } finally {
      await proxy.stop();
    }
  });

  test('stop() destroys open connections and closes the server; it can be called again', async () => {
    const target = await hashServer(() => Buffer.alloc(0));
    const proxy = await startShapingProxy({ bandwidthMbit: 1, rttMs: 50, target: { host: '127.0.0.1', port: target.port } });
    const clients = Array.from({ length: 3 }, () => net.connect({ host: '127.0.0.1', port: proxy.port }));
    const closed = clients.map((c) => new Promise<void>((r) => c.on('close', () => r())));
    for (const c of clients) {
      c.on('error', () => undefined);
      c.write(randomBytes(200_000));
    }
    await until(() => proxy.open === 3 && target.sockets.size === 3);
    await proxy.stop();
    await Promise.all(closed);
    assert.equal(proxy.open, 0);
    assert.equal(proxy.queued, 0);
    await until(() => target.sockets.size === 0);
    await proxy.stop();
    await assert.rejects(
      new Promise((resolve, reject) => net.connect({ host: '127.0.0.1', port: proxy.port }).on('connect', resolve).on('error', reject)),
      /ECONNREFUSED/,
    );
    await target.close();
  });
});

describe('shaping proxy: the link clock and settings', () => {
  test('each slice arrives no earlier than its arrival + its bytes at the rate + rtt/2, after the slices before it, in order', () => {
    const clock = new LinkClock({ bandwidthMbit: 8, rttMs: 30 }); // 1000 bytes per ms
    let sent = 0;
    let last = -Infinity;
    const start = 100;
    for (const [ready, size] of [
      [100, 1000],
      [100, 500],
      [101, 1000],
      [500, 1],
      [500, 1000],
      [2000, 1000],
    ] as const) {
      const at = clock.arrival(ready, size);
      sent += size;
      assert.ok(at >= ready + 15, `not before ready + rtt/2 (${at})`);
      assert.ok(at >= last, 'in order');
      last = at;
      if (ready === start || ready === 101) assert.ok(at >= start + 15 + sent / 1000 - 1e-9, `the rate holds (${at} for ${sent} bytes)`);
      assert.ok(at >= ready + 15 + size / 1000 - 1e-9, `a slice takes its own bytes' time (${at} for ${size} bytes ready at ${ready})`);
    }
    // An idle link gives no credit: every slice takes its bytes' time, however long the link was idle.
    const idle = new LinkClock({ bandwidthMbit: 8, rttMs: 0 });
    assert.equal(idle.arrival(0, idle.slice), idle.slice / 1000);
    assert.equal(idle.arrival(0, 1000), idle.slice / 1000 + 1);
    assert.equal(idle.arrival(10_000, 1), 10_000.001);
    assert.equal(idle.arrival(20_000, 100), 20_000.1);
    const unlimited = new LinkClock({ rttMs: 10 });
    assert.equal(unlimited.arrival(7, 1e9), 12);
  });

  test('bad settings are refused by name', async () => {
    const target = { host: '127.0.0.1', port: 9 };
    for (const [shape, re] of [
      [{ bandwidthMbit: 0, rttMs: 1 }, /--bandwidth must be a positive number of Mbit\/s, got 0/],
      [{ bandwidthMbit: -5, rttMs: 1 }, /--bandwidth .* got -5/],
      [{ bandwidthMbit: Number.NaN, rttMs: 1 }, /--bandwidth .* got NaN/],
      [{ bandwidthMbit: Infinity, rttMs: 1 }, /--bandwidth .* got Infinity/],
      [{ bandwidthMbit: '5' as unknown as number, rttMs: 1 }, /--bandwidth .* got 5/],
      [{ rttMs: -1 }, /--rtt must be a number of milliseconds >= 0, got -1/],
      [{ rttMs: Number.NaN }, /--rtt .* got NaN/],
      [{} as { rttMs: number }, /--rtt .* got undefined/],
    ] as const) {
      await assert.rejects(startShapingProxy({ ...shape, target }), (e: Error) => e instanceof UsageError && re.test(e.message));
    }
    await assert.rejects(startShapingProxy({ rttMs: 1, target: { host: '127.0.0.1', port: 0 } }), /target host and port/);
    await assert.rejects(startShapingProxy({ rttMs: 1, target: { host: '', port: 80 } }), /target host and port/);
    await assert.rejects(startShapingProxy({ rttMs: 1, target, queueLimit: 0 }), /queueLimit must be a positive integer/);
  });
});

describe('a store behind the shaping proxy', () => {
  let embedded: EmbeddedStore;
  before(async () => {
    embedded = await startEmbeddedStore({ bucket: 'link-test' });
  });
  after(() => embedded.stop());

  test('put, get, exists, list and remove through the link: bytes intact, SigV4 accepted, every request counted', async () => {
    const linked = await openLinkedStore(
      { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey, onObjectCreated: embedded.onObjectCreated },
      { bucket: 'link-test', region: embedded.region },
      { bandwidthMbit: 200, rttMs: 2 },
    );
    try {
      const big = randomBytes(2_000_000);
      const up0 = linked.proxy.bytes.up;
      await linked.store.put('input/a.pb', big);
      assert.ok(linked.proxy.bytes.up - up0 > big.length, 'the upload crossed the link');
      const down0 = linked.proxy.bytes.down;
      assert.ok((await linked.store.get('input/a.pb')).equals(big));
      assert.ok(linked.proxy.bytes.down - down0 > big.length, 'the download crossed the link');
      assert.ok((await embedded.store.get('input/a.pb')).equals(big), 'the direct store sees the same object');
      await embedded.store.put('output/b.pb', Buffer.from('result'));
      await linked.store.waitFor('output/b.pb', 10_000);
      assert.equal(await linked.store.exists('output/b.pb'), true);
      assert.deepEqual(await linked.store.list('output/'), ['output/b.pb']);
      await linked.store.remove(['input/a.pb', 'output/b.pb']);
      assert.equal(await embedded.store.exists('input/a.pb'), false);
    } finally {
      await linked.stop();
    }
    assert.equal(linked.proxy.open, 0, 'stopping the store stops the proxy');
  });

  test('a put that takes the slow link longer than the idle limit is not given up while its bytes are still crossing', async () => {
    // 40 KB at 0.4 Mbit/s take 800 ms; the client has written them all at once, and nothing moves on its socket meanwhile.
    const linked = await openLinkedStore(
      { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey },
      { bucket: 'link-test', region: embedded.region, requestIdleMs: 250, retryBudgetMs: 0 },
      { bandwidthMbit: 0.4, rttMs: 0 },
    );
    try {
      const data = randomBytes(40_000);
      // No retries (retryBudgetMs 0): a connection given up as idle would fail the put.
      await linked.store.put('slow/a.bin', data);
      assert.ok((await embedded.store.get('slow/a.bin')).equals(data));
      await linked.store.remove(['slow/a.bin']);
    } finally {
      await linked.stop();
    }
  });

  test("the store sees the endpoint's own host:port in the Host header, not the proxy's", async () => {
    const hosts: string[] = [];
    const fake = http.createServer((req, res) => {
      hosts.push(String(req.headers.host));
      res.writeHead(200, { 'Content-Length': '0' }).end();
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const proxy = await startShapingProxy({ rttMs: 1, target: { host: '127.0.0.1', port: (fake.address() as net.AddressInfo).port } });
    try {
      // A name that does not resolve: only the proxy is dialled.
      const store = await openMinioStore(
        { endpoint: 'http://s3.example.invalid:9000', accessKey: 'ak', secretKey: 'sk-sk-sk', bucket: 'some-bucket', region: 'us-east-1' },
        { connectVia: { host: proxy.host, port: proxy.port } },
      );
      await store.close();
      assert.ok(hosts.length > 0);
      assert.deepEqual([...new Set(hosts)], ['s3.example.invalid:9000']);
    } finally {
      await proxy.stop();
      await new Promise<void>((r) => fake.close(() => r()));
    }
  });

  test("TLS passes through untouched, and the certificate is checked against the endpoint's name", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onnx-manager-link-tls-'));
    try {
      const good = await selfSignedCert(dir, 'DNS:store.test,IP:10.9.8.7');
      const server = https.createServer({ key: good.key, cert: good.cert }, (req, res) => res.end(`hello ${req.headers.host}`));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      const proxy = await startShapingProxy({ bandwidthMbit: 100, rttMs: 2, target: { host: '127.0.0.1', port } });
      const get = (name: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const agent = storeAgent(true, name, { host: proxy.host, port: proxy.port });
          https
            .get({ host: name, port: 8443, path: '/', agent, ca: good.cert }, (res) => {
              const parts: Buffer[] = [];
              res.on('data', (c: Buffer) => parts.push(c));
              res.on('end', () => {
                agent.destroy();
                resolve(Buffer.concat(parts).toString());
              });
            })
            .on('error', (err) => {
              agent.destroy();
              reject(err);
            });
        });
      try {
        assert.equal(await get('store.test'), 'hello store.test:8443');
        // An endpoint given by address has no TLS server name: its certificate is still checked against that address.
        assert.equal(await get('10.9.8.7'), 'hello 10.9.8.7:8443');
        await assert.rejects(get('other.test'), (e: NodeJS.ErrnoException) => e.code === 'ERR_TLS_CERT_ALTNAME_INVALID');
      } finally {
        await proxy.stop();
        await new Promise<void>((r) => server.close(() => r()));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
