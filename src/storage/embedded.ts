/**
 * An S3 server inside this process (s3rver over a folder), for runs without a MinIO and for tests:
 * the only module that imports `s3rver`. The store it returns is built by openMinioStore, the same
 * code path as a real MinIO, wired to s3rver's in-process 'event' emitter so waitFor wakes at once.
 * Other processes reach it through the returned endpoint and keys.
 *
 * s3rver's limits (see FACTS.md): no multipart uploads (the store puts every object in one PUT),
 * no bucket notifications (never call listenBucketNotification against it), a multi-object delete
 * that races with itself (so this store deletes key by key), and no SigV4 signature check: it only
 * checks that the access key exists, so a wrong secret key is not noticed here.
 */
import type { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { StoreError } from '../errors.js';
import { openMinioStore } from './minio-store.js';
import type { ObjectStore } from './store.js';

/** s3rver's built-in account. */
export const EMBEDDED_ACCESS_KEY = 'S3RVER';
export const EMBEDDED_SECRET_KEY = 'S3RVER';

export interface EmbeddedStore {
  store: ObjectStore;
  /** `http://127.0.0.1:<port>`: give it (with the keys) to other processes as MINIO_ENDPOINT. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** The folder holding the objects. */
  dir: string;
  /** Closes the store, stops the server and removes the folder (unless it was given). Idempotent. */
  stop(): Promise<void>;
}

interface S3rverEvent {
  Records?: { eventName?: string; s3?: { bucket?: { name?: string }; object?: { key?: string } } }[];
}

interface FilesystemStore {
  putObject(object: { bucket: string; key: string }): Promise<{ size: number; md5: string }>;
  getResourcePath(bucket: string, key: string, resource: string): string;
}

/**
 * s3rver's file store reports a PUT done when the data has passed its hash, before the file
 * write has finished, so a GET right after the reply (or the 'event') can read a partial object.
 * Here a PUT returns only once the file holds every byte.
 */
function completeWrites(server: S3rver): void {
  const store = (server as unknown as { store: FilesystemStore }).store;
  const putObject = store.putObject.bind(store);
  store.putObject = async (object) => {
    const result = await putObject(object);
    const file = store.getResourcePath(object.bucket, object.key, 'object');
    const deadline = Date.now() + 30_000;
    while ((await stat(file)).size < result.size) {
      if (Date.now() > deadline) throw new Error(`${object.key}: the object file did not reach ${result.size} bytes`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return result;
  };
}

export async function startEmbeddedStore(options: { bucket: string; dir?: string; port?: number }): Promise<EmbeddedStore> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'onnx-manager-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory: dir,
    vhostBuckets: false,
    resetOnClose: false,
  });
  completeWrites(server);
  const emitter = server as unknown as EventEmitter;
  // Koa re-emits request errors as 'error' on the app; s3rver's silent flag keeps Koa quiet, and
  // this listener keeps a stray one from becoming an uncaught exception.
  emitter.on('error', () => {});
  const removeDir = async (): Promise<void> => {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  let port: number;
  try {
    port = (await server.run()).port;
  } catch (err) {
    await removeDir();
    throw new StoreError(`cannot start the embedded S3 server on 127.0.0.1 (${(err as Error).message})`, { cause: err });
  }
  const httpServer = (server as unknown as { httpServer: Server }).httpServer;
  const closeServer = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeAllConnections(); // keep-alive sockets of this and other processes
    await closed;
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const onObjectCreated = (listener: (key: string) => void): (() => void) => {
    const handler = (event: S3rverEvent): void => {
      for (const record of event?.Records ?? []) {
        const key = record.s3?.object?.key;
        if (record.eventName?.startsWith('ObjectCreated') && record.s3?.bucket?.name === options.bucket && typeof key === 'string') {
          listener(key);
        }
      }
    };
    emitter.on('event', handler);
    return () => {
      emitter.off('event', handler);
    };
  };
  let store: ObjectStore;
  try {
    store = await openMinioStore(
      { endpoint, accessKey: EMBEDDED_ACCESS_KEY, secretKey: EMBEDDED_SECRET_KEY, bucket: options.bucket, createBucket: true, region: 'us-east-1' },
      { onObjectCreated, label: 'embedded s3rver', singleDeletes: true },
    );
  } catch (err) {
    await closeServer();
    await removeDir();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    store,
    endpoint,
    accessKey: EMBEDDED_ACCESS_KEY,
    secretKey: EMBEDDED_SECRET_KEY,
    dir,
    stop: () =>
      (stopping ??= (async () => {
        await store.close();
        await closeServer();
        await removeDir();
      })()),
  };
}
