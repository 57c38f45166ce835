/**
 * The store retry budget of an OSCAR service's jobs: OSCAR starts every job with the service's own
 * environment, so `deploy --store_retry_s` writes the service's budget into
 * ONNX_MANAGER_CLOUD_CONFIG, and a sweep's own budget travels in each payload to the job that
 * serves it (a job whose store goes down waits that budget, not the service's).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { decodeCloudConfig } from '../../src/config/cloud-config.js';
import { cli } from '../cli-helper.js';
import { tieSockets } from '../storage/tie-sockets.js';
import { startOscarFixture, type OscarFixture } from './oscar-fixture.js';

const BUCKET = 'oscar-retry';
let f: OscarFixture;

before(async () => {
  f = await startOscarFixture(BUCKET, 'oscar-retry');
});
after(async () => f?.stop());
afterEach(() => f.checkSpec());

const deployed = (name: string) => decodeCloudConfig(f.server.services.get(name)!.environment!.variables!.ONNX_MANAGER_CLOUD_CONFIG!);
const deploy = (name: string, extra: string[]) => cli(['deploy', '--oscar_service', name, '--oscar_endpoint', f.server.url, '--minio_bucket', BUCKET, '--onnx_path', join(f.dir, `fdl-${name}`), '--apply', ...extra]);
const rows = (file: string): Record<string, string>[] => parseCsv(readFileSync(file), { columns: true }) as Record<string, string>[];
const runAll = (name: string, csv: string, extra: string[]) =>
  cli(['run_all', '--onnx_file', f.modelFile, '--splits', '4', '--rep', '1', '--warmup', '0', '--results_file', join(f.dir, csv), '--cloud', 'oscar', '--oscar_endpoint', f.server.url, '--oscar_service', name, ...extra]);

describe('the store retry budget of OSCAR services', () => {
  it('deploy --store_retry_s sets the budget the service’s jobs run with; the default leaves it out', async () => {
    const r = await deploy('retry7', ['--store_retry_s', '7']);
    assert.equal(r.code, 0, r.err);
    assert.equal(deployed('retry7').storeRetryS, 7);
    const d = await deploy('retrydefault', []);
    assert.equal(d.code, 0, d.err);
    assert.equal(deployed('retrydefault').storeRetryS, undefined);
  });

  it('a sweep asking for another budget than the service’s runs without a warning: the budget travels with each payload', async () => {
    const other = await runAll('retry7', 'other.csv', ['--store_retry_s', '30']);
    assert.equal(other.code, 0, other.err);
    assert.doesNotMatch(other.err, /retries the store/);
    const plain = await runAll('retrydefault', 'plain.csv', []);
    assert.equal(plain.code, 0, plain.err);
    assert.doesNotMatch(plain.err, /retries the store/);
  });

  it('a job that meets a store outage waits the run’s budget, longer than its service’s', async () => {
    assert.equal((await deploy('retry1', ['--store_retry_s', '1'])).code, 0);
    // The jobs' store is down for 3 s from the first job's first attempt: three times the service's budget.
    const door = await StoreDoor.start(f.store.endpoint, 3000);
    f.server.faults = { scriptEnv: () => ({ MINIO_ENDPOINT: door.endpoint }) };
    try {
      const r = await runAll('retry1', 'waited.csv', ['--store_retry_s', '60']);
      assert.equal(r.code, 0, r.err);
      const got = rows(join(f.dir, 'waited.csv'));
      assert.ok(got.length > 0 && got.every((x) => x.status === 'ok'), got.map((x) => `${x.split_index}:${x.status} ${x.error}`).join('; '));
      assert.ok(door.dropped > 0 && door.opened, 'the job met the outage, and rode it out');
    } finally {
      f.server.faults = {};
      await door.close();
    }
  });

  it('a job that meets a store outage gives up after the run’s budget, shorter than its service’s, naming it', async () => {
    assert.equal((await deploy('retry60', ['--store_retry_s', '60'])).code, 0);
    // Down for 50 s: the job gives up after the run's 1 s, long before the service's 60 s.
    const door = await StoreDoor.start(f.store.endpoint, 50_000);
    f.server.faults = { scriptEnv: () => ({ MINIO_ENDPOINT: door.endpoint }) };
    try {
      const r = await runAll('retry60', 'gaveup.csv', ['--store_retry_s', '1', '--splits', '4']);
      assert.equal(r.code, 1, r.err);
      const got = rows(join(f.dir, 'gaveup.csv'));
      assert.equal(got.length, 1);
      assert.equal(got[0]!.status, 'error');
      assert.match(got[0]!.error!, /^cloud: .*--store_retry_s 1\b/);
      assert.ok(door.dropped > 0 && !door.opened, 'the job met the outage');
    } finally {
      f.server.faults = {};
      await door.close();
      await f.server.idle();
    }
  });
});

/**
 * A store endpoint that is down until it opens: each connection is dropped at once (the store
 * unreachable to its client), until `outageMs` after the first one dropped; from then on
 * connections are forwarded to the store. The outage is timed from the job's own first attempt,
 * so a slow start of the job does not shorten it.
 */
class StoreDoor {
  dropped = 0;
  private openSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    private readonly outageMs: number,
  ) {
    server.on('connection', (socket) => this.take(socket));
  }

  static async start(storeEndpoint: string, outageMs: number): Promise<StoreDoor> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new StoreDoor(server, new URL(storeEndpoint), outageMs);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get opened(): boolean {
    return this.openSince !== undefined;
  }

  private take(socket: Socket): void {
    if (!this.opened) {
      this.dropped++;
      this.timer ??= setTimeout(() => (this.openSince = Date.now()), this.outageMs);
      socket.destroy();
      return;
    }
    const upstream = connect(Number(this.target.port), this.target.hostname);
    tieSockets(this.sockets, socket, upstream);
    socket.pipe(upstream).pipe(socket);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
