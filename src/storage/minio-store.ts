/**
 * ObjectStore over the minio client: the only module that imports `minio`. It serves a real MinIO
 * (or any S3-compatible server) and the embedded S3 server alike; only the endpoint differs.
 *
 * - Every put is one PUT request: the client gets a Buffer (minio's putObject sends a Buffer in one
 *   request whatever its size) and partSize is raised to 512 MiB, so even a stream would not turn
 *   into a multipart upload below that (the embedded server does not do multipart).
 * - Each store owns its keep-alive http(s) Agent, so close() really closes its sockets.
 * - waitFor: MinIO's listenBucketNotification only when config.notifications is 'minio' (a MinIO
 *   extension; other servers answer NotImplemented), an
 *   external onObjectCreated hook (the embedded server's in-process events) when given, else
 *   polling statObject with backoff. With a notification source, a slow poll stays as a safety net,
 *   and a wait for an object created after it (createdAfter) sends no check before its first one.
 * - The minio client's own retry is off; the store returned is a RetryingStore, which retries while
 *   the store is unavailable (config.retryBudgetMs), counting instead of printing.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { finished } from 'node:stream/promises';
import tls from 'node:tls';
import { Client, type NotificationPoller } from 'minio';
import { untilAborted } from '../abort.js';
import { DEFAULTS } from '../config/defaults.js';
import { StoreError, TimeoutError } from '../errors.js';
import type { Chunks } from '../proto/writer.js';
import { backoffDelay, DEFAULT_BACKOFF, isTransientStoreFailure } from './backoff.js';
import { RetryingStore } from './retrying-store.js';
import {
  POLL_CAP_MS,
  POLL_START_MS,
  SAFETY_POLL_CAP_MS,
  SAFETY_POLL_START_MS,
  describeStore,
  parseEndpoint,
  type ObjectStore,
  type StoreConfig,
  type WaitOptions,
} from './store.js';

/** Parts up to this size go up in one PUT (S3's single-PUT limit is 5 GiB). */
export const PART_SIZE = 512 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface MinioStoreOptions {
  /**
   * An external source of "object created" events (the embedded server's in-process emitter):
   * subscribe a listener, get back the unsubscribe function. Keys are plain (not URL-encoded).
   */
  onObjectCreated?: (listener: (key: string) => void) => () => void;
  /** Names the kind of server in `description`, e.g. 'embedded'. */
  label?: string;
  /**
   * Dial every connection here instead of the endpoint (a shaping proxy in front of it). Requests
   * still name the endpoint: the Host header, the SigV4 signature over it and TLS's server name and
   * certificate check are those of a direct connection.
   */
  connectVia?: { host: string; port: number };
  /** Told once when the store does not answer at first and opening waits for it (within config.retryBudgetMs). */
  onWait?: (reason: string) => void;
  /**
   * Whether the link to the store still holds bytes on their way (a shaping proxy's queue): a
   * connection idle that long is not given up while they cross, only once nothing moves for the
   * idle time.
   */
  linkBusy?: () => boolean;
}

/** A store connection silent this long (no byte either way) is given up: the server is stopped or hung. */
export const DEFAULT_REQUEST_IDLE_MS = 30_000;

/**
 * The store's own keep-alive agent, dialling `via` instead of the endpoint when given. A connection
 * on which nothing moves for `idleMs` (nor on the link, when `linkBusy` tells) is destroyed with
 * ETIMEDOUT, so a request to a server that stopped answering fails (and is retried as an outage)
 * instead of waiting for ever.
 */
export function storeAgent(useSSL: boolean, endpointHost: string, via?: { host: string; port: number }, idleMs = DEFAULT_REQUEST_IDLE_MS, linkBusy?: () => boolean): http.Agent {
  // The agent's own timeout too: it sets every socket's again when the socket is reused.
  const agent = useSSL ? new https.Agent({ keepAlive: true, timeout: idleMs }) : new http.Agent({ keepAlive: true, timeout: idleMs });
  const dial = agent.createConnection.bind(agent);
  const tlsName = useSSL ? { checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(endpointHost, cert) } : {};
  agent.createConnection = (options, callback) => {
    const socket = dial(via ? { ...options, host: via.host, port: via.port, ...tlsName } : options, callback) as net.Socket | undefined;
    socket?.on('timeout', () => {
      // Bytes still crossing a slow link: the request is moving, though nothing moves on this socket.
      if (linkBusy?.()) socket.setTimeout(idleMs);
      else socket.destroy(Object.assign(new Error(`no answer from the store within ${idleMs / 1000} s`), { code: 'ETIMEDOUT' }));
    });
    socket?.setTimeout(idleMs);
    return socket;
  };
  return agent;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken']);
const MISSING_KEY_CODES = new Set(['NoSuchKey', 'NotFound']);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: { code?: unknown }[] } | null;
  if (e && typeof e.code === 'string' && e.code) return e.code;
  const inner = e?.errors?.find((x) => typeof x?.code === 'string');
  return inner ? (inner.code as string) : undefined;
}

function toBuffer(data: Uint8Array | Chunks): Buffer {
  const bytes = data instanceof Uint8Array ? data : data.concat();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** MinIO notification keys are URL-encoded (form encoding: '+' is a space). */
function decodeEventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

class MinioStore implements ObjectStore {
  readonly bucket: string;
  readonly description: string;
  /** The bucket's region when the configuration names it; '' lets the client find it (and remember it). */
  private readonly region: string;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pending = new Set<(err: Error) => void>();
  private readonly unsubscribeHook?: () => void;
  private readonly useMinioNotifications: boolean;
  private poller?: NotificationPoller;
  private closed = false;

  constructor(
    private readonly client: Client,
    private readonly agent: http.Agent,
    private readonly endpointUrl: string,
    private readonly secrets: string[],
    config: StoreConfig,
    options: MinioStoreOptions,
  ) {
    this.bucket = config.bucket;
    this.region = config.region ?? '';
    this.description = `${options.label ? `${options.label} ` : ''}${describeStore(endpointUrl, config.bucket)}`;
    this.useMinioNotifications = config.notifications === 'minio';
    if (options.onObjectCreated) this.unsubscribeHook = options.onObjectCreated((key) => this.notify(key));
  }

  private get hasEvents(): boolean {
    return this.unsubscribeHook !== undefined || this.useMinioNotifications;
  }

  /** Turns any client error into a one-line StoreError naming the endpoint (and the key), never the keys. */
  fail(err: unknown, op: string, key?: string): StoreError {
    if (err instanceof StoreError) return err;
    const code = errorCode(err);
    const where = this.description;
    const opts = { cause: err, bucket: this.bucket, key };
    if (code && MISSING_KEY_CODES.has(code) && key !== undefined) return new StoreError(`${where}: object '${key}' not found`, opts);
    if (code === 'NoSuchBucket') return new StoreError(`${where}: the bucket does not exist`, opts);
    if (code && CREDENTIAL_CODES.has(code)) {
      return new StoreError(`${where}: access denied (${code}); check MINIO_ACCESS_KEY / MINIO_SECRET_KEY and the bucket policy`, opts);
    }
    if (code && NETWORK_CODES.has(code)) return new StoreError(`cannot reach the object store at ${this.endpointUrl} (${code})`, opts);
    const name = (err as Error)?.name;
    if (name === 'InvalidObjectNameError') return new StoreError(`${where}: invalid object key '${key ?? ''}'`, opts);
    if (name === 'InvalidBucketNameError') return new StoreError(`invalid bucket name '${this.bucket}' (3-63 lowercase letters, digits, dots, hyphens)`, opts);
    let message = err instanceof Error ? err.message : String(err);
    for (const s of this.secrets) if (s) message = message.split(s).join('***');
    message = message.replace(/\s+/g, ' ').trim();
    return new StoreError(`${where}: ${op}${key !== undefined ? ` '${key}'` : ''} failed: ${code ? `${code}: ` : ''}${message || 'unknown error'}`, opts);
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError(`${this.description}: the store is closed`, { bucket: this.bucket });
  }

  async put(key: string, data: Uint8Array | Chunks, signal?: AbortSignal): Promise<void> {
    this.checkOpen();
    signal?.throwIfAborted();
    const body = toBuffer(data);
    try {
      // The client takes no signal: the connections its requests are on are cut (a request cut
      // before its last byte stores nothing), and the put ends now.
      await untilAborted(this.putBody(key, body), signal, () => this.cutRequests());
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.fail(err, 'put', key);
    }
  }

  /**
   * One PUT of `body`, as minio's putObject sends it (the same headers and signature), without
   * what putObject adds on the way: two copies of the body (into a stream and back) and an MD5 of
   * it, which it sends only over https. Over http the request carries the body's SHA-256 in its
   * signature, as putObject's does; over https (UNSIGNED-PAYLOAD) the MD5 goes in Content-MD5.
   */
  private async putBody(key: string, body: Buffer): Promise<void> {
    // putObject's check of the key, which the request below does not make.
    if (key.length === 0 || key.length > 1024) throw new StoreError(`${this.description}: invalid object key '${key}'`, { bucket: this.bucket, key });
    const c = this.client;
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length };
    if (!c.enableSHA256) headers['Content-MD5'] = createHash('md5').update(body).digest('base64');
    const sha256 = c.enableSHA256 ? createHash('sha256').update(body).digest('hex') : '';
    const res = await c.makeRequestStreamAsync({ method: 'PUT', bucketName: this.bucket, objectName: key, headers }, body, sha256, [200], this.region);
    res.resume();
    await finished(res);
  }

  /** Destroys the connections with a request on them (the idle ones stay for the next request). */
  private cutRequests(): void {
    for (const sockets of Object.values(this.agent.sockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  async get(key: string): Promise<Buffer> {
    this.checkOpen();
    try {
      const stream = await this.client.getObject(this.bucket, key);
      const parts: Buffer[] = [];
      let length = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        parts.push(chunk);
        length += chunk.length;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
    } catch (err) {
      throw this.fail(err, 'get', key);
    }
  }

  async exists(key: string): Promise<boolean> {
    this.checkOpen();
    try {
      await this.client.statObject(this.bucket, key);
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (code && MISSING_KEY_CODES.has(code)) return false;
      throw this.fail(err, 'stat', key);
    }
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listSized(prefix)).map((o) => o.key);
  }

  async listSized(prefix: string): Promise<{ key: string; size: number }[]> {
    this.checkOpen();
    try {
      const objects: { key: string; size: number }[] = [];
      for await (const item of this.client.listObjectsV2(this.bucket, prefix, true) as AsyncIterable<{ name?: string; size?: number }>) {
        if (item.name !== undefined) objects.push({ key: item.name, size: Number(item.size ?? 0) });
      }
      return objects;
    } catch (err) {
      throw this.fail(err, 'list', prefix);
    }
  }

  private async removeOneByOne(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      try {
        await this.client.removeObject(this.bucket, key);
      } catch (err) {
        const code = errorCode(err);
        if (code && MISSING_KEY_CODES.has(code)) continue;
        throw this.fail(err, 'remove', key);
      }
    }
  }

  async remove(keys: readonly string[]): Promise<void> {
    this.checkOpen();
    if (keys.length === 0) return;
    let results;
    try {
      results = await this.client.removeObjects(this.bucket, [...keys]);
    } catch (err) {
      // A server error on a multi-object delete: deletes are idempotent, so do them one by one.
      if (/^Request failed after|Retryable HTTP status: 5/.test((err as Error)?.message ?? '') || errorCode(err) === 'InternalError') {
        return this.removeOneByOne(keys);
      }
      throw this.fail(err, 'remove');
    }
    const failed = (results ?? []).filter((r) => r?.Error && r.Error.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      const first = failed[0]!.Error!;
      throw new StoreError(`${this.description}: could not remove ${failed.length} object(s), e.g. '${first.Key ?? '?'}' (${first.Code ?? 'error'})`, {
        bucket: this.bucket,
        key: first.Key,
      });
    }
  }

  private notify(key: string): void {
    const set = this.waiters.get(key);
    if (set) for (const wake of [...set]) wake();
  }

  private subscribe(key: string, wake: () => void): () => void {
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
    };
  }

  /** Starts (once) MinIO's notification long-poll; an error drops it and the next wait restarts it. */
  private ensurePoller(): void {
    if (!this.useMinioNotifications || this.poller || this.closed) return;
    const poller = this.client.listenBucketNotification(this.bucket, '', '', ['s3:ObjectCreated:*']);
    this.poller = poller;
    poller.on('notification', (record: unknown) => {
      const key = (record as { s3?: { object?: { key?: unknown } } } | null)?.s3?.object?.key;
      if (typeof key === 'string') this.notify(decodeEventKey(key));
    });
    // Must stay attached even after stop(): a late socket error would otherwise be thrown.
    poller.on('error', () => {
      poller.stop();
      if (this.poller === poller) this.poller = undefined;
    });
  }

  waitFor(key: string, timeoutMs: number, signal?: AbortSignal, options: WaitOptions = {}): Promise<void> {
    try {
      this.checkOpen();
      signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    this.ensurePoller();
    const events = this.hasEvents;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let pollTimer: NodeJS.Timeout | undefined;
      const finish = (err?: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearTimeout(pollTimer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(finish);
        if (err === undefined) resolve();
        else reject(err);
      };
      // A poll in flight when the object's event arrives is let finish first: the caller's next
      // request (the fetch of the object) then goes out on the connection the poll holds instead
      // of dialling a new one, which over a link costs a round trip more than the poll's answer.
      let polling = false;
      let seen = false;
      // Subscribe first, then check: an object created in between is seen by one or the other.
      const unsubscribe = this.subscribe(key, () => {
        if (polling) seen = true;
        else finish();
      });
      const deadline = setTimeout(
        () => finish(new TimeoutError(`${this.description}: object '${key}' did not appear within ${timeoutMs} ms`, { what: key, timeoutMs })),
        Math.max(0, timeoutMs),
      );
      const onAbort = (): void => finish(signal!.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.add(finish);
      let delay = events ? SAFETY_POLL_START_MS : POLL_START_MS;
      const cap = events ? SAFETY_POLL_CAP_MS : POLL_CAP_MS;
      // An object created after the call is heard of by its event: a check sent now would only
      // hold the connection (over a link, a round trip) that the fetch after the event needs.
      const checkNow = !(events && options.createdAfter);
      const check = async (): Promise<void> => {
        if (done) return;
        let found: boolean;
        polling = true;
        try {
          found = await this.exists(key);
        } catch (err) {
          finish(seen ? undefined : err);
          return;
        } finally {
          polling = false;
        }
        if (found || seen) return finish();
        if (done) return;
        later();
      };
      const later = (): void => {
        pollTimer = setTimeout(() => void check(), delay);
        delay = Math.min(delay * 2, cap);
      };
      if (checkNow) void check();
      else later();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeHook?.();
    this.poller?.stop();
    this.poller = undefined;
    const closedError = new StoreError(`${this.description}: the store was closed while waiting`, { bucket: this.bucket });
    for (const finish of [...this.pending]) finish(closedError);
    this.agent.destroy();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The first request of opening a store, tried again while the store is unavailable (as
 * RetryingStore does for the requests after it) for up to `budgetMs`; `onWait` is told once.
 */
async function openingRetried<T>(call: () => Promise<T>, budgetMs: number, fail: (err: unknown) => StoreError, onWait?: (reason: string) => void): Promise<T> {
  const t0 = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const spent = performance.now() - t0;
      const failure = fail(err);
      if (!isTransientStoreFailure(err) || spent >= budgetMs) {
        if (attempt === 1) throw failure;
        throw new StoreError(`${failure.message}, for ${Math.round(spent / 1000)} s (--store_retry_s ${budgetMs / 1000})`, { cause: err });
      }
      if (attempt === 1) onWait?.(failure.message);
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, { ...DEFAULT_BACKOFF, budgetMs }, spent)));
    }
  }
}

/**
 * Opens a store over the minio client: checks that the endpoint answers (waiting for it within the
 * retry budget while it is unreachable or answers 5xx) and the credentials work, and creates the
 * bucket when it is missing (unless config.createBucket is false). Every failure is
 * a one-line StoreError naming the endpoint, never the keys.
 */
export async function openMinioStore(config: StoreConfig, options: MinioStoreOptions = {}): Promise<ObjectStore> {
  if (!config.endpoint) throw new StoreError('no object store endpoint given (set MINIO_ENDPOINT or --minio_endpoint)');
  const ep = parseEndpoint(config.endpoint, config.useSSL);
  // Without keys every request is anonymous, and a store refuses it with no reason given.
  const missing = [config.accessKey ? '' : 'MINIO_ACCESS_KEY', config.secretKey ? '' : 'MINIO_SECRET_KEY'].filter((k) => k);
  if (missing.length > 0) {
    throw new StoreError(`the object store at ${describeStore(ep.url, config.bucket)} needs keys: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set or empty (set ${missing.length > 1 ? 'them' : 'it'}, or ${missing.map((k) => `${k}_FILE`).join(' / ')} naming a file holding ${missing.length > 1 ? 'them' : 'it'})`);
  }
  const agent = storeAgent(ep.useSSL, ep.host, options.connectVia, config.requestIdleMs, options.linkBusy);
  let client: Client;
  try {
    client = new Client({
      endPoint: ep.host,
      ...(ep.port !== undefined ? { port: ep.port } : {}),
      useSSL: ep.useSSL,
      accessKey: config.accessKey ?? '',
      secretKey: config.secretKey ?? '',
      ...(config.region ? { region: config.region } : {}),
      pathStyle: true,
      partSize: PART_SIZE,
      transportAgent: agent,
      // Its own retry prints a line per request to stderr; RetryingStore retries instead, silently.
      retryOptions: { disableRetry: true },
    });
  } catch (err) {
    agent.destroy();
    throw new StoreError(`invalid object store endpoint ${ep.url} (${(err as Error).message.replace(/\s+/g, ' ')})`, { cause: err });
  }
  const secrets = [config.secretKey ?? '', config.accessKey ?? ''].filter((s) => s.length >= 3);
  const store = new MinioStore(client, agent, ep.url, secrets, config, options);
  const budgetMs = config.retryBudgetMs ?? DEFAULTS.storeRetryS * 1000;
  try {
    const timeoutMs = config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const noAnswer = (): Error => new StoreError(`cannot reach the object store at ${ep.url} (no answer within ${timeoutMs} ms)`);
    const exists = await openingRetried(() => withTimeout(client.bucketExists(config.bucket), timeoutMs, noAnswer), budgetMs, (err) => store.fail(err, 'open bucket'), options.onWait);
    if (!exists) {
      if (config.createBucket === false) {
        throw new StoreError(`${store.description}: the bucket does not exist (and creating it is turned off)`, { bucket: config.bucket });
      }
      try {
        await withTimeout(client.makeBucket(config.bucket, config.region || 'us-east-1'), timeoutMs, noAnswer);
      } catch (err) {
        const code = errorCode(err);
        // Another process may have created it meanwhile.
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw store.fail(err, 'create bucket');
      }
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return budgetMs > 0 ? new RetryingStore(store, { budgetMs }) : store;
}
