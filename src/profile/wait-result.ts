import type { CloudBackend, CloudJob } from '../backends/backend.js';
import type { ObjectStore } from '../storage/store.js';

/**
 * Triggers the cloud side and waits for its result. The wait begins first, so it hears the
 * result's event however soon it comes, and it sends no check of its own over the link: the
 * result's fetch then goes out the moment the event arrives, on the connection the input's put
 * left open, as a deployment listening for notifications would fetch it (a check on the link
 * would hold that connection for a round trip). A trigger that fails ends the wait; so does the
 * backend's failureSignal, read once the trigger is made (a backend may renew it there).
 */
export async function waitForResult(ctx: { store: ObjectStore; backend: CloudBackend; timeoutMs: number }, job: CloudJob): Promise<void> {
  const stop = new AbortController();
  const waiting = ctx.store.waitFor(job.outputKey, ctx.timeoutMs, stop.signal, { createdAfter: true });
  try {
    await ctx.backend.trigger(job);
  } catch (err) {
    stop.abort(err);
    await waiting.catch(() => undefined);
    throw err;
  }
  const failure = ctx.backend.failureSignal;
  const onFailure = (): void => stop.abort(failure.reason);
  if (failure.aborted) onFailure();
  else failure.addEventListener('abort', onFailure, { once: true });
  try {
    await waiting;
  } finally {
    failure.removeEventListener('abort', onFailure);
  }
}
