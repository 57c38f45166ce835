/**
 * A cloud worker's deadline and its store: time during which the worker says its store is
 * unavailable does not count against the deadline (--timeout), within the store's retry budget.
 * A scripted worker in this process (its lines go through streams, as a worker's do) answers each
 * request as the test says, on timers of this process, so that what comes first is fixed.
 */
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { WorkerBackend, type WorkerStreams } from '../../src/backends/worker-client.js';
import { encodeCloudConfig, type CloudConfig } from '../../src/config/cloud-config.js';
import type { WorkerReply, WorkerRequest } from '../../src/runner/serve.js';

type Say = (m: WorkerReply) => void;

/** A worker whose answers `script` writes; killing or stopping it ends it. */
class ScriptedWorker extends WorkerBackend {
  readonly name = 'scripted';
  protected readonly label = 'the scripted worker';

  constructor(
    private readonly script: (m: WorkerRequest & { type: 'prepare' }, say: Say) => void,
    private readonly cloud?: CloudConfig,
  ) {
    super(cloud);
  }

  protected async spawnWorker(): Promise<WorkerStreams> {
    const stdout = new PassThrough();
    // Keeps this process running while the worker does, as a child process would (the backend's timers do not).
    const running = setInterval(() => undefined, 1000);
    let end!: (how: string) => void;
    const exited = new Promise<string>((resolve) => (end = resolve)).finally(() => clearInterval(running));
    const say: Say = (m) => void (stdout.writable && stdout.write(`${JSON.stringify(m)}\n`));
    const stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const m = JSON.parse(line) as WorkerRequest;
          if (m.type === 'stop') end('code 0');
          else if (m.type === 'prepare') this.script(m, say);
        }
        done();
      },
    });
    say({ type: 'ready', ...(this.cloud ? { config: encodeCloudConfig(this.cloud) } : {}) });
    return { stdin, stdout, exited, kill: () => (end('SIGKILL'), stdout.end()) };
  }
}

describe("a worker's deadline while its store is unavailable", () => {
  it('a worker whose store comes back late in the deadline has the rest of it to answer: it is not taken for hung, and its retries reach the caller', { timeout: 30_000 }, async () => {
    const DEADLINE = 1000;
    // The store goes at once and comes back shortly before two deadlines have passed since the
    // request; the load takes less than half a deadline after that. Timers fire in the order of
    // their times, so a deadline counted in whole periods from the request (the store's outage
    // included) ends between the store's return and the answer.
    const worker = new ScriptedWorker((m, say) => {
      say({ type: 'store', kind: 'down', reason: 'cannot reach the object store (ECONNREFUSED)' });
      setTimeout(() => {
        say({ type: 'store', kind: 'up', downMs: 1900 });
        setTimeout(() => say({ type: 'prepared', id: m.id, loadMs: 30, storeRetries: 6 }), DEADLINE * 0.4);
      }, DEADLINE * 1.9);
    });
    worker.deadlineMs = DEADLINE;
    const events: string[] = [];
    worker.onStoreOutage((e) => events.push(e.kind));
    try {
      assert.deepEqual(await worker.prepare(['a'.repeat(64)]), { loadMs: 30, storeRetries: 6 });
      assert.equal(worker.restarts, 0, 'the worker was not killed');
      assert.deepEqual(events, ['down', 'up']);
    } finally {
      await worker.close();
    }
  });

  it("a worker whose store stays unavailable past the store's retry budget is taken for hung once the deadline has passed too", { timeout: 30_000 }, async () => {
    const cloud: CloudConfig = { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'b', storeRetryS: 0.5 };
    const worker = new ScriptedWorker((_m, say) => say({ type: 'store', kind: 'down', reason: 'cannot reach the object store (ECONNREFUSED)' }), cloud);
    worker.deadlineMs = 300;
    try {
      await assert.rejects(worker.prepare(['a'.repeat(64)]), /^TimeoutError: the scripted worker did not answer within 0\.3 s while loading a part; it was stopped and starts again for the next request$/);
      assert.equal(worker.restarts, 1);
    } finally {
      await worker.close();
    }
  });

  it('a worker that does not answer and says nothing of its store is taken for hung at the deadline', { timeout: 30_000 }, async () => {
    const worker = new ScriptedWorker(() => undefined);
    worker.deadlineMs = 300;
    try {
      await assert.rejects(worker.prepare(['a'.repeat(64)]), /did not answer within 0\.3 s while loading a part/);
      assert.equal(worker.restarts, 1);
    } finally {
      await worker.close();
    }
  });
});
