/**
 * A small S3 server over a folder (node:http, path-style URLs, SigV4 with one key pair), serving
 * what the minio client asks of the project's store: bucket exists/create/location, put, get,
 * stat, delete and multi-object delete of objects, and ListObjectsV2. Anything else (multipart
 * uploads, copies, ranges, tagging, notifications, presigned URLs...) is answered at once with
 * S3's NotImplemented error. An object is visible only once its file is complete (see
 * object-folder.ts), and 'created' listeners hear of it then, before its PUT is answered.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { listObjectsV2 } from './list-objects.js';
import { ObjectFolder, type ObjectInfo } from './object-folder.js';
import { S3Error, element, errorDocument, notImplemented, xmlDocument } from './s3-error.js';
import { signatureChecker, type Credentials } from './sigv4.js';

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
  /** Stops listening and ends every connection (of this and other processes). */
  close(): Promise<void>;
}

/** S3's single-PUT limit. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 3;
/** Request bodies that are not objects (bucket configuration, delete lists). */
const MAX_XML_BYTES = 1024 * 1024;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const XML = 'application/xml';

type Handler = (req: IncomingMessage, res: ServerResponse, payloadHash: string | undefined) => Promise<void>;

interface Route {
  /** The query parameters the route takes; one of them (a sub-resource) may select it. */
  params: readonly string[];
  handler: Handler;
}

function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error(400, 'InvalidURI', 'the path is not valid percent-encoding');
  }
}

function contentLength(req: IncomingMessage): number {
  const text = req.headers['content-length'];
  if (text === undefined) throw new S3Error(411, 'MissingContentLength', 'a body needs a Content-Length');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new S3Error(400, 'InvalidArgument', 'the Content-Length is not a number');
  return n;
}

async function readBody(req: IncomingMessage, payloadHash: string | undefined): Promise<Buffer> {
  const length = req.headers['content-length'] === undefined ? 0 : contentLength(req);
  if (length > MAX_XML_BYTES) throw new S3Error(400, 'MaxMessageLengthExceeded', `the request body is larger than ${MAX_XML_BYTES} bytes`);
  const parts: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) parts.push(chunk);
  const body = Buffer.concat(parts);
  if (body.length !== length) throw new S3Error(400, 'IncompleteBody', `the body has ${body.length} of its ${length} bytes`);
  if (payloadHash !== undefined && createHash('sha256').update(body).digest('hex') !== payloadHash) {
    throw new S3Error(400, 'XAmzContentSHA256Mismatch', 'the body does not match its x-amz-content-sha256');
  }
  return body;
}

function objectHeaders(object: ObjectInfo): http.OutgoingHttpHeaders {
  return {
    'content-length': object.size,
    'content-type': 'application/octet-stream',
    etag: object.etag,
    'last-modified': object.lastModified.toUTCString(),
  };
}

function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': XML, 'content-length': Buffer.byteLength(body) }).end(body);
}

function xmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (entity[0] !== '#') return named[entity.toLowerCase()]!;
    return String.fromCodePoint(entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : Number(entity.slice(1)));
  });
}

export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const credentials: Credentials = { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region ?? 'us-east-1' };
  const folder = await ObjectFolder.open(options.dir);
  const checkSignature = signatureChecker(credentials);
  const events = new EventEmitter();
  events.setMaxListeners(0);

  const bucketRoutes = (bucket: string): Record<string, Route> => ({
    HEAD: {
      params: [],
      handler: async (_req, res) => void res.writeHead((await folder.bucketExists(bucket)) ? 200 : 404).end(),
    },
    PUT: {
      params: [],
      handler: async (req, res, hash) => {
        await readBody(req, hash); // an optional CreateBucketConfiguration: any region is this server's
        if (!(await folder.createBucket(bucket))) throw new S3Error(409, 'BucketAlreadyOwnedByYou', `the bucket '${bucket}' already exists`);
        res.writeHead(200, { location: `/${bucket}`, 'content-length': 0 }).end();
      },
    },
    'GET?location': {
      params: ['location'],
      handler: async (_req, res) => {
        await folder.checkBucket(bucket);
        sendXml(res, 200, xmlDocument(`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${credentials.region}</LocationConstraint>`));
      },
    },
    'GET?list-type': {
      params: ['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after', 'encoding-type', 'fetch-owner'],
      handler: async (req, res) => {
        const params = new URL(req.url ?? '/', 'http://x').searchParams;
        if (params.get('list-type') !== '2') throw notImplemented(`list-type=${params.get('list-type')}`);
        sendXml(res, 200, await listObjectsV2(folder, bucket, params));
      },
    },
    'POST?delete': {
      params: ['delete'],
      handler: async (req, res, hash) => {
        const xml = (await readBody(req, hash)).toString();
        if (!/<Delete[\s>]/.test(xml)) throw new S3Error(400, 'MalformedXML', 'the body is not a <Delete> document');
        const keys = [...xml.matchAll(/<Object>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Object>/g)].map((m) => xmlText(m[1]!));
        if (keys.length > 1000) throw new S3Error(400, 'MalformedXML', 'a delete request names at most 1000 keys');
        await folder.checkBucket(bucket);
        await Promise.all(keys.map((key) => folder.remove(bucket, key)));
        const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(xml);
        const deleted = quiet ? '' : keys.map((k) => `<Deleted>${element('Key', k)}</Deleted>`).join('');
        sendXml(res, 200, xmlDocument(`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${deleted}</DeleteResult>`));
      },
    },
  });

  const objectRoutes = (bucket: string, key: string): Record<string, Route> => ({
    PUT: {
      params: [],
      handler: async (req, res, hash) => {
        if (req.headers['x-amz-copy-source'] !== undefined) throw notImplemented('copying objects');
        const length = contentLength(req);
        if (length > MAX_OBJECT_BYTES) throw new S3Error(400, 'EntityTooLarge', `an object in one PUT is at most ${MAX_OBJECT_BYTES} bytes`);
        const object = await folder.put(bucket, key, req, length, hash);
        events.emit('created', bucket, key);
        res.writeHead(200, { etag: object.etag, 'content-length': 0 }).end();
      },
    },
    GET: {
      params: [],
      handler: async (req, res) => {
        if (req.headers.range !== undefined) throw notImplemented('reading a byte range');
        const object = await folder.open(bucket, key);
        if (!object) throw new S3Error(404, 'NoSuchKey', 'the key does not exist');
        res.writeHead(200, objectHeaders(object));
        await pipeline(object.handle.createReadStream(), res);
      },
    },
    HEAD: {
      params: [],
      handler: async (_req, res) => {
        const object = await folder.stat(bucket, key);
        res.writeHead(object ? 200 : 404, object ? objectHeaders(object) : {}).end();
      },
    },
    DELETE: {
      params: [],
      handler: async (_req, res) => {
        await folder.checkBucket(bucket);
        await folder.remove(bucket, key);
        res.writeHead(204).end();
      },
    },
  });

  const route = (req: IncomingMessage): { route: Route; resource: string } => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const names = [...new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).keys()];
    const slash = path.indexOf('/', 1);
    const bucket = decodePath(slash < 0 ? path.slice(1) : path.slice(1, slash));
    const key = slash < 0 ? '' : decodePath(path.slice(slash + 1));
    const resource = path;
    if (!bucket) throw notImplemented('listing buckets');
    if (!BUCKET_NAME.test(bucket)) throw new S3Error(400, 'InvalidBucketName', 'a bucket name has 3-63 lowercase letters, digits, dots and hyphens');
    const routes = key ? objectRoutes(bucket, key) : bucketRoutes(bucket);
    const method = req.method ?? 'GET';
    const selected = routes[names.length > 0 ? `${method}?${names.find((n) => routes[`${method}?${n}`]) ?? names[0]}` : method];
    const unknown = selected ? names.filter((n) => !selected.params.includes(n)) : names;
    if (!selected || unknown.length > 0) {
      const what = unknown.length > 0 ? `${method} with ?${unknown.join('&')}` : method;
      throw notImplemented(`${what} on ${key ? 'an object' : 'a bucket'}`);
    }
    return { route: selected, resource };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let resource = req.url ?? '/';
    try {
      const { payloadHash } = checkSignature(req);
      const selected = route(req);
      resource = selected.resource;
      await selected.route.handler(req, res, payloadHash);
    } catch (err) {
      const s3 = err instanceof S3Error ? err : new S3Error(500, 'InternalError', (err as Error)?.message ?? String(err));
      if (res.headersSent) return void res.destroy();
      // An unread body is not worth reading: the client gets the answer and a fresh connection.
      if (!req.complete) res.setHeader('connection', 'close');
      if (req.method === 'HEAD') return void res.writeHead(s3.status, { 'x-amz-error-code': s3.code }).end();
      sendXml(res, s3.status, errorDocument(s3, resource));
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
