import type { CloudBackend, CloudJob } from '../backends/backend.js';
import type { ObjectStore } from '../storage/store.js';

/**
 * Triggers the cloud side and waits for its result, as a wait for an object created after it
 * (createdAfter): where the store sends events the wait sends no check of its own over the link,
 * so the result's fetch goes out the moment the event arrives, on the connection the input's put
 * left open, as a deployment listening for notifications would fetch it (a check on the link
 * would hold that connection for a round trip). The wait begins as the trigger returns, in the
 * same turn of the event loop, so no event of the result can come between them; its --timeout
 * counts from then (a trigger may first start a worker), and it ends when the backend's
 * failureSignal, read then (a backend may renew it in trigger), aborts.
 */
export async function waitForResult(ctx: { store: ObjectStore; backend: CloudBackend; timeoutMs: number }, job: CloudJob): Promise<void> {
  await ctx.backend.trigger(job);
  await ctx.store.waitFor(job.outputKey, ctx.timeoutMs, ctx.backend.failureSignal, { createdAfter: true });
}
