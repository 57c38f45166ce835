/**
 * A split point that fails (cloud worker crash, timeout, bad result payload) is recorded with
 * its status and error, and the sweep goes on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CloudBackend, CloudJob } from '../../src/backends/backend.js';
import { LocalBackend } from '../../src/backends/local.js';
import type { Row } from '../../src/profile/columns.js';
import { runSweep, type SweepContext } from '../../src/profile/sweep.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { analyze, sweepContext, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { decodePayload, encodePayload } from '../../src/tensor/payload/index.js';

let store: EmbeddedStore;
let analysis: ModelAnalysis;

before(async () => {
  store = await startEmbeddedStore({ bucket: 'faults' });
  analysis = await analyze(zooSubject(zoo.find((z) => z.name === 'lenet5')!));
});
after(async () => {
  await store.stop();
});

function context(backend: CloudBackend, timeoutMs = 20_000, warmup = 0): SweepContext {
  return sweepContext(analysis, store.store, backend, { tag: 'faults', timeoutMs, warmup });
}

function local(): LocalBackend {
  return new LocalBackend({ store: { endpoint: store.endpoint, accessKey: store.accessKey, secretKey: store.secretKey, bucket: 'faults' } });
}

/** Wraps a backend, changing what happens to chosen jobs. */
class FaultyBackend implements CloudBackend {
  readonly name = 'faulty';
  constructor(
    private readonly inner: CloudBackend,
    private readonly fault: (job: CloudJob) => Promise<'pass' | 'swallow'>,
  ) {}
  get failureSignal(): AbortSignal {
    return this.inner.failureSignal;
  }
  get restarts(): number | undefined {
    return this.inner.restarts;
  }
  prepare(models: readonly string[]) {
    return this.inner.prepare(models);
  }
  async trigger(job: CloudJob): Promise<void> {
    if ((await this.fault(job)) === 'pass') await this.inner.trigger(job);
  }
  close() {
    return this.inner.close();
  }
}

const splitOf = (job: CloudJob) => Number(job.inputKey.split('/')[2]);

/** Sweeps split points 1, 2 and 3 through the backend (closed afterwards) and returns the rows. */
async function sweepRows(backend: CloudBackend, opts: { rep?: number; timeoutMs?: number; warmup?: number } = {}): Promise<Row[]> {
  const rows: Row[] = [];
  try {
    await runSweep(context(backend, opts.timeoutMs, opts.warmup), { rep: opts.rep ?? 1, splits: [1, 2, 3], onRow: (r) => void rows.push(r) });
  } finally {
    await backend.close();
  }
  return rows;
}

describe('faults during a sweep', () => {
  it('a cloud worker that crashes during a job: the cycle runs again once it is restarted, and cloud_restarts counts the restart', async () => {
    const inner = local();
    // The worker dies right after it is handed the job of split 2, repetition 1 (the first time only).
    let killed = false;
    const backend = new FaultyBackend(inner, async (job) => {
      if (job.inputKey.endsWith('/2/1.pb') && !killed) {
        killed = true;
        await inner.trigger(job);
        inner.kill();
        return 'swallow';
      }
      return 'pass';
    });
    const rows = await sweepRows(backend, { rep: 2 });
    const status = rows.map((r) => `${r.split_index}/${r.rep}:${r.status}:${r.cloud_restarts}`);
    assert.deepEqual(status, ['1/0:ok:0', '1/1:ok:0', '2/0:ok:0', '2/1:ok:1', '3/0:ok:0', '3/1:ok:0']);
  });

  it('a cycle run again after a worker restart runs on warm sessions: the sweep\'s warm-up cycles run first on the fresh worker', async () => {
    const inner = local();
    const triggered: string[] = [];
    let killed = false;
    const backend = new FaultyBackend(inner, async (job) => {
      const key = job.inputKey.split('/').slice(2).join('/');
      triggered.push(key);
      if (key === '2/1.pb' && !killed) {
        killed = true;
        await inner.trigger(job);
        inner.kill();
        return 'swallow';
      }
      return 'pass';
    });
    const rows = await sweepRows(backend, { rep: 2, warmup: 1 });
    assert.deepEqual(
      rows.map((r) => `${r.split_index}/${r.rep}:${r.status}:${r.cloud_restarts}`),
      ['1/0:ok:0', '1/1:ok:0', '2/0:ok:0', '2/1:ok:1', '3/0:ok:0', '3/1:ok:0'],
    );
    assert.deepEqual(triggered, ['1/w1.pb', '1/0.pb', '1/1.pb', '2/w1.pb', '2/0.pb', '2/1.pb', '2/w1.pb', '2/1-again1.pb', '3/w1.pb', '3/0.pb', '3/1.pb']);
  });

  it('a cloud worker killed between jobs: the cycle that restarts it runs again, so no ok row carries the restart', async () => {
    const inner = local();
    const backend = new FaultyBackend(inner, async (job) => {
      if (job.inputKey.endsWith('/2/1.pb') && !killedOnce) {
        killedOnce = true;
        inner.kill();
        // The worker is gone before the job is handed over: this trigger starts a new one.
        await new Promise((r) => setTimeout(r, 300));
      }
      return 'pass';
    });
    let killedOnce = false;
    const rows = await sweepRows(backend, { rep: 2 });
    assert.deepEqual(
      rows.map((r) => `${r.split_index}/${r.rep}:${r.status}:${r.cloud_restarts}`),
      ['1/0:ok:0', '1/1:ok:0', '2/0:ok:0', '2/1:ok:1', '3/0:ok:0', '3/1:ok:0'],
    );
    // A worker start takes hundreds of milliseconds: no kept row waited for one.
    const waits = rows.map((r) => Number(r.wait_ms));
    const sorted = [...waits].sort((a, b) => a - b);
    assert.ok(waits[3]! <= Math.max(200, 10 * sorted[2]!), `the rerun row waited ${waits[3]} ms (others ${sorted.join(', ')})`);
  });

  it('a worker that dies on every attempt: the row is an error after three attempts, and the sweep goes on', async () => {
    const inner = local();
    const backend = new FaultyBackend(inner, async (job) => {
      if (/\/2\/0(-again\d+)?\.pb$/.test(job.inputKey)) {
        await inner.trigger(job);
        inner.kill();
        return 'swallow';
      }
      return 'pass';
    });
    const rows = await sweepRows(backend);
    assert.deepEqual(
      rows.map((r) => `${r.split_index}:${r.status}`),
      ['1:ok', '2:error', '3:ok'],
    );
    assert.match(String(rows[1]!.error), /worker exited/);
  });

  it('a result the replaced worker writes late is not taken for the cycle run again: each attempt has its own keys', async () => {
    const inner = local();
    let restarts = 0;
    let first: CloudJob | undefined;
    // Split 2's cycle: the first attempt's worker misses the deadline and is replaced (a restart);
    // the attempt run again is handed to a worker too slow to answer, and meanwhile the old worker,
    // not yet gone, runs the first attempt's job and writes its result.
    const backend = new (class extends FaultyBackend {
      override get restarts(): number {
        return (inner.restarts ?? 0) + restarts;
      }
    })(inner, async (job) => {
      if (splitOf(job) !== 2) return 'pass';
      if (!first) {
        first = job;
        setTimeout(() => restarts++, 200);
      } else {
        setTimeout(() => void inner.trigger(first!).catch(() => undefined), 100);
      }
      return 'swallow';
    });
    const rows = await sweepRows(backend, { timeoutMs: 1500 });
    assert.deepEqual(
      rows.map((r) => `${r.split_index}:${r.status}`),
      ['1:ok', '2:timeout', '3:ok'],
    );
    assert.match(String(rows[1]!.error), /output\/.*\/2\/0-again1\.pb/);
  });

  it('a job that never runs times out, the split is marked, the next one runs', async () => {
    const inner = local();
    const backend = new FaultyBackend(inner, async (job) => (splitOf(job) === 2 ? 'swallow' : 'pass'));
    // The timeout applies to every job: long enough that the worker's first job (its start-up on a
    // busy machine included) never reaches it, while the swallowed one always does.
    const rows = await sweepRows(backend, { timeoutMs: 3000 });
    assert.deepEqual(
      rows.map((r) => r.status),
      ['ok', 'timeout', 'ok'],
    );
    assert.match(String(rows[1]!.error), /output\/.*\/2\/0\.pb/);
  });

  it('a part the worker does not load within the deadline: its rows are timeouts, not errors', async () => {
    // 1 ms: no worker starts and loads a part that fast, so every split point misses the deadline while loading.
    const backend = local();
    backend.deadlineMs = 1;
    const rows = await sweepRows(backend, { timeoutMs: 1 });
    assert.deepEqual(
      rows.map((r) => r.status),
      ['timeout', 'timeout', 'timeout'],
    );
    assert.match(String(rows[0]!.error), /did not answer within 0\.001 s while loading a part/);
  });

  it('a corrupted result payload is an error row naming the problem', async () => {
    const inner = local();
    const backend = new FaultyBackend(inner, async (job) => {
      if (splitOf(job) !== 2) return 'pass';
      await store.store.put(job.outputKey, Buffer.from('definitely not a payload'));
      return 'swallow';
    });
    const rows = await sweepRows(backend);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['ok', 'error', 'ok'],
    );
    assert.match(String(rows[1]!.error), /invalid payload/);
  });

  it('a cloud part that fails to run comes back as an error payload, not a timeout', async () => {
    const inner = local();
    const backend = new FaultyBackend(inner, async (job) => {
      if (splitOf(job) === 2) {
        // Replace the input with a payload whose tensor does not fit the part.
        const p = decodePayload(await store.store.get(job.inputKey));
        const [name] = [...p.tensors.keys()];
        p.tensors = new Map([[`${name}_renamed`, p.tensors.get(name!)!]]);
        await store.store.put(job.inputKey, encodePayload(p));
      }
      return 'pass';
    });
    const rows = await sweepRows(backend);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['ok', 'error', 'ok'],
    );
    assert.match(String(rows[1]!.error), /cloud: .*needs tensor/);
  });
});
