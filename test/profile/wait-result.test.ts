/**
 * The cycle's wait for its result (waitForResult): begun as the trigger returns, as a wait for an
 * object created after it (no check sent over the link, the result heard of by its event); a
 * trigger that fails starts no wait; the backend's failure signal read after the trigger (a
 * backend renews it there) ends the wait with the backend's reason.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudBackend, CloudJob } from '../../src/backends/backend.js';
import { waitForResult } from '../../src/profile/wait-result.js';
import type { ObjectStore, WaitOptions } from '../../src/storage/store.js';

const job: CloudJob = { inputKey: 'input/r/1/0.pb', outputKey: 'output/r/1/0.pb' };

/** A store whose waits are settled by hand (or by their signal); `log` records the calls in order. */
function handStore(log: string[]) {
  const waits: { key: string; resolve: () => void; signal?: AbortSignal }[] = [];
  const store = {
    bucket: 'b',
    description: 'b',
    waitFor(key: string, _ms: number, signal?: AbortSignal, options?: WaitOptions) {
      log.push(`wait ${key}${options?.createdAfter ? ' createdAfter' : ''}`);
      return new Promise<void>((resolve, reject) => {
        waits.push({ key, resolve, ...(signal ? { signal } : {}) });
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    },
  } as unknown as ObjectStore;
  return { store, waits };
}

/** A backend that renews its failure signal in trigger(), as the worker and OSCAR backends do. */
function renewingBackend(log: string[], trigger: () => Promise<void> = async () => undefined) {
  let failure = new AbortController();
  failure.abort(new Error('the previous worker exited'));
  const backend = {
    name: 'fake',
    get failureSignal() {
      return failure.signal;
    },
    async trigger(j: CloudJob) {
      log.push(`trigger ${j.inputKey}`);
      failure = new AbortController();
      await trigger();
    },
    fail(reason: Error) {
      failure.abort(reason);
    },
  };
  return backend as unknown as CloudBackend & { fail(reason: Error): void };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('waitForResult', () => {
  test('triggers, then waits for an object created after the wait; resolves with the result', async () => {
    const log: string[] = [];
    const { store, waits } = handStore(log);
    const backend = renewingBackend(log);
    const done = waitForResult({ store, backend, timeoutMs: 1000 }, job);
    await turn();
    assert.deepEqual(log, ['trigger input/r/1/0.pb', 'wait output/r/1/0.pb createdAfter']);
    waits[0]!.resolve();
    await done;
  });

  test("a failed trigger fails with the trigger's error and starts no wait", async () => {
    const log: string[] = [];
    const { store, waits } = handStore(log);
    const backend = renewingBackend(log, async () => {
      throw new Error('cannot start the worker');
    });
    await assert.rejects(waitForResult({ store, backend, timeoutMs: 60_000 }, job), /cannot start the worker/);
    assert.equal(waits.length, 0);
  });

  test("the backend's failure signal of this job, not the one before the trigger, ends the wait", async () => {
    const log: string[] = [];
    const { store, waits } = handStore(log);
    const backend = renewingBackend(log);
    const done = waitForResult({ store, backend, timeoutMs: 60_000 }, job);
    await turn();
    assert.equal(waits[0]!.signal?.aborted, false, "the signal aborted before the trigger is not this job's");
    backend.fail(new Error('the local cloud worker exited (code 1)'));
    await assert.rejects(done, /the local cloud worker exited \(code 1\)/);
  });
});
