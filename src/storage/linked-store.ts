/**
 * The edge's store over an emulated link: a shaping proxy on loopback in front of the store's own
 * endpoint (the embedded server, a MinIO, any S3), and a store client whose connections are dialled
 * to the proxy. Requests still name the store's endpoint (Host header, SigV4 signature, TLS server
 * name and certificate check), so any S3 server, over http or https, sees the edge as if it
 * connected directly. The cloud side keeps reaching the store directly.
 *
 * A request is given up as idle (requestIdleMs) only once nothing is left crossing the link.
 *
 * The embedded server's in-process "object created" events reach the edge's waits rtt/2 late, as
 * a notification sent over the link would.
 */
import { openMinioStore, type MinioStoreOptions } from './minio-store.js';
import { startShapingProxy, type LinkShape, type ShapingProxy } from './shaping-proxy.js';
import { parseEndpoint, type ObjectStore, type StoreConfig } from './store.js';

export interface LinkedStore {
  store: ObjectStore;
  proxy: ShapingProxy;
  /** Closes the store and stops the proxy. Idempotent. */
  stop(): Promise<void>;
}

export interface LinkedStoreTarget {
  /** The store's own endpoint, `http(s)://host[:port]` or `host:port`. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** In-process "object created" events of the store (the embedded server), delivered rtt/2 late. */
  onObjectCreated?: (listener: (key: string) => void) => () => void;
  /** Names the kind of server in the store's description, e.g. 'embedded'. */
  label?: string;
}

export async function openLinkedStore(target: LinkedStoreTarget, config: StoreConfig, link: LinkShape): Promise<LinkedStore> {
  const ep = parseEndpoint(target.endpoint, config.useSSL);
  const proxy = await startShapingProxy({ ...link, target: { host: ep.host, port: ep.port ?? (ep.useSSL ? 443 : 80) } });
  // A request whose bytes wait in the proxy is not idle: on a slow link they take longer than the idle limit.
  const options: MinioStoreOptions = { connectVia: { host: proxy.host, port: proxy.port }, linkBusy: () => proxy.queued > 0 };
  if (target.label) options.label = target.label;
  const events = target.onObjectCreated;
  if (events) {
    options.onObjectCreated = (listener) =>
      events((key) => {
        setTimeout(() => listener(key), link.rttMs / 2);
      });
  }
  let store: ObjectStore;
  try {
    store = await openMinioStore({ ...config, endpoint: ep.url, useSSL: ep.useSSL, accessKey: target.accessKey, secretKey: target.secretKey }, options);
  } catch (err) {
    await proxy.stop();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    store,
    proxy,
    stop: () =>
      (stopping ??= (async () => {
        await store.close();
        await proxy.stop();
      })()),
  };
}
