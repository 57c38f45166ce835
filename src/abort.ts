/**
 * A promise an abort signal cuts short: what an interrupted operation (Ctrl-C) waits on stops
 * being waited for at once.
 */

/**
 * The promise's value, or a rejection with the signal's reason as soon as it aborts (`onAbort`
 * is called first, to stop what the promise stands for); the promise's own later failure is then
 * ignored. Without a signal, the promise itself.
 */
export async function untilAborted<T>(p: Promise<T>, signal?: AbortSignal, onAbort?: () => void): Promise<T> {
  if (!signal) return p;
  p.catch(() => undefined);
  let listener: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    listener = () => {
      onAbort?.();
      reject(signal.reason);
    };
    if (signal.aborted) listener();
    else signal.addEventListener('abort', listener, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', listener!);
  }
}
