/**
 * Putting the cloud parts a sweep will need into the store while the cloud side starts: the edge
 * waits for the worker (or a pod) to come up anyway, so the uploads of the first split points are
 * done in that time instead of between split points. Each part is put once, by content hash, as
 * the sweep would; the time each upload took is kept for the rows' model_upload_ms. Preloading
 * stops as soon as the cloud side is ready or the store fails; what is not preloaded is uploaded
 * when its split point is prepared.
 */
import { performance } from 'node:perf_hooks';
import { partHash } from '../onnx/part-hash.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { buildPointParts } from '../split/split.js';
import { storeKeys, type ObjectStore } from '../storage/store.js';

/** The parts this run has put in the store: sha256 -> upload time (ms). */
export type UploadedParts = Map<string, number>;

/** Uploads the cloud parts of `points`, in order, until `until` settles; returns what it put. */
export async function preloadParts(analysis: ModelAnalysis, store: ObjectStore, points: readonly SplitPoint[], until: Promise<unknown>, uploaded: UploadedParts = new Map()): Promise<UploadedParts> {
  let ready = false;
  // Also handles a rejection of `until`: the caller awaits it after this and gets the error there.
  until.then(
    () => (ready = true),
    () => (ready = true),
  );
  try {
    // A cloud side ready already has set `ready` after this.
    await Promise.resolve();
    for (const point of points) {
      if (ready) break;
      const parts = buildPointParts(analysis, point).filter((p) => p.plan.number !== 1 && !p.part.external);
      for (const p of parts) {
        if (ready) break;
        const bytes = p.part.model.concat();
        const hash = partHash(bytes);
        if (uploaded.has(hash)) continue;
        const t0 = performance.now();
        if (!(await store.exists(storeKeys.model(hash)))) await store.put(storeKeys.model(hash), bytes);
        uploaded.set(hash, performance.now() - t0);
      }
    }
  } catch {
    // The split point's own preparation puts (and retries) what is missing, and reports failures.
  }
  return uploaded;
}
