/**
 * Putting the cloud parts a sweep will need into the store while the cloud side starts: the edge
 * waits for the worker (or a pod) to come up anyway, so the uploads of the first split points are
 * done in that time instead of between split points. Each part is put once, by content hash, as
 * the sweep would; the time each upload took is kept for the rows' model_upload_ms. An upload
 * that overlapped an outage of the store is put and timed again once the store is back, its
 * retries counted for the next row's store_retries, and preloading stops there. Preloading also
 * stops as soon as the cloud side is ready or the store fails; what is not preloaded is uploaded
 * when its split point is prepared. A listener hears of each part before it is put (run_all's
 * status line while parts cross a slow link).
 */
import { performance } from 'node:perf_hooks';
import { partHash } from '../onnx/part-hash.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { buildPointParts } from '../split/split.js';
import { storeKeys, type ObjectStore } from '../storage/store.js';
import { untilSteady } from './store-outage.js';

/** A cloud part about to be put in the store (for a status line: on a slow link that takes a while). */
export interface PartUpload {
  /** The split point the part belongs to. */
  split: number;
  splitLayer: string;
  /** Which of the split point's cloud parts (1-based), and how many it has. */
  part: number;
  parts: number;
  /** The part's size. */
  bytes: number;
}

export type PartUploadListener = (upload: PartUpload) => void;

/**
 * Puts one cloud part under its content hash (unless the store has it already), timed; an upload
 * that overlapped a store outage is put and timed again (a put, even if it got through). An
 * upload in progress when `signal` aborts is cut, and the signal's reason thrown.
 */
export function putPart(store: ObjectStore, hash: string, bytes: Uint8Array, signal?: AbortSignal): Promise<{ value: number; retries: number }> {
  return untilSteady(store, async (attempt) => {
    const t0 = performance.now();
    if (attempt > 0 || !(await store.exists(storeKeys.model(hash)))) await store.put(storeKeys.model(hash), bytes, signal);
    return performance.now() - t0;
  });
}

/** The parts this run has put in the store: sha256 -> upload time (ms). */
export class UploadedParts extends Map<string, number> {
  /** Store retries the uploads saw, until a split point takes them into its first row's store_retries. */
  retries = 0;
}

/**
 * Uploads the cloud parts of `points`, in order, until `until` settles or `signal` aborts (the
 * upload in progress is cut then: the caller finds the signal aborted); returns what it put.
 * `onUpload` hears of each part before it is put.
 */
export async function preloadParts(
  analysis: ModelAnalysis,
  store: ObjectStore,
  points: readonly SplitPoint[],
  until: Promise<unknown>,
  uploaded: UploadedParts = new UploadedParts(),
  onUpload?: PartUploadListener,
  signal?: AbortSignal,
): Promise<UploadedParts> {
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
      if (ready || signal?.aborted) break;
      const parts = buildPointParts(analysis, point).filter((p) => p.plan.number !== 1 && !p.part.external);
      for (const [k, p] of parts.entries()) {
        if (ready || signal?.aborted) break;
        const bytes = p.part.model.concat();
        const hash = partHash(bytes);
        if (uploaded.has(hash)) continue;
        onUpload?.({ split: point.index, splitLayer: point.splitLayer, part: k + 1, parts: parts.length, bytes: bytes.length });
        const upload = await putPart(store, hash, bytes, signal);
        uploaded.set(hash, upload.value);
        uploaded.retries += upload.retries;
        // The store came and went: the split points put (and time) the rest themselves.
        if (upload.retries > 0) return uploaded;
      }
    }
  } catch {
    // The split point's own preparation puts (and retries) what is missing, and reports failures.
  }
  return uploaded;
}
