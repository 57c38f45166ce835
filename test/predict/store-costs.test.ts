/**
 * The store's costs are measured in the state a sweep's cycle meets them: every timed request and
 * codec call follows an idle pause (IDLE_BEFORE_RUN_MS), on a real embedded store on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IDLE_BEFORE_RUN_MS, measureStoreCosts } from '../../src/predict/store-costs.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import type { ObjectStore } from '../../src/storage/store.js';

describe('measureStoreCosts', () => {
  let embedded: EmbeddedStore;
  before(async () => {
    embedded = await startEmbeddedStore({ bucket: 'store-costs' });
  });
  after(() => embedded.stop());

  it('pauses before every timed PUT, GET and notification, and counts its requests', async () => {
    const log: string[] = [];
    const s = embedded.store;
    const store: ObjectStore = Object.assign(Object.create(s) as ObjectStore, {
      put: (k: string, d: Parameters<ObjectStore['put']>[1]) => (log.push('put'), s.put(k, d)),
      get: (k: string) => (log.push('get'), s.get(k)),
      waitFor: (k: string, t: number) => (log.push('wait'), s.waitFor(k, t)),
      remove: (keys: readonly string[]) => s.remove(keys),
    });
    const pauses: number[] = [];
    const repeats = 3;
    const costs = await measureStoreCosts(store, repeats, async (ms) => {
      pauses.push(ms);
      log.push('pause');
    });
    assert.ok(pauses.every((p) => p === IDLE_BEFORE_RUN_MS));
    const requests = log.filter((e) => e !== 'pause');
    // Two sizes of (5 warm-up + repeats) x (PUT, GET), then repeats x (wait, PUT).
    assert.equal(requests.length, 2 * (5 + repeats) * 2 + 2 * repeats);
    assert.equal(costs.requests, requests.length);
    log.forEach((e, i) => {
      if (e === 'put' && log[i - 1] === 'wait') return; // the notification's PUT follows its waiter
      if (e !== 'pause') assert.equal(log[i - 1], e === 'put' || e === 'get' || e === 'wait' ? 'pause' : undefined, `request ${i} (${e}) follows a pause`);
    });
    // The codec: 2 sizes x (5 + repeats) x (encode, decode), each after a pause of its own.
    assert.equal(pauses.length, requests.length - repeats + 2 * (5 + repeats) * 2);
  });
});
