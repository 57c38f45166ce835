/**
 * The store's own costs, measured on the actual store with a few requests: the time of a PUT and
 * of a GET as a fixed part plus a part per MB (two sizes, the median of a few requests each),
 * how long a waiter takes to learn of a new object, and the payload codec's encode and decode
 * (fixed plus per MB). Measured from this process, which reaches the store as the edge does
 * without a link; the cloud is taken to reach it at the same cost, and what its requests cost
 * more in a cycle (with the trigger and the event's delivery) is the profile's cycle_wait_ms,
 * measured on the calibration cycles against these costs (cycle-calibration.ts).
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { RunConfig } from '../config/run-config.js';
import { median, percentile } from '../profile/stats.js';
import { openStore, storeWaitLine } from '../storage/open.js';
import type { ObjectStore } from '../storage/store.js';
import { decodePayload, encodePayload, type Payload } from '../tensor/payload/index.js';

/**
 * The idle time before each timed request and codec call. In a sweep's cycle every step comes
 * after a wait, and after a few ms of idling a step costs up to twice what it costs back to back
 * (the thread it runs on is woken, caches and the core's clock have cooled down).
 */
export const IDLE_BEFORE_RUN_MS = 5;

export const idle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** ms = fixedMs + perMbMs x MB (MB = 1e6 bytes). */
export interface LinearCost {
  fixedMs: number;
  perMbMs: number;
}

export interface StoreCosts {
  put: LinearCost;
  get: LinearCost;
  /** From the end of a PUT until a waiter on that key resolves. */
  notifyMs: number;
  encode: LinearCost;
  decode: LinearCost;
  /** Requests made to measure these. */
  requests: number;
  /**
   * How much the timed requests varied: the largest p90 / median over the PUT and GET series (1:
   * steady). Well above 1 on a busy machine, where the costs move from one measurement to the next.
   */
  spread?: number;
}

/** A spread beyond this is told to the user: the store's costs are not steady enough to trust alone. */
export const NOISY_SPREAD = 2;

/** p90 / median of a series of times (1 for an empty or all-zero series). */
function spreadOf(times: readonly number[]): number {
  const m = median(times);
  return m > 0 ? percentile(times, 0.9) / m : 1;
}

/** The warning for store costs measured with a spread beyond NOISY_SPREAD, or undefined. */
export function noisyStoreLine(costs: StoreCosts, load: readonly number[], cores: number): string | undefined {
  if (costs.spread === undefined || costs.spread <= NOISY_SPREAD) return undefined;
  return `the store's probe requests varied ${costs.spread.toFixed(1)}x (p90 against median; load ${load[0]!.toFixed(1)} on ${cores} cores): predicted transfer and total times can move between runs; predict again on a quieter machine, or check against a sweep with --measured`;
}

export function linearMs(c: LinearCost, bytes: number): number {
  return c.fixedMs + (c.perMbMs * bytes) / 1e6;
}

/** Costs that are all zero: compute and link only (for arithmetic, or a store not measured). */
export const NO_STORE_COSTS: StoreCosts = Object.freeze({
  put: { fixedMs: 0, perMbMs: 0 },
  get: { fixedMs: 0, perMbMs: 0 },
  notifyMs: 0,
  encode: { fixedMs: 0, perMbMs: 0 },
  decode: { fixedMs: 0, perMbMs: 0 },
  requests: 0,
}) as StoreCosts;

const SMALL = 1024;
const LARGE = 1_000_000;

function fit(small: number, large: number): LinearCost {
  const perMbMs = Math.max(0, (large - small) / ((LARGE - SMALL) / 1e6));
  return { fixedMs: Math.max(0, small - (perMbMs * SMALL) / 1e6), perMbMs };
}

function payloadOf(bytes: number): Payload {
  const data = new Float32Array(bytes / 4);
  return { kind: 'input', runId: 'probe', splitIndex: 1, rep: 1, nextModels: [], timings: [], tensors: new Map([['x', { type: 'float32', dims: [data.length], data }]]) };
}

/**
 * Each timed request (and codec call) follows IDLE_BEFORE_RUN_MS of idling, as in a sweep's cycle,
 * where each of them comes after a wait; back to back they cost about half as much here.
 */
async function timed(f: () => unknown, pause: (ms: number) => Promise<void>): Promise<number> {
  await pause(IDLE_BEFORE_RUN_MS);
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Unrecorded rounds of requests of each kind and size first: the client's code paths warm up as they are in a sweep. */
export const STORE_WARMUP = 5;
/**
 * At most this many further warm-up rounds while the requests are still getting faster. In a
 * freshly started process (predict --profile, recommend) the first tens of requests can take 5-10x
 * what they take warm, and a probe timed during that phase made every predicted request cost a
 * round trip more than the sweep measured.
 */
export const STORE_WARMUP_MAX_EXTRA = 20;
/** The client counts as warm when the last STEADY_ROUNDS warm-up rounds took within this factor of each other. */
const STEADY_WITHIN = 1.5;
const STEADY_ROUNDS = 3;

/**
 * Measures the store with `repeats` requests of each kind and size (after `warmup` unrecorded
 * rounds and, when `warmup` > 0, more while the requests are still getting faster; none where real
 * cycles have just warmed the client up); removes what it wrote. The sizes alternate within each
 * round, so a drift during the probe moves the small and the large requests alike and leaves the
 * fixed and per-MB parts apart. `pause` idles before each timed step (a parameter for tests).
 */
export async function measureStoreCosts(store: ObjectStore, repeats = 9, pause: (ms: number) => Promise<void> = idle, warmup = STORE_WARMUP): Promise<StoreCosts> {
  const prefix = `probe/${randomUUID()}`;
  const keys: string[] = [];
  let requests = 0;
  let spread = 1;
  const bodies = { small: encodePayload(payloadOf(SMALL)).concat(), large: encodePayload(payloadOf(LARGE)).concat() };
  let n = 0;
  const noPause = async (): Promise<void> => undefined;
  /** One PUT and one GET of each size, each after `idleFirst`: their times. */
  const round = async (idleFirst: (ms: number) => Promise<void>) => {
    const t: Record<'small' | 'large', { put: number; get: number }> = { small: { put: 0, get: 0 }, large: { put: 0, get: 0 } };
    for (const size of ['small', 'large'] as const) {
      const key = `${prefix}/${size}-${n++}.pb`;
      keys.push(key);
      t[size].put = await timed(() => store.put(key, bodies[size]), idleFirst);
      t[size].get = await timed(() => store.get(key), idleFirst);
      requests += 2;
    }
    return t;
  };
  const series = async () => {
    const totals: number[] = [];
    // Warm-up rounds go back to back: what warms the client is the count of requests, not the pauses.
    for (let i = 0; i < warmup + (warmup > 0 ? STORE_WARMUP_MAX_EXTRA : 0); i++) {
      const t = await round(noPause);
      totals.push(t.small.put + t.small.get + t.large.put + t.large.get);
      const last = totals.slice(-STEADY_ROUNDS);
      if (i + 1 >= warmup && last.length === STEADY_ROUNDS && Math.max(...last) <= STEADY_WITHIN * Math.min(...last)) break;
    }
    const times = { small: { put: [] as number[], get: [] as number[] }, large: { put: [] as number[], get: [] as number[] } };
    for (let i = 0; i < repeats; i++) {
      const t = await round(pause);
      for (const size of ['small', 'large'] as const) (times[size].put.push(t[size].put), times[size].get.push(t[size].get));
    }
    for (const size of ['small', 'large'] as const) spread = Math.max(spread, spreadOf(times[size].put), spreadOf(times[size].get));
    return { small: { put: median(times.small.put), get: median(times.small.get) }, large: { put: median(times.large.put), get: median(times.large.get) } };
  };
  try {
    const { small, large } = await series();
    const notify: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const key = `${prefix}/notify-${i}.pb`;
      keys.push(key);
      await pause(IDLE_BEFORE_RUN_MS);
      // As a cycle waits: begun before the object's writer, hearing of it by its event where the store has one.
      const waiting = store.waitFor(key, 10_000, undefined, { createdAfter: true });
      await store.put(key, bodies.small);
      const t0 = performance.now();
      await waiting;
      notify.push(performance.now() - t0);
      requests += 2;
    }
    const codec = async (size: 'small' | 'large') => {
      const p = payloadOf(size === 'small' ? SMALL : LARGE);
      const enc: number[] = [];
      const dec: number[] = [];
      for (let i = -warmup; i < repeats; i++) {
        enc.push(await timed(() => encodePayload(p), pause));
        dec.push(await timed(() => decodePayload(bodies[size]), pause));
      }
      enc.splice(0, warmup);
      dec.splice(0, warmup);
      return { enc: median(enc), dec: median(dec) };
    };
    const cs = await codec('small');
    const cl = await codec('large');
    return {
      put: fit(small.put, large.put),
      get: fit(small.get, large.get),
      notifyMs: median(notify),
      encode: fit(cs.enc, cl.enc),
      decode: fit(cs.dec, cl.dec),
      requests,
      spread,
    };
  } finally {
    await store.remove(keys).catch(() => undefined);
  }
}

/** The store a run's configuration names, as measured store costs are labelled: 'embedded' (no endpoint: the embedded server) or its endpoint. */
export function storeLabel(config: Pick<RunConfig, 'store'>): string {
  return config.store.endpoint ?? 'embedded';
}

/**
 * Opens the store a run with `config` would use (the embedded one when none is named), measures
 * it, and closes it. A store that does not answer at once is waited for (--store_retry_s), told to `warn`.
 */
export async function measureRunStore(config: Pick<RunConfig, 'store'>, repeats = 9, warn?: (line: string) => void, signal?: AbortSignal): Promise<{ costs: StoreCosts; store: string }> {
  const opened = await openStore(config.store, warn ? { onWait: (reason) => warn(storeWaitLine(config.store, reason)) } : {});
  // An interrupt stops the store at once: the measuring fails, and the store's folder goes.
  const stop = () => void opened.stop().catch(() => undefined);
  signal?.addEventListener('abort', stop, { once: true });
  try {
    signal?.throwIfAborted();
    const costs = await measureStoreCosts(opened.store, repeats);
    signal?.throwIfAborted();
    return { costs, store: storeLabel(config) };
  } finally {
    signal?.removeEventListener('abort', stop);
    await opened.stop();
  }
}
