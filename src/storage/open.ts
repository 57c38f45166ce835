/**
 * Opens the store a run uses: a MinIO (or other S3 server) when an endpoint is configured, else an
 * embedded S3 server in this process; and the store of the cloud entries from their environment.
 * The store client's module (and with it the minio package) is imported when a store is opened.
 */
import type { EmbeddedServer } from './embedded.js';
import type { MinioStoreOptions } from './minio-store.js';
import { StoreError } from '../errors.js';
import { storeConfigFromEnv, type ObjectStore, type StoreConfig } from './store.js';

/** How other processes reach the embedded server. */
export type EmbeddedAccess = Pick<EmbeddedServer, 'endpoint' | 'accessKey' | 'secretKey' | 'dir' | 'region' | 'onObjectCreated'>;

export interface OpenedStore {
  store: ObjectStore;
  /** Set when the store is the embedded server: how other processes reach it. */
  embedded?: EmbeddedAccess;
  /** Closes the store (and stops the embedded server). Idempotent. */
  stop(): Promise<void>;
}

/** A store whose client is still opening: the embedded server is up already (other processes can be told where it is). */
export interface OpeningStore {
  /** The client, opening (with an endpoint: waiting for the store within its retry budget). */
  store: Promise<ObjectStore>;
  embedded?: EmbeddedAccess;
  /** Closes the client once its opening has settled, then stops the embedded server. Idempotent; safe at any time. */
  stop(): Promise<void>;
}

/** The warning of a store that does not answer yet and is waited for (opening it, up to its retry budget). */
export function storeWaitLine(store: Pick<StoreConfig, 'retryBudgetMs'>, reason: string): string {
  return `waiting for the store to answer (up to --store_retry_s ${(store.retryBudgetMs ?? 0) / 1000} s): ${reason}`;
}

const openMinio = async (config: StoreConfig, options: MinioStoreOptions = {}): Promise<ObjectStore> => (await import('./minio-store.js')).openMinioStore(config, options);

/** Starts the embedded server when no endpoint is configured, and begins opening the client. */
export async function startStore(config: StoreConfig, options: MinioStoreOptions = {}): Promise<OpeningStore> {
  let server: EmbeddedServer | undefined;
  if (!config.endpoint) {
    // Loaded only here: the cloud entries never start an embedded server.
    const { startEmbeddedServer } = await import('./embedded.js');
    server = await startEmbeddedServer({ bucket: config.bucket });
  }
  const store = server ? server.openClient() : openMinio(config, options);
  // Its failure is met where it is awaited.
  store.catch(() => undefined);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await store.then(
        (s) => s.close(),
        () => undefined,
      );
      await server?.stop();
    })());
  if (!server) return { store, stop };
  const { endpoint, accessKey, secretKey, dir, region, onObjectCreated } = server;
  return { store, embedded: { endpoint, accessKey, secretKey, dir, region, onObjectCreated }, stop };
}

export async function openStore(config: StoreConfig, options: MinioStoreOptions = {}): Promise<OpenedStore> {
  const opening = await startStore(config, options);
  try {
    const store = await opening.store;
    return { store, ...(opening.embedded ? { embedded: opening.embedded } : {}), stop: opening.stop };
  } catch (err) {
    await opening.stop();
    throw err;
  }
}

/**
 * The store of a cloud entry (onnx-cloud, the local worker, the OSCAR helper, onnx-edge --push):
 * endpoint and keys from the environment (MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY or
 * their _FILE forms), bucket and region as given (else MINIO_BUCKET, MINIO_REGION), the retry
 * budget of the run's --store_retry_s when the cloud configuration carries it. The bucket is not
 * created unless asked.
 */
/**
 * The environment variables a cloud entry's store still needs (MINIO_ENDPOINT, MINIO_ACCESS_KEY,
 * MINIO_SECRET_KEY), in that order; empty when `env` names a store with both keys.
 */
export function missingStoreVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  const config = storeConfigFromEnv({}, env);
  return [config.endpoint ? '' : 'MINIO_ENDPOINT', config.accessKey ? '' : 'MINIO_ACCESS_KEY', config.secretKey ? '' : 'MINIO_SECRET_KEY'].filter((v) => v);
}

export async function openStoreFromEnv(where: { bucket?: string; region?: string; createBucket?: boolean; storeRetryS?: number } = {}, env: NodeJS.ProcessEnv = process.env): Promise<ObjectStore> {
  const flags: Parameters<typeof storeConfigFromEnv>[0] = {};
  if (where.bucket) flags.minio_bucket = where.bucket;
  if (where.region) flags.minio_region = where.region;
  const config = storeConfigFromEnv(flags, env);
  // The cloud entries take no store flags: name the variable, not --minio_endpoint.
  if (!config.endpoint) throw new StoreError('no object store endpoint: set MINIO_ENDPOINT (with MINIO_ACCESS_KEY and MINIO_SECRET_KEY)');
  return openMinio({
    ...config,
    createBucket: where.createBucket === true,
    ...(where.storeRetryS !== undefined ? { retryBudgetMs: where.storeRetryS * 1000 } : {}),
  });
}

/**
 * Where a cloud entry's store is, for one request: `config`, with the request's own retry budget
 * when its input payload carries one (storeRetryMs: the run's --store_retry_s, sent to OSCAR jobs,
 * which start with their service's environment); else the budget `config` names.
 */
export function requestStoreWhere<T extends { storeRetryS?: number }>(config: T, request: { storeRetryMs?: number }): T {
  return request.storeRetryMs === undefined ? config : { ...config, storeRetryS: request.storeRetryMs / 1000 };
}
