/**
 * Ctrl-C and SIGTERM while an operation runs: the first aborts the signal the operation was given
 * (reason: an InterruptedError), and the operation stops what it started (the worker, the
 * embedded store, the link's proxy, an upload in progress), removes what it half-wrote and
 * returns or throws; a second one ends the process at once. Operations that take no signal end at
 * once, and what they half-wrote is removed on the way out. Exit code 130, as a shell gives a
 * command Ctrl-C ended.
 */
import { InterruptedError } from '../errors.js';

export const INTERRUPTED_EXIT = 130;

/** Runs `f` with Ctrl-C and SIGTERM turned into the abort of its signal; node's own handling is back once it settles. */
export async function whileInterruptible<T>(f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(INTERRUPTED_EXIT);
    stop.abort(new InterruptedError(`interrupted (${name})`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await f(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Runs `f`, an operation that takes no abort signal (it starts nothing that must be stopped), with
 * Ctrl-C and SIGTERM ending the process at once after `say`: the 'exit' listener of the output
 * transactions removes what it half-wrote (../split/output.ts).
 */
export async function endingOnInterrupt<T>(say: () => void, f: () => Promise<T>): Promise<T> {
  const onSignal = () => {
    say();
    process.exit(INTERRUPTED_EXIT);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await f();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
