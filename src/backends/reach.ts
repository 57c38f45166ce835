/**
 * Whether the cloud side can reach the store: the embedded store listens on 127.0.0.1 of this
 * machine, and a loopback endpoint means the cloud's own loopback, not this machine's.
 */
import { UsageError } from '../errors.js';
import { isLoopbackHost } from '../net.js';
import { parseEndpoint } from '../storage/store.js';
import type { BackendContext } from './backend.js';

export interface ReachCheck {
  /** Who must reach the store, for messages: 'the pods of the cluster at https://...'. */
  who: string;
  /** False when the cloud side runs on this machine (then anything is reachable). */
  remote: boolean;
  /** What else to say after 'give --minio_endpoint ...' for the embedded store. */
  hint?: string;
  /** A loopback endpoint: refused with `loopbackHint`, or a warning (unset: the cloud side has its own endpoint). */
  loopback?: 'refuse' | 'warn';
  loopbackHint?: string;
}

/** The host of an endpoint given as a URL or host[:port] (undefined when it does not parse). */
export function endpointHost(endpoint: string): string | undefined {
  try {
    return parseEndpoint(endpoint).host;
  } catch {
    return undefined;
  }
}

/** Refuses (or warns about) a store the cloud side cannot reach. */
export function checkStoreReach(ctx: Pick<BackendContext, 'embeddedStore' | 'storeAccess' | 'warn'>, c: ReachCheck): void {
  if (!c.remote) return;
  if (ctx.embeddedStore) {
    throw new UsageError(
      `${c.who} cannot reach the embedded store (${ctx.storeAccess.endpoint}, an embedded server on 127.0.0.1 of this machine); ` +
        `give --minio_endpoint (or MINIO_ENDPOINT) of a store both sides reach, keys in MINIO_ACCESS_KEY and MINIO_SECRET_KEY${c.hint ? `; ${c.hint}` : ''}`,
    );
  }
  if (!c.loopback) return;
  const endpoint = ctx.storeAccess.endpoint;
  const host = endpointHost(endpoint);
  if (!host || !isLoopbackHost(host)) return;
  const line = `the store endpoint ${endpoint} is a loopback address, which ${c.who} cannot reach`;
  if (c.loopback === 'refuse') throw new UsageError(`${line}${c.loopbackHint ? `; ${c.loopbackHint}` : ''}`);
  ctx.warn(`${line} (it reaches its own loopback, not this machine's)`);
}
