/**
 * Opens the store a run uses: a MinIO (or other S3 server) when an endpoint is configured, else an
 * embedded s3rver in this process.
 */
import { startEmbeddedStore } from './embedded.js';
import { openMinioStore, type MinioStoreOptions } from './minio-store.js';
import type { ObjectStore, StoreConfig } from './store.js';

export interface OpenedStore {
  store: ObjectStore;
  /** Set when the store is the embedded server: how other processes reach it. */
  embedded?: { endpoint: string; accessKey: string; secretKey: string; dir: string };
  /** Closes the store (and stops the embedded server). Idempotent. */
  stop(): Promise<void>;
}

export async function openStore(config: StoreConfig, options: MinioStoreOptions = {}): Promise<OpenedStore> {
  if (!config.endpoint) {
    const e = await startEmbeddedStore({ bucket: config.bucket });
    return {
      store: e.store,
      embedded: { endpoint: e.endpoint, accessKey: e.accessKey, secretKey: e.secretKey, dir: e.dir },
      stop: e.stop,
    };
  }
  const store = await openMinioStore(config, options);
  return { store, stop: () => store.close() };
}
