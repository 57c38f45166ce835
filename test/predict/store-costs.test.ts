/**
 * The store's costs are measured in the state a sweep's cycle meets them: every timed request and
 * codec call follows an idle pause (IDLE_BEFORE_RUN_MS), on a real embedded store on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IDLE_BEFORE_RUN_MS, measureStoreCosts, NOISY_SPREAD, noisyStoreLine, STORE_WARMUP, STORE_WARMUP_MAX_EXTRA } from '../../src/predict/store-costs.js';
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
    assert.equal(costs.requests, requests.length);
    // Warm-up rounds (a PUT and a GET of each size) go back to back, at least STORE_WARMUP of them;
    // then repeats timed rounds, every request after a pause; then repeats x (wait, PUT).
    const firstPaused = log.indexOf('pause');
    const warmUp = log.slice(0, firstPaused);
    assert.ok(warmUp.every((e) => e === 'put' || e === 'get'));
    assert.equal(warmUp.length % 4, 0);
    assert.ok(warmUp.length >= 4 * STORE_WARMUP && warmUp.length <= 4 * (STORE_WARMUP + STORE_WARMUP_MAX_EXTRA), `${warmUp.length} warm-up requests`);
    assert.equal(requests.length, warmUp.length + 4 * repeats + 2 * repeats);
    log.slice(firstPaused).forEach((e, j) => {
      const i = firstPaused + j;
      if (e === 'put' && log[i - 1] === 'wait') return; // the notification's PUT follows its waiter
      if (e !== 'pause') assert.equal(log[i - 1], 'pause', `request ${i} (${e}) follows a pause`);
    });
    // The codec: 2 sizes x (5 + repeats) x (encode, decode), each after a pause of its own.
    assert.equal(pauses.length, 4 * repeats + repeats + 2 * (5 + repeats) * 2);
  });

  it('a client still warming up is not timed: warm-up goes on until its rounds are steady', async () => {
    // A client in a freshly started process: its first requests take far longer than warm ones,
    // falling off as it warms (200 ms x 0.8^k for request k, none from the 40th on). The store
    // itself is in memory, so the falling delays are all that its requests take.
    const log: ('pause' | number)[] = [];
    const objects = new Map<string, unknown>();
    const waiters = new Map<string, () => void>();
    let k = 0;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const cold = async () => {
      const n = k++;
      log.push(n);
      if (n < 40) await sleep(200 * 0.8 ** n);
    };
    const store = {
      put: async (key: string, d: unknown) => {
        await cold();
        objects.set(key, d);
        waiters.get(key)?.();
      },
      get: async (key: string) => (await cold(), objects.get(key)),
      waitFor: (key: string) => (objects.has(key) ? Promise.resolve() : new Promise<void>((r) => waiters.set(key, r))),
      remove: async () => undefined,
    } as unknown as ObjectStore;
    await measureStoreCosts(store, 3, async () => void log.push('pause'));
    const firstTimed = log[log.indexOf('pause') + 1] as number;
    // The fixed warm-up alone (5 rounds of 4) would time from request 20, still held 2.3 ms and
    // falling; rounds are steady (within 1.5x over 3) only once the delays are gone.
    assert.ok(firstTimed >= 28, `timed from request ${firstTimed}`);
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
