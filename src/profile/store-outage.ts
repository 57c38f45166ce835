/**
 * Keeps store outages out of the numbers: a step of the sweep (a cycle, a part's upload) during
 * which the store retried is run again from its start, so no row carries the outage in its
 * timings; the retries are counted for the row's store_retries column.
 */
import { StoreUnavailableError } from '../storage/retrying-store.js';
import type { ObjectStore } from '../storage/store.js';

export { StoreUnavailableError };

export interface Steady<T> {
  value: T;
  /** Retries the store made during the attempts that were run again. */
  retries: number;
}

/**
 * Runs `step` (attempt 0, 1, ...) until an attempt sees no store retry; `discard` undoes an attempt
 * that did. When the outages over the attempts add up to the store's budget, a
 * StoreUnavailableError: a store that keeps coming and going is as good as gone.
 */
export async function untilSteady<T>(store: ObjectStore, step: (attempt: number) => Promise<T>, discard?: (value: T) => Promise<void>): Promise<Steady<T>> {
  const outages = store.outages;
  if (!outages) return { value: await step(0), retries: 0 };
  let retries = 0;
  let downMs = 0;
  for (let attempt = 0; ; attempt++) {
    const before = { retries: outages.retries, downMs: outages.downMs };
    const value = await step(attempt);
    const seen = outages.retries - before.retries;
    if (seen === 0) return { value, retries };
    retries += seen;
    downMs += outages.downMs - before.downMs;
    await discard?.(value);
    if (downMs >= outages.budgetMs) {
      throw new StoreUnavailableError(`${store.description} kept becoming unavailable: ${Math.round(downMs / 1000)} s over ${attempt + 1} attempts (--store_retry_s ${outages.budgetMs / 1000})`, {
        bucket: store.bucket,
      });
    }
  }
}
