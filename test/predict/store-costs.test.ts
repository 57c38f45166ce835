/**
 * The store's costs are measured in the state a sweep's cycle meets them: every timed request and
 * codec call follows an idle pause (IDLE_BEFORE_RUN_MS), on a real embedded store on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IDLE_BEFORE_RUN_MS, measureStoreCosts, NOISY_SPREAD, noisyStoreLine } from '../../src/predict/store-costs.js';
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

  it('a store whose requests vary a lot is measured with its spread, and told to the user in one line', async () => {
    const s = embedded.store;
    let n = 0;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // Every third PUT and GET is held 40 ms, as on a machine busy with something else.
    const slow = () => (n++ % 3 === 2 ? sleep(40) : Promise.resolve());
    const store: ObjectStore = Object.assign(Object.create(s) as ObjectStore, {
      put: async (k: string, d: Parameters<ObjectStore['put']>[1]) => (await slow(), s.put(k, d)),
      get: async (k: string) => (await slow(), s.get(k)),
      waitFor: (k: string, t: number) => s.waitFor(k, t),
      remove: (keys: readonly string[]) => s.remove(keys),
    });
    const costs = await measureStoreCosts(store, 9, async () => undefined, 0);
    assert.ok(costs.spread! > NOISY_SPREAD, `spread ${costs.spread}`);
    const line = noisyStoreLine(costs, [12.5, 10, 9], 2)!;
    assert.match(line, /^the store's probe requests varied \d+\.\dx \(p90 against median; load 12\.5 on 2 cores\): predicted transfer and total times can move between runs; .*--measured$/);
    assert.equal(noisyStoreLine({ ...costs, spread: 1.3 }, [0.5], 2), undefined, 'steady costs: nothing to say');
  });
});
