/**
 * Waiting, as the backends do it: a sleep that any of several signals cuts short, and a promise
 * bounded by a timeout. The timers keep the process alive until they fire or are cleared: a wait
 * for what can no longer come (a reply from a worker whose process and pipe are gone) would
 * otherwise leave Node nothing to run, and it would end the command with exit code 13 and no word.
 */

/** Resolves after `ms`, or as soon as one of the signals aborts (never rejects). */
export function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  if (live.some((s) => s.aborted)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of live) s.addEventListener('abort', done, { once: true });
  });
}

/** The promise's value, or a rejection with `onTimeout()` after `ms`; the timer is cleared either way. */
export async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The promise's value, or undefined when it takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  const stop = new AbortController();
  try {
    return await Promise.race([p, sleep(ms, stop.signal).then(() => undefined)]);
  } finally {
    stop.abort();
  }
}
