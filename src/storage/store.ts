/**
 * The object store the edge and cloud runners share, as a small interface (no SDK here: the
 * minio client lives in minio-store.ts, the embedded S3 server in embedded.ts).
 *
 * Layout in one bucket: `models/<sha256>.onnx`, `input/<run>/<split>/<rep>.pb`,
 * `output/<run>/<split>/<rep>.pb` (see the key helpers below).
 */
import { StoreError, TimeoutError, UsageError } from '../errors.js';
import { secretValue } from '../secrets.js';
import type { Chunks } from '../proto/writer.js';

export { StoreError, TimeoutError };

export interface ObjectStore {
  readonly bucket: string;
  /** For messages: endpoint and bucket, never credentials. */
  readonly description: string;
  /**
   * Writes the whole object in one request (replacing any object under `key`). When `signal`
   * aborts, the request is cut at once (the store keeps no part of it) and the put rejects with
   * the signal's reason.
   */
  put(key: string, data: Uint8Array | Chunks, signal?: AbortSignal): Promise<void>;
  /** The whole object; a StoreError naming bucket and key when it is missing. */
  get(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Every key that starts with `prefix` (recursively), in the store's (lexicographic) order. */
  list(prefix: string): Promise<string[]>;
  /** Like list, with each object's size in bytes (where the store tells it). */
  listSized?(prefix: string): Promise<{ key: string; size: number }[]>;
  /** Removes the objects; keys that do not exist are not an error. */
  remove(keys: readonly string[]): Promise<void>;
  /**
   * Resolves when `key` exists: a notification where the store offers one, else polling with
   * backoff (start ~1 ms, x2, cap ~50 ms); rejects with a TimeoutError naming the key after
   * timeoutMs, or with the signal's reason when it aborts.
   */
  waitFor(key: string, timeoutMs: number, signal?: AbortSignal, options?: WaitOptions): Promise<void>;
  /** Releases connections and listeners; pending waits reject with a StoreError. Idempotent. */
  close(): Promise<void>;
  /** Set when the store retries while it is unavailable (see retrying-store.ts). */
  readonly outages?: StoreOutages;
}

/** What a store that retries tells about its outages. */
export interface StoreOutages {
  /** Retries so far, over the store's life. */
  readonly retries: number;
  /** Time spent unavailable so far, outages that ended (ms). */
  readonly downMs: number;
  /** How long one outage may last before calls fail (ms). */
  readonly budgetMs: number;
  /** 'down' once when an outage starts, 'retry' for each retry, 'up' once when it ends. */
  on(listener: (event: StoreOutageEvent) => void): () => void;
}

export type StoreOutageEvent =
  | { kind: 'down'; reason: string }
  | { kind: 'retry'; attempt: number; delayMs: number; reason: string }
  | { kind: 'up'; downMs: number };

export interface StoreConfig {
  /** `host:port`, `host`, or `http(s)://host[:port]`; empty or missing means the embedded server. */
  endpoint?: string;
  accessKey?: string;
  secretKey?: string;
  region?: string;
  /** TLS; taken from the scheme when the endpoint is a URL. Default false. */
  useSSL?: boolean;
  bucket: string;
  /** Create the bucket when it is missing (default true). */
  createBucket?: boolean;
  /**
   * How waitFor learns about new objects: 'minio' uses MinIO's listenBucketNotification (a MinIO
   * server extension; not for plain S3 or the embedded server), 'poll' (the default) polls statObject.
   */
  notifications?: 'minio' | 'poll';
  /** A request on which nothing moves this long fails as the store being unavailable (default 30000 ms). */
  requestIdleMs?: number;
  /** How long opening the store waits for the endpoint's first answer (default 10000 ms). */
  connectTimeoutMs?: number;
  /**
   * How long the store may stay unavailable (unreachable, or answering 5xx) while calls retry with
   * backoff, before they fail (--store_retry_s; default 120 s). 0: no retries.
   */
  retryBudgetMs?: number;
}

export const DEFAULT_BUCKET = 'onnx-manager';

/** Store keys of the layout. */
export const storeKeys = {
  model: (sha256: string): string => `models/${sha256}.onnx`,
  input: (run: string, split: number | string, rep: number | string): string => `input/${run}/${split}/${rep}.pb`,
  output: (run: string, split: number | string, rep: number | string): string => `output/${run}/${split}/${rep}.pb`,
};

export interface ParsedEndpoint {
  host: string;
  /** Undefined means the scheme's default port. */
  port?: number;
  useSSL: boolean;
  /** `http(s)://host[:port]` for messages. */
  url: string;
}

/**
 * Parses `host`, `host:port`, `[v6]:port` or `http(s)://host[:port]` (a URL's scheme decides
 * TLS; for the other forms `useSSL` does). Throws a UsageError for anything else.
 */
export function parseEndpoint(raw: string, useSSL?: boolean): ParsedEndpoint {
  const text = raw.trim();
  // Whatever stands before an '@' may be a key: it is refused, and never repeated in a message.
  if (text.includes('@')) throw new UsageError('object store endpoint must not contain credentials; use MINIO_ACCESS_KEY and MINIO_SECRET_KEY');
  const endpoint = text;
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  let ssl = useSSL ?? false;
  let url: URL;
  if (schemeMatch) {
    const scheme = schemeMatch[1]!.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') throw new UsageError(`object store endpoint '${endpoint}': the scheme must be http or https`);
    ssl = scheme === 'https'; // the scheme wins over a default --minio_secure
    try {
      url = new URL(text);
    } catch {
      throw new UsageError(`object store endpoint '${endpoint}' is not a valid URL`);
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
      throw new UsageError(`object store endpoint '${endpoint}' must not have a path or query (the bucket is given separately)`);
    }
    if (url.username || url.password) {
      throw new UsageError('object store endpoint must not contain credentials; use MINIO_ACCESS_KEY and MINIO_SECRET_KEY');
    }
  } else {
    try {
      url = new URL(`${ssl ? 'https' : 'http'}://${text}`);
    } catch {
      throw new UsageError(`object store endpoint '${endpoint}' is not host, host:port or a URL`);
    }
    if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
      throw new UsageError(`object store endpoint '${endpoint}' is not host, host:port or a URL`);
    }
  }
  if (!url.hostname) throw new UsageError(`object store endpoint '${endpoint}' has no host`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : undefined;
  return { host, port, useSSL: ssl, url: `${ssl ? 'https' : 'http'}://${url.host}` };
}

/** One line naming endpoint and bucket, for messages. */
export function describeStore(endpointUrl: string, bucket: string): string {
  return `bucket '${bucket}' at ${endpointUrl}`;
}

type Env = Record<string, string | undefined>;

/** Bucket and region from the flags, else MINIO_BUCKET and MINIO_REGION (no endpoint, no keys). */
export function storeLocationFromEnv(flags: { minio_bucket?: string; minio_region?: string }, env: Env = process.env): { bucket: string; region?: string } {
  const bucket = flags.minio_bucket || env.MINIO_BUCKET?.trim() || DEFAULT_BUCKET;
  const region = flags.minio_region || env.MINIO_REGION?.trim();
  return region ? { bucket, region } : { bucket };
}

/**
 * The store configuration from the command-line flags and the environment: MINIO_ENDPOINT (the
 * --minio_endpoint flag wins), MINIO_ACCESS_KEY and MINIO_SECRET_KEY (or MINIO_ACCESS_KEY_FILE and
 * MINIO_SECRET_KEY_FILE naming files that hold them), MINIO_NOTIFICATIONS=minio to wait with MinIO
 * bucket notifications. No endpoint means the embedded server.
 */
export function storeConfigFromEnv(
  flags: { minio_endpoint?: string; minio_bucket?: string; minio_region?: string; minio_secure?: boolean },
  env: Env = process.env,
): StoreConfig {
  const config: StoreConfig = storeLocationFromEnv(flags, env);
  const rawEndpoint = (flags.minio_endpoint ?? env.MINIO_ENDPOINT ?? '').trim();
  if (rawEndpoint) {
    const parsed = parseEndpoint(rawEndpoint, flags.minio_secure);
    config.endpoint = parsed.url;
    config.useSSL = parsed.useSSL;
  } else if (flags.minio_secure !== undefined) {
    config.useSSL = flags.minio_secure;
  }
  const accessKey = secretValue(env, 'MINIO_ACCESS_KEY');
  const secretKey = secretValue(env, 'MINIO_SECRET_KEY');
  if (accessKey !== undefined) config.accessKey = accessKey;
  if (secretKey !== undefined) config.secretKey = secretKey;
  const notifications = env.MINIO_NOTIFICATIONS?.trim().toLowerCase();
  if (notifications) {
    if (notifications !== 'minio' && notifications !== 'poll') {
      throw new UsageError(`MINIO_NOTIFICATIONS must be 'minio' or 'poll', got '${env.MINIO_NOTIFICATIONS}'`);
    }
    config.notifications = notifications;
  }
  return config;
}

export interface WaitOptions {
  /**
   * The object is written after this call, or its writer was started just before it (a cycle's
   * wait, begun as its trigger returns): where the store has a notification source, the wait
   * sends no check at once and learns of the object from its event, as a deployment listening
   * for notifications does; only the safety polls check (the first of them finds an object that
   * was there all the same). Without a notification source the wait polls as always.
   */
  createdAfter?: boolean;
}

/** Options for waitFor's polling, shared by the implementations. */
export const POLL_START_MS = 1;
export const POLL_CAP_MS = 50;
/** With a notification source, polling is only a safety net against a missed event. */
export const SAFETY_POLL_START_MS = 100;
export const SAFETY_POLL_CAP_MS = 1000;
