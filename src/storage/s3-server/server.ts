/**
 * A small S3 server over a folder (node:http, path-style URLs, SigV4 with one key pair), serving
 * what the minio client asks of the project's store: bucket exists/create/location, put, get,
 * stat, delete and multi-object delete of objects, and ListObjectsV2 (bucket-routes.ts,
 * object-routes.ts). Anything else (multipart uploads, copies, ranges, tagging, notifications,
 * presigned URLs...) is answered at once with S3's NotImplemented error. An object is visible
 * only once its file is complete (object-folder.ts), and 'created' listeners hear of it then,
 * before its PUT is answered.
 */
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bucketRoutes } from './bucket-routes.js';
import { ObjectFolder } from './object-folder.js';
import { objectRoutes } from './object-routes.js';
import { sendXml, type Route } from './routes.js';
import { S3Error, notImplemented } from './s3-error.js';
import { signatureChecker } from './sigv4.js';
import { errorDocument } from './xml.js';

export interface S3ServerOptions {
  /** The folder holding the buckets (created beforehand). */
  dir: string;
  accessKey: string;
  secretKey: string;
  /** Default 'us-east-1'. */
  region?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface S3Server {
  /** `http://<host>:<port>` */
  endpoint: string;
  port: number;
  /** Calls `listener` for every object created (its file complete); returns the unsubscribe function. */
  onObjectCreated(listener: (bucket: string, key: string) => void): () => void;
  /** Creates the bucket unless it exists, as a client's create-bucket request would (its name checked the same way). */
  createBucket(bucket: string): Promise<void>;
  /** Stops listening and ends every connection (of this and other processes). Idempotent. */
  close(): Promise<void>;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error(400, 'InvalidURI', 'the path is not valid percent-encoding');
  }
}

export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const region = options.region ?? 'us-east-1';
  const folder = await ObjectFolder.open(options.dir);
  const checkSignature = signatureChecker({ accessKey: options.accessKey, secretKey: options.secretKey, region });
  const events = new EventEmitter();
  events.setMaxListeners(0);

  /** The route of a request: `/<bucket>` or `/<bucket>/<key>`, by method and sub-resource; no other parameter. */
  const route = (req: IncomingMessage, path: string, query: string): Route => {
    const slash = path.indexOf('/', 1);
    const bucket = decodePath(slash < 0 ? path.slice(1) : path.slice(1, slash));
    const key = slash < 0 ? '' : decodePath(path.slice(slash + 1));
    if (!bucket) throw notImplemented('listing buckets');
    if (!BUCKET_NAME.test(bucket)) throw new S3Error(400, 'InvalidBucketName', 'a bucket name has 3-63 lowercase letters, digits, dots and hyphens');
    const routes = key ? objectRoutes(folder, events, bucket, key) : bucketRoutes(folder, bucket, region);
    const method = req.method ?? 'GET';
    const names = [...new URLSearchParams(query).keys()];
    const sub = names.find((n) => routes[`${method}?${n}`]);
    const selected = routes[sub !== undefined ? `${method}?${sub}` : method];
    const unknown = selected ? names.filter((n) => !selected.params.includes(n)) : names;
    if (!selected || unknown.length > 0) {
      throw notImplemented(`${unknown.length > 0 ? `${method} with ?${unknown.join('&')}` : method} on ${key ? 'an object' : 'a bucket'}`);
    }
    return selected;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    try {
      const { payloadHash } = checkSignature(req);
      await route(req, path, q < 0 ? '' : url.slice(q + 1)).handler(req, res, payloadHash);
    } catch (err) {
      const s3 = err instanceof S3Error ? err : new S3Error(500, 'InternalError', (err as Error)?.message ?? String(err));
      if (res.headersSent) return void res.destroy();
      // An unread body is not worth reading: the client gets the answer and a fresh connection.
      if (!req.complete) res.setHeader('connection', 'close');
      if (req.method === 'HEAD') return void res.writeHead(s3.status, { 'content-length': 0 }).end();
      sendXml(res, s3.status, errorDocument(s3, path));
    }
  };

  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => void handle(req, res));
  server.on('clientError', (_err, socket) => socket.destroy());
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    onObjectCreated(listener) {
      events.on('created', listener);
      return () => void events.off('created', listener);
    },
    async createBucket(bucket) {
      if (!BUCKET_NAME.test(bucket)) throw new S3Error(400, 'InvalidBucketName', `'${bucket}' is not a bucket name: a bucket name has 3-63 lowercase letters, digits, dots and hyphens`);
      await folder.createBucket(bucket);
    },
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        events.removeAllListeners();
        await folder.close();
      })()),
  };
}
