/**
 * Opens the store a run uses: a MinIO (or other S3 server) when an endpoint is configured, else an
 * embedded S3 server in this process; and the store of the cloud entries from their environment.
 */
import type { EmbeddedStore } from './embedded.js';
import { openMinioStore, type MinioStoreOptions } from './minio-store.js';
import { storeConfigFromEnv, type ObjectStore, type StoreConfig } from './store.js';

export interface OpenedStore {
  store: ObjectStore;
  /** Set when the store is the embedded server: how other processes reach it. */
  embedded?: Pick<EmbeddedStore, 'endpoint' | 'accessKey' | 'secretKey' | 'dir' | 'region' | 'onObjectCreated'>;
  /** Closes the store (and stops the embedded server). Idempotent. */
  stop(): Promise<void>;
}

export async function openStore(config: StoreConfig, options: MinioStoreOptions = {}): Promise<OpenedStore> {
  if (!config.endpoint) {
    // Loaded only here: the cloud entries never start an embedded server.
    const { startEmbeddedStore } = await import('./embedded.js');
    const e = await startEmbeddedStore({ bucket: config.bucket });
    return {
      store: e.store,
      embedded: { endpoint: e.endpoint, accessKey: e.accessKey, secretKey: e.secretKey, dir: e.dir, region: e.region, onObjectCreated: e.onObjectCreated },
      stop: e.stop,
    };
  }
  const store = await openMinioStore(config, options);
  return { store, stop: () => store.close() };
}

/**
 * The store of a cloud entry (onnx-cloud, the local worker, the OSCAR helper, onnx-edge --push):
 * endpoint and keys from the environment (MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY or
 * their _FILE forms), bucket and region as given (else MINIO_BUCKET, MINIO_REGION), the retry
 * budget of the run's --store_retry_s when the cloud configuration carries it. The bucket is not
 * created unless asked.
 */
export async function openStoreFromEnv(where: { bucket?: string; region?: string; createBucket?: boolean; storeRetryS?: number } = {}, env: NodeJS.ProcessEnv = process.env): Promise<ObjectStore> {
  const flags: Parameters<typeof storeConfigFromEnv>[0] = {};
  if (where.bucket) flags.minio_bucket = where.bucket;
  if (where.region) flags.minio_region = where.region;
  return openMinioStore({
    ...storeConfigFromEnv(flags, env),
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
