/**
 * An ObjectStore that rides out outages of the store under it: a call that fails because the
 * store is unreachable or answers 5xx (see backoff.ts) is tried again with capped exponential
 * backoff and jitter until the store answers, or until the store has been unavailable for the
 * whole budget, when a StoreUnavailableError names the store. 4xx answers pass through at once.
 * Every S3 call the project makes is idempotent (whole-object puts, gets, stats, lists, deletes),
 * so trying one again is safe.
 *
 * Retries are counted, not printed: `outages` tells a caller how many there were and when the
 * store went down and came back (the sweep reruns a cycle that saw one and says so once).
 */
import { StoreError } from '../errors.js';
import type { Chunks } from '../proto/writer.js';
import { backoffDelay, DEFAULT_BACKOFF, isTransientStoreFailure, type BackoffPolicy } from './backoff.js';
import type { ObjectStore, StoreOutageEvent, StoreOutages, WaitOptions } from './store.js';

/** The store stayed unavailable for the whole retry budget. */
export class StoreUnavailableError extends StoreError {}

export interface RetryClock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
}

export const systemClock: RetryClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
  random: Math.random,
};

export class RetryingStore implements ObjectStore, StoreOutages {
  readonly bucket: string;
  readonly description: string;
  readonly outages: StoreOutages = this;
  retries = 0;
  downMs = 0;
  private downSince?: number;
  private readonly listeners = new Set<(event: StoreOutageEvent) => void>();
  private readonly closing = new AbortController();
  private readonly policy: BackoffPolicy;

  constructor(
    private readonly inner: ObjectStore,
    policy: Partial<BackoffPolicy> & { budgetMs: number },
    private readonly clock: RetryClock = systemClock,
  ) {
    this.bucket = inner.bucket;
    this.description = inner.description;
    this.policy = { ...DEFAULT_BACKOFF, ...policy };
  }

  get budgetMs(): number {
    return this.policy.budgetMs;
  }

  /** Whether the store is unavailable now (a call is waiting for it to come back). */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  on(listener: (event: StoreOutageEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private emit(event: StoreOutageEvent): void {
    for (const l of [...this.listeners]) l(event);
  }

  private recovered(): void {
    if (this.downSince === undefined) return;
    const downMs = this.clock.now() - this.downSince;
    this.downSince = undefined;
    this.downMs += downMs;
    this.emit({ kind: 'up', downMs });
  }

  /** Runs `call` until it succeeds, fails with an answer, or the store has been down for the budget. */
  private async retry<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const value = await call();
        this.recovered();
        return value;
      } catch (err) {
        if (!isTransientStoreFailure(err) || this.closing.signal.aborted) throw err;
        failure = err;
      }
      const now = this.clock.now();
      const reason = (failure as Error)?.message?.split('\n')[0] ?? String(failure);
      if (this.downSince === undefined) {
        this.downSince = now;
        this.emit({ kind: 'down', reason });
      }
      const spent = now - this.downSince;
      if (spent >= this.policy.budgetMs) {
        throw new StoreUnavailableError(
          `${this.description} has been unavailable for ${Math.round(spent / 1000)} s (--store_retry_s ${this.policy.budgetMs / 1000}): ${reason}`,
          { cause: failure, bucket: this.bucket },
        );
      }
      this.retries++;
      const delay = backoffDelay(attempt, this.policy, spent, this.clock.random);
      this.emit({ kind: 'retry', attempt, delayMs: delay, reason });
      const signals = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
      await this.clock.sleep(delay, signals);
    }
  }

  put(key: string, data: Uint8Array | Chunks, signal?: AbortSignal): Promise<void> {
    return this.retry(() => this.inner.put(key, data, signal), signal);
  }

  get(key: string): Promise<Buffer> {
    return this.retry(() => this.inner.get(key));
  }

  exists(key: string): Promise<boolean> {
    return this.retry(() => this.inner.exists(key));
  }

  list(prefix: string): Promise<string[]> {
    return this.retry(() => this.inner.list(prefix));
  }

  listSized(prefix: string): Promise<{ key: string; size: number }[]> {
    const inner = this.inner;
    if (!inner.listSized) return this.list(prefix).then((keys) => keys.map((key) => ({ key, size: 0 })));
    return this.retry(() => inner.listSized!(prefix));
  }

  remove(keys: readonly string[]): Promise<void> {
    return this.retry(() => this.inner.remove(keys));
  }

  /**
   * A wait cut short by an outage starts again, with the whole timeout, once the store answers;
   * then it checks at once whatever `options` say (the object may have come during the outage).
   */
  waitFor(key: string, timeoutMs: number, signal?: AbortSignal, options?: WaitOptions): Promise<void> {
    let first = true;
    return this.retry(() => {
      const again = !first;
      first = false;
      return this.inner.waitFor(key, timeoutMs, signal, again ? undefined : options);
    }, signal);
  }

  async close(): Promise<void> {
    this.closing.abort(new StoreError(`${this.description}: the store was closed while waiting for it`, { bucket: this.bucket }));
    await this.inner.close();
  }
}
