/**
 * The cloud side of a run, started before the model is needed: the store, the backend and its
 * warm-up (the worker's start), in the order that gets the worker going first. The embedded
 * store's server comes up with its bucket (no client yet), the backend is created and its worker
 * started with the server's endpoint and keys; only then does this process import the store
 * client and open it (and the link's proxy), and check the edge's execution provider, while the
 * worker starts. A store of the user's own (an endpoint) is opened before the worker starts.
 * Whatever fails, everything started is stopped before the error is passed on: the worker, the
 * proxy, the clients, the server and its folder. A refused execution provider is the
 * error reported when something else failed too, as when it was checked first. An abort of
 * options.signal during the start fails it the same way (with the signal's reason), and after
 * it closes the cloud side.
 *
 * This module imports neither onnxruntime nor the store client: a caller can start the cloud side
 * before it loads them.
 */
import type { BackendContext, CloudBackend } from '../backends/backend.js';
import { backendModule } from '../backends/index.js';
import { cloudConfigOf, runConfigWarnings, type RunConfig } from '../config/run-config.js';
import { warnOnStderr } from '../errors.js';
import type { LinkedStore } from '../storage/linked-store.js';
import { startStore, storeWaitLine, type OpeningStore } from '../storage/open.js';
import type { ShapingProxy } from '../storage/shaping-proxy.js';
import type { ObjectStore } from '../storage/store.js';
import { untilAborted } from '../abort.js';

export interface CloudStartOptions {
  /** Where warnings go (default: stderr). */
  warn?: (line: string) => void;
  /** The environment store keys and backend credentials come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Ctrl-C: when it aborts, the start stops where it is and everything started is stopped (the
   * worker, the link's proxy with the uploads on it, the store); a started cloud side is closed.
   */
  signal?: AbortSignal;
}

/**
 * The cloud side of a run, opened and starting: the store (and the link's proxy) open, the
 * backend created and its warm-up (the worker's start) under way. What startRun does before it
 * needs the model, so a caller can start it while the model is analysed.
 */
export interface StartingCloud {
  /** The run's configuration, with the backend's default store. */
  readonly config: RunConfig;
  readonly backend: CloudBackend;
  /** The store the edge uses (through the link's proxy when there is a link). */
  readonly edgeStore: ObjectStore;
  /** The store without the link. */
  readonly directStore: ObjectStore;
  readonly embedded: boolean;
  readonly proxy?: ShapingProxy;
  /** The backend's warm-up, when it has one; already handled, so awaiting it late is safe. */
  readonly warming?: Promise<void>;
  /** Stops the backend, the link's proxy and the store. Idempotent. */
  close(): Promise<void>;
}

const ignore = (): undefined => undefined;

/** The edge's execution provider checked (onnxruntime loaded for it). */
async function checkEdgeProvider(config: RunConfig): Promise<void> {
  const [{ checkProvider }, { probeModel }] = await Promise.all([import('../runtime/ort.js'), import('../runtime/probe.js')]);
  await checkProvider(config.provider, probeModel());
}

/**
 * Starts the cloud side of `runConfig`. `launched` is told once the backend's warm-up is under
 * way (or the start failed before it): from then on the caller's own work overlaps the worker's start.
 */
export async function startCloud(runConfig: RunConfig, options: CloudStartOptions & { launched?: () => void } = {}): Promise<StartingCloud> {
  const env = options.env ?? process.env;
  const warn = options.warn ?? warnOnStderr;
  const signal = options.signal;
  for (const line of runConfigWarnings(runConfig)) warn(line);
  let config = runConfig;
  let checking: Promise<void> | undefined;
  const check = () => (checking ??= checkEdgeProvider(runConfig));
  // A step that fails stops what `undo` stops, then passes on a refused execution provider in
  // preference to its own error (as when the provider was checked first).
  const step = async <T>(f: () => Promise<T>, undo?: () => Promise<void>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      await undo?.();
      if (signal?.aborted) throw signal.reason;
      await check();
      throw err;
    }
  };
  try {
    const module = await backendModule(config.cloud);
    const opening: OpeningStore = await step(async () => {
      if (!config.store.endpoint && module.defaultStore) config = { ...config, store: (await module.defaultStore(config, env)) ?? config.store };
      const store = config.store;
      return startStore(store, { onWait: (reason) => warn(storeWaitLine(store, reason)) });
    });
    if (signal?.aborted) {
      await opening.stop();
      throw signal.reason;
    }
    const embedded = opening.embedded;
    // A store of its own (a MinIO, any S3) is open before the worker starts: a worker told of a
    // store that does not answer would fail on it too. The embedded server is up and has its bucket.
    if (!embedded) await step(() => untilAborted(opening.store, signal), () => opening.stop());
    const access = embedded
      ? { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey }
      : { endpoint: config.store.endpoint ?? '', accessKey: config.store.accessKey ?? '', secretKey: config.store.secretKey ?? '' };
    // With a link, the edge's store goes through the shaping proxy (opened once the store answers); the cloud side (storeAccess) reaches the store directly.
    const link = config.link;
    const linkedConfig = embedded ? { ...config.store, region: embedded.region } : config.store;
    const linking: Promise<LinkedStore> | undefined = link
      ? opening.store.then(async () => (await import('../storage/linked-store.js')).openLinkedStore({ ...access, ...(embedded ? { onObjectCreated: embedded.onObjectCreated, label: 'embedded' } : {}) }, linkedConfig, link))
      : undefined;
    linking?.catch(ignore);
    const edgeStore = linking ? linking.then((l) => l.store) : opening.store;
    edgeStore.catch(ignore);
    const stopStores = async (): Promise<void> => {
      await linking?.then((l) => l.stop(), ignore);
      await opening.stop();
    };
    const bctx: BackendContext = {
      config,
      cloud: cloudConfigOf(config),
      store: edgeStore,
      storeAccess: { ...access, bucket: config.store.bucket, ...(config.store.region ? { region: config.store.region } : {}) },
      embeddedStore: embedded !== undefined,
      env,
      warn,
    };
    const backend: CloudBackend = await step(() => module.create(bctx), stopStores);
    let closed: Promise<void> | undefined;
    const closeOnAbort = () => void close().catch(ignore);
    const close = () =>
      (closed ??= (async () => {
        signal?.removeEventListener('abort', closeOnAbort);
        await backend.close().catch(ignore);
        await stopStores();
      })());
    // From here an interrupt stops the worker, the proxy (the uploads crossing it) and the store at once.
    if (signal?.aborted) await close();
    signal?.addEventListener('abort', closeOnAbort, { once: true });
    signal?.throwIfAborted();
    const warming = backend.warmUp?.();
    // Its failure is met where it is awaited.
    warming?.catch(ignore);
    options.launched?.();
    const [directStore, edge, linked] = await step(async () => {
      await check();
      return untilAborted(Promise.all([opening.store, edgeStore, linking]), signal);
    }, close);
    return { config, backend, edgeStore: edge, directStore, embedded: embedded !== undefined, ...(linked ? { proxy: linked.proxy } : {}), ...(warming ? { warming } : {}), close };
  } finally {
    options.launched?.();
    // A check begun and not awaited (a failure before it was) is not left unhandled.
    checking?.catch(ignore);
  }
}

/**
 * `f` with the cloud side of `config` starting meanwhile (none without a configuration), given to
 * it as a promise; closed after `f`, whatever happened (a run over it closes it first). `launched`
 * settles once the worker's start is under way (or the start failed): work awaited after it runs
 * while the worker starts, not before.
 */
export async function whileCloudStarts<T>(config: RunConfig | undefined, f: (cloud?: Promise<StartingCloud>, launched?: Promise<void>) => Promise<T>, options: CloudStartOptions = {}): Promise<T> {
  let launched: (() => void) | undefined;
  const underway = config ? new Promise<void>((resolve) => (launched = resolve)) : undefined;
  const starting = config ? startCloud(config, { ...options, ...(launched ? { launched } : {}) }) : undefined;
  // Its failure is met where it is awaited.
  starting?.catch(ignore);
  try {
    return await f(starting, underway);
  } finally {
    await starting?.then(
      (c) => c.close(),
      () => undefined,
    );
  }
}
