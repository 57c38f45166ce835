/** What a route of the embedded S3 server is, and the request-body helpers the routes share. */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from './s3-error.js';

/** Handles one request whose signature is checked; `payloadHash` is the SHA-256 the body must have. */
export type Handler = (req: IncomingMessage, res: ServerResponse, payloadHash: string | undefined) => Promise<void>;

export interface Route {
  /** The query parameters the route takes; a sub-resource among them may select it (`'GET?location'`). */
  params: readonly string[];
  handler: Handler;
}

/** Routes by method, or by `METHOD?sub-resource`. */
export type Routes = Record<string, Route>;

/** Request bodies that are not objects (bucket configuration, delete lists). */
const MAX_XML_BYTES = 1024 * 1024;

export function contentLength(req: IncomingMessage): number {
  const text = req.headers['content-length'];
  if (text === undefined) throw new S3Error(411, 'MissingContentLength', 'a body needs a Content-Length');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new S3Error(400, 'InvalidArgument', 'the Content-Length is not a number');
  return n;
}

/** A small body, whole, checked against its declared length and hash. */
export async function readBody(req: IncomingMessage, payloadHash: string | undefined): Promise<Buffer> {
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

export function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
}
