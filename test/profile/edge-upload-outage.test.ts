/**
 * The store killed while the edge uploads: the S3 server (in a process of its own) is killed with
 * SIGKILL as the edge's PUT of a cloud part, and later of a payload, is on its way to it, and
 * started again on the same port and folder after OUTAGE_MS. The upload is put and timed again
 * once the store is back (a part's in prepare, a payload's with its whole cycle), so no row's
 * model_upload_ms or upload_ms holds the outage; the retries are counted in store_retries (the
 * part's in the split point's first row, the payload's in its own row), and every row is ok.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBackend } from '../../src/backends/local.js';
import type { Row } from '../../src/profile/columns.js';
import { runSweep } from '../../src/profile/sweep.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { openMinioStore } from '../../src/storage/minio-store.js';
import type { ObjectStore } from '../../src/storage/store.js';
import { analyze, sweepContext, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';
import { startS3Process, type S3Process } from '../storage/s3-process.js';
import { tieSockets } from '../storage/tie-sockets.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-edge-outage-'));
const folder = mkdtempSync(join(dir, 's3-'));
const KEYS = { accessKey: 'edge-outage', secretKey: 'edge-outage-secret-key' };
const BUCKET = 'edge-outage';
const OUTAGE_MS = 3000;
let s3: S3Process;
let analysis: ModelAnalysis;

before(async () => {
  s3 = await startS3Process(folder, KEYS);
  analysis = await analyze(zooSubject(zoo.find((z) => z.name === 'lenet5')!));
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The edge's way to the S3 server: a TCP relay that, when a request matching the next pattern
 * passes, holds it (the server never gets it), kills the server process and drops every
 * connection, then starts the server again on its port after `ms`. While the server is down a
 * connection through the relay is dropped at once, as the server's refused ones are.
 */
async function killingRelay(): Promise<{ endpoint: string; killOn(pattern: RegExp, ms: number): void; readonly killed: string[]; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const plan: { pattern: RegExp; ms: number }[] = [];
  const killed: string[] = [];
  let restarting: Promise<void> | undefined;
  const kill = (what: string, ms: number): void => {
    killed.push(what);
    restarting = (async () => {
      await s3.stop();
      for (const s of open) s.destroy();
      await new Promise((r) => setTimeout(r, ms));
      s3 = await startS3Process(folder, KEYS, s3.port);
    })();
  };
  const srv = net.createServer((c) => {
    const up = net.connect(s3.port, '127.0.0.1');
    tieSockets(open, c, up);
    c.on('data', (d: Buffer) => {
      const head = d.toString('latin1');
      const next = plan[0];
      if (next && next.pattern.test(head)) {
        plan.shift();
        kill(head.split('\r\n')[0]!, next.ms);
        return;
      }
      up.write(d);
    });
    up.pipe(c);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    killOn: (pattern, ms) => void plan.push({ pattern, ms }),
    killed,
    async close() {
      await restarting;
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

describe('the store killed during an edge upload', () => {
  it('a part’s and a payload’s upload are put and timed again once the store is back: every row ok, none carries the outage, store_retries counts the retries', { timeout: 120_000 }, async () => {
    const relay = await killingRelay();
    let edgeStore: ObjectStore | undefined;
    const backend = new LocalBackend({ store: { endpoint: s3.endpoint, ...KEYS, bucket: BUCKET } });
    const rows: Row[] = [];
    try {
      edgeStore = await openMinioStore({ endpoint: relay.endpoint, ...KEYS, bucket: BUCKET, retryBudgetMs: 60_000 });
      // The first PUT of a part (split 2's cloud part), then the payload of split 2's repetition 3.
      relay.killOn(new RegExp(`^PUT /${BUCKET}/models/[0-9a-f]{64}\\.onnx `), OUTAGE_MS);
      relay.killOn(new RegExp(`^PUT /${BUCKET}/input/[^/ ]+/2/3\\.pb `), OUTAGE_MS);
      await runSweep(sweepContext(analysis, edgeStore, backend, { tag: 'edge-outage', timeoutMs: 30_000, warmup: 1 }), { rep: 6, splits: [2], onRow: (r) => void rows.push(r) });
    } finally {
      await backend.close();
      await edgeStore?.close();
      await relay.close();
    }
    assert.equal(relay.killed.length, 2, `the store was killed during both uploads: ${relay.killed.join('; ')}`);
    assert.match(relay.killed[0]!, /^PUT \/edge-outage\/models\//);
    assert.match(relay.killed[1]!, /^PUT \/edge-outage\/input\/.*\/2\/3\.pb/);
    assert.deepEqual(
      rows.map((r) => `${r.split_index}/${r.rep}:${r.status}`),
      Array.from({ length: 6 }, (_, i) => `2/${i}:ok`),
      rows.map((r) => r.error).join('; '),
    );
    const retries = rows.map((r) => Number(r.store_retries));
    assert.ok(retries[0]! > 0, `the part's upload retries are in the split point's first row: store_retries ${retries.join(',')}`);
    assert.ok(retries[3]! > 0, `the payload's upload retries are in its own row: store_retries ${retries.join(',')}`);
    assert.deepEqual([retries[1], retries[2], retries[4], retries[5]], [0, 0, 0, 0]);
    for (const r of rows) {
      assert.ok(Number(r.model_upload_ms) < OUTAGE_MS, `rep ${r.rep}: model_upload_ms ${r.model_upload_ms} holds no part of the ${OUTAGE_MS} ms outage`);
      assert.ok(Number(r.upload_ms) < OUTAGE_MS, `rep ${r.rep}: upload_ms ${r.upload_ms} holds no part of the ${OUTAGE_MS} ms outage`);
      assert.ok(Number(r.total_ms) < OUTAGE_MS, `rep ${r.rep}: total_ms ${r.total_ms} holds no part of the ${OUTAGE_MS} ms outage`);
    }
  });
});
