/**
 * An S3 server inside this process over a folder (./s3-server), for runs without a MinIO and for
 * tests. The store it returns is built by openMinioStore, the same code path as a real MinIO,
 * wired to the server's in-process "object created" events so waitFor wakes at once. Other
 * processes reach it through the returned endpoint and keys; the secret key is new for every start.
 * The server comes up with its bucket before any client (startEmbeddedServer): its endpoint and
 * keys can be handed to another process while this one imports the client package and opens its own.
 *
 * The server answers with whole objects only (a put becomes visible when its file is complete) and
 * refuses what it does not implement with S3's NotImplemented error: no multipart uploads (the
 * store puts every object in one PUT), no bucket notifications over HTTP (never call
 * listenBucketNotification against it), no presigned URLs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { ownerGone, ownerText } from '../owner.js';
import { startS3Server, type S3Server } from './s3-server/server.js';
import type { ObjectStore } from './store.js';

export const EMBEDDED_ACCESS_KEY = 'onnx-manager';
const REGION = 'us-east-1';

/** The embedded server, up and with its bucket, before any client of it is open. */
export interface EmbeddedServer {
  /** `http://127.0.0.1:<port>`: give it (with the keys) to other processes as MINIO_ENDPOINT. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** The folder holding the objects. */
  dir: string;
  region: string;
  /** The server's in-process "object created" events for the bucket (another client of this process can wait on them). */
  onObjectCreated: (listener: (key: string) => void) => () => void;
  /** A client of the bucket, built by openMinioStore (the code path of a real MinIO), waking its waits on the server's events. Its opener closes it. */
  openClient(): Promise<ObjectStore>;
  /** Stops the server and removes the folder (unless it was given). Idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedStore extends Omit<EmbeddedServer, 'openClient' | 'stop' | 'bucket'> {
  store: ObjectStore;
  /** Closes the store, stops the server and removes the folder (unless it was given). Idempotent. */
  stop(): Promise<void>;
}

/** The prefix of the folders embedded stores make in the temporary folder. */
const FOLDER_PREFIX = 'onnx-manager-s3-';
/** A file in such a folder naming the host and process that made it. */
const OWNER_FILE = '.owner';

/**
 * Removes the folders of embedded stores whose process is gone without removing them (killed
 * with SIGKILL, or the machine lost power): those of this host whose owner process no longer
 * runs. A folder without an owner file, or of another host (a container sharing /tmp), is left.
 */
export async function removeOrphanStoreFolders(root: string = tmpdir()): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => n.startsWith(FOLDER_PREFIX))) {
    const dir = join(root, name);
    if (!ownerGone(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''))) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    removed.push(dir);
  }
  return removed;
}

/** Starts the server over a new folder (or `dir`) and makes the bucket; no client is opened. */
export async function startEmbeddedServer(options: { bucket: string; dir?: string; port?: number }): Promise<EmbeddedServer> {
  const ownDir = options.dir === undefined;
  if (ownDir) await removeOrphanStoreFolders();
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), FOLDER_PREFIX)));
  if (ownDir) await writeFile(join(dir, OWNER_FILE), ownerText());
  const secretKey = randomBytes(24).toString('base64url');
  const removeDir = async (): Promise<void> => {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  let server: S3Server;
  try {
    server = await startS3Server({ dir, accessKey: EMBEDDED_ACCESS_KEY, secretKey, region: REGION, host: '127.0.0.1', port: options.port ?? 0 });
  } catch (err) {
    await removeDir();
    throw new StoreError(`cannot start the embedded S3 server on 127.0.0.1 (${(err as Error).message})`, { cause: err });
  }
  try {
    await server.createBucket(options.bucket);
  } catch (err) {
    await server.close();
    await removeDir();
    throw new StoreError(`the embedded store cannot make its bucket (${(err as Error).message})`, { cause: err });
  }
  const onObjectCreated = (listener: (key: string) => void): (() => void) =>
    server.onObjectCreated((bucket, key) => {
      if (bucket === options.bucket) listener(key);
    });
  let stopping: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    accessKey: EMBEDDED_ACCESS_KEY,
    secretKey,
    bucket: options.bucket,
    dir,
    region: REGION,
    onObjectCreated,
    async openClient() {
      // Imported here: the server and its address need no client package.
      const { openMinioStore } = await import('./minio-store.js');
      return openMinioStore({ endpoint: server.endpoint, accessKey: EMBEDDED_ACCESS_KEY, secretKey, bucket: options.bucket, createBucket: true, region: REGION }, { onObjectCreated, label: 'embedded' });
    },
    stop: () =>
      (stopping ??= (async () => {
        await server.close();
        await removeDir();
      })()),
  };
}

/** The embedded server and a client of its bucket. */
export async function startEmbeddedStore(options: { bucket: string; dir?: string; port?: number }): Promise<EmbeddedStore> {
  const server = await startEmbeddedServer(options);
  let store: ObjectStore;
  try {
    store = await server.openClient();
  } catch (err) {
    await server.stop();
    throw err;
  }
  const { openClient: _o, stop: stopServer, bucket: _b, ...rest } = server;
  let stopping: Promise<void> | undefined;
  return {
    ...rest,
    store,
    stop: () =>
      (stopping ??= (async () => {
        await store.close();
        await stopServer();
      })()),
  };
}
