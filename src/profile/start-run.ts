/**
 * A run, ready to measure: the store opened (or the embedded one started), the cloud backend
 * created and warm, the reference outputs of the whole model computed with the same provider
 * and input. With a link (config.link), the edge's store connections go through a shaping proxy
 * in front of the store, while the cloud side reaches the store directly. One split point
 * (`measureSplit`) or the sweep (`sweep`) then runs over it; `close` stops everything that was
 * started (backend, proxy, stores), on every path. An interrupt (options.signal) stops the start at
 * once, cutting the upload in progress, and later ends the measuring with the signal's reason.
 */
import { untilAborted } from '../abort.js';
import { edgeSessionOptions, threadColumns, type RunConfig } from '../config/run-config.js';
import { createSession } from '../runtime/ort.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { newRunId } from '../storage/run-id.js';
import type { ObjectStore } from '../storage/store.js';
import type { ShapingProxy } from '../storage/shaping-proxy.js';
import type { Row } from './columns.js';
import { preloadParts, UploadedParts, type PartUploadListener } from './part-preload.js';
import { startCloud, type CloudStartOptions, type StartingCloud } from './start-cloud.js';
import { PreparedSplit, runSweep, type SweepContext, type SweepOptions } from './sweep.js';

export { startCloud, whileCloudStarts, type CloudStartOptions, type StartingCloud } from './start-cloud.js';

export interface StartRunOptions extends CloudStartOptions {
  /** The model inputs of every cycle (see randomInputs for a seeded random input). */
  feeds: Record<string, HostTensor>;
  /** Codecs of the cut tensors (--tensor_codec): run uses the first, a sweep one row set each. Default raw. */
  tensorCodecs?: readonly string[];
  /** The whole model's outputs on `feeds` with the run's edge session options, when the caller has them already: no reference run. */
  expected?: Record<string, HostTensor>;
  /** The split points to be measured, in order: their cloud parts are put in the store while the cloud side starts. */
  preload?: readonly SplitPoint[];
  /** Cloud parts the caller has put in the store already (preloadParts while the cloud side started): not put again. */
  uploadedParts?: UploadedParts;
  /** Hears of each cloud part before it is put in the store, while the cloud side starts and during the sweep. */
  onPartUpload?: PartUploadListener;
}

export interface SplitMeasurement {
  rows: Row[];
  /** The outputs of the last repetition, as the edge received them. */
  outputs: Map<string, HostTensor>;
}

export interface StartedRun {
  readonly ctx: SweepContext;
  readonly config: RunConfig;
  /** The shaping proxy the edge's store connections go through (with --bandwidth/--rtt): its byte and connection counters. */
  readonly proxy?: ShapingProxy;
  /** The store without the link (ctx.store when there is none): where the store's own costs are measured. */
  readonly directStore: ObjectStore;
  /** Warm-up cycles (config.warmup), then `rep` recorded cycles of one split point. */
  measureSplit(point: SplitPoint, rep: number): Promise<SplitMeasurement>;
  /** Every requested split point; failed ones become error rows and the sweep goes on. */
  sweep(opts: SweepOptions): Promise<Row[]>;
  /** Stops the backend, the link's proxy and the store. Idempotent. */
  close(): Promise<void>;
}


/** A run over `analysis`; `cloud` is its cloud side when the caller started it (startCloud with the same configuration), else it is started here. */
export async function startRun(analysis: ModelAnalysis, runConfig: RunConfig, options: StartRunOptions & { cloud?: StartingCloud }): Promise<StartedRun> {
  const cloud = options.cloud ?? (await startCloud(runConfig, options));
  const { config, backend, edgeStore, warming, close } = cloud;
  const sessionOptions = edgeSessionOptions(config);
  let expected: Record<string, HostTensor>;
  // The worker starts while the reference (the whole model here, same provider and input) runs.
  const uploadedParts = options.uploadedParts ?? new UploadedParts();
  try {
    if (options.expected) expected = options.expected;
    else {
      const full = await createSession(analysis.model.bytes, sessionOptions);
      try {
        expected = await full.run(options.feeds);
      } finally {
        await full.release();
      }
    }
    if (warming && options.preload?.length) await preloadParts(analysis, edgeStore, options.preload, warming, uploadedParts, options.onPartUpload, options.signal);
    await untilAborted(warming ?? Promise.resolve(), options.signal);
    options.signal?.throwIfAborted();
  } catch (err) {
    await warming?.catch(() => undefined);
    await close();
    throw err;
  }
  const ctx: SweepContext = {
    analysis,
    store: edgeStore,
    backend,
    createSession,
    provider: config.provider,
    execType: config.execType,
    sessionOptions,
    feeds: options.feeds,
    runId: newRunId(),
    timeoutMs: config.timeoutMs,
    warmup: config.warmup,
    expected,
    uploadedParts,
    // The embedded store's folder goes away at the end; its objects need no deleting.
    keepObjects: config.keepObjects || cloud.embedded,
  };
  if (config.link) ctx.link = config.link;
  if (options.signal) ctx.signal = options.signal;
  if (options.onPartUpload) ctx.onPartUpload = options.onPartUpload;
  if (backend.requestStoreRetryMs !== undefined) ctx.storeRetryMs = backend.requestStoreRetryMs;
  ctx.threads = threadColumns(config);
  ctx.graphOpt = config.graphOptimizationLevel;
  if (options.tensorCodecs?.length) {
    ctx.tensorCodecs = [...new Set(options.tensorCodecs)];
    ctx.tensorCodec = ctx.tensorCodecs[0]!;
  }
  return {
    ctx,
    config,
    ...(cloud.proxy ? { proxy: cloud.proxy } : {}),
    directStore: cloud.directStore,
    close,
    sweep: (opts) => runSweep(ctx, opts),
    async measureSplit(point, rep) {
      const prepared = await PreparedSplit.prepare(ctx, point);
      const rows: Row[] = [];
      let outputs = new Map<string, HostTensor>();
      try {
        await prepared.runReps(ctx, Array.from({ length: rep }, (_, r) => r), (res) => {
          rows.push(res.row);
          outputs = res.outputs;
        });
      } finally {
        await prepared.release(ctx);
      }
      return { rows, outputs };
    },
  };
}
