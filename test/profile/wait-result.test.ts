/**
 * The cycle's wait for its result (waitForResult): begun before the trigger, as a wait for an
 * object created after it (no check sent over the link, the result heard of by its event); a
 * trigger that fails ends it with the trigger's error; the backend's failure signal, read once
 * the trigger is made (a backend renews it there), ends it with the backend's reason.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudBackend, CloudJob } from '../../src/backends/backend.js';
import { waitForResult } from '../../src/profile/wait-result.js';
import type { ObjectStore, WaitOptions } from '../../src/storage/store.js';

const job: CloudJob = { inputKey: 'input/r/1/0.pb', outputKey: 'output/r/1/0.pb' };

/** A store whose waits are settled by hand (or by their signal); `log` records the calls in order. */
function handStore(log: string[]) {
  const waits: { key: string; options?: WaitOptions; resolve: () => void; signal?: AbortSignal }[] = [];
  const store = {
    bucket: 'b',
    description: 'b',
    waitFor(key: string, _ms: number, signal?: AbortSignal, options?: WaitOptions) {
      log.push(`wait ${key}${options?.createdAfter ? ' createdAfter' : ''}`);
      return new Promise<void>((resolve, reject) => {
        waits.push({ key, ...(options ? { options } : {}), resolve, ...(signal ? { signal } : {}) });
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

describe('waitForResult', () => {
  test('begins the wait, for an object created after it, before the trigger; resolves with the result', async () => {
    const log: string[] = [];
    const { store, waits } = handStore(log);
    const backend = renewingBackend(log);
    const done = waitForResult({ store, backend, timeoutMs: 1000 }, job);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ['wait output/r/1/0.pb createdAfter', 'trigger input/r/1/0.pb']);
    waits[0]!.resolve();
    await done;
  });

  test("a failed trigger ends the wait with the trigger's error", async () => {
    const log: string[] = [];
    const { store, waits } = handStore(log);
    const backend = renewingBackend(log, async () => {
      throw new Error('cannot start the worker');
    });
    await assert.rejects(waitForResult({ store, backend, timeoutMs: 60_000 }, job), /cannot start the worker/);
    assert.equal(waits[0]!.signal?.aborted, true, 'the wait is not left running');
  });

  test("the backend's failure signal of this job, not the one before the trigger, ends the wait", async () => {
    const log: string[] = [];
    const { store, waits } = handStore(log);
    const backend = renewingBackend(log);
    const done = waitForResult({ store, backend, timeoutMs: 60_000 }, job);
    await new Promise((r) => setImmediate(r));
    assert.equal(waits[0]!.signal?.aborted, false, 'the signal aborted before the trigger is not this job\'s');
    backend.fail(new Error('the local cloud worker exited (code 1)'));
    await assert.rejects(done, /the local cloud worker exited \(code 1\)/);
  });
});
