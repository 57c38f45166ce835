/**
 * AWS Signature Version 4 in the Authorization header, checked against the one access key and
 * secret key the server was started with: the request's signature is computed again from its
 * method, path, query, signed headers and declared payload hash. The payload hash itself is
 * returned for the handler to compare with the body it reads. Presigned URLs and chunked
 * (streaming) signatures are refused as not implemented.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3Error, notImplemented } from './s3-error.js';

export interface Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{8})T\d{6}Z$/;
const MAX_SKEW_MS = 15 * 60 * 1000;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const denied = (message: string): S3Error => new S3Error(403, 'SignatureDoesNotMatch', message);

/** RFC 3986 percent-encoding of everything but the unreserved characters. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(rawQuery: string): string {
  const pairs = rawQuery
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf('=');
      try {
        return [uriEncode(decodeURIComponent(eq < 0 ? p : p.slice(0, eq))), uriEncode(decodeURIComponent(eq < 0 ? '' : p.slice(eq + 1)))] as const;
      } catch {
        throw new S3Error(400, 'InvalidArgument', 'the query string is not valid percent-encoding');
      }
    });
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  if (value === undefined) throw denied(`the signed header '${name}' is missing`);
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text).digest();

/** The checker for one key pair; signing keys are derived once per day. */
export function signatureChecker(credentials: Credentials): (req: IncomingMessage) => { payloadHash?: string } {
  const signingKeys = new Map<string, Buffer>();
  const signingKey = (day: string): Buffer => {
    let key = signingKeys.get(day);
    if (!key) {
      key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretKey}`, day), credentials.region), 's3'), 'aws4_request');
      if (signingKeys.size > 4) signingKeys.clear();
      signingKeys.set(day, key);
    }
    return key;
  };
  return (req) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (/(^|&)X-Amz-Signature=/i.test(query)) throw notImplemented('query-string (presigned) authentication');
    const authorization = req.headers.authorization;
    if (!authorization) throw new S3Error(403, 'AccessDenied', 'anonymous requests are not allowed');
    const match = AUTHORIZATION.exec(authorization);
    if (!match) throw new S3Error(400, 'AuthorizationHeaderMalformed', 'the Authorization header is not AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature');
    const [, credential, signedHeaders, signature] = match as unknown as [string, string, string, string];
    const [accessKey, day, region, service, terminator, ...rest] = credential.split('/');
    if (service !== 's3' || terminator !== 'aws4_request' || rest.length > 0 || !day) {
      throw new S3Error(400, 'AuthorizationHeaderMalformed', 'the credential scope is not <key>/<date>/<region>/s3/aws4_request');
    }
    if (accessKey !== credentials.accessKey) throw new S3Error(403, 'InvalidAccessKeyId', 'the access key is not known to this server');
    if (region !== credentials.region) {
      throw new S3Error(400, 'AuthorizationHeaderMalformed', `the region '${region}' is wrong; expecting '${credentials.region}'`);
    }
    const amzDate = typeof req.headers['x-amz-date'] === 'string' ? req.headers['x-amz-date'] : '';
    const dateMatch = AMZ_DATE.exec(amzDate);
    if (!dateMatch || dateMatch[1] !== day) throw new S3Error(400, 'AuthorizationHeaderMalformed', 'x-amz-date is missing or does not match the credential date');
    const at = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
    if (Math.abs(Date.now() - at) > MAX_SKEW_MS) throw new S3Error(403, 'RequestTimeTooSkewed', 'the request time differs from the server time by more than 15 minutes');
    const payload = typeof req.headers['x-amz-content-sha256'] === 'string' ? req.headers['x-amz-content-sha256'] : '';
    if (payload.startsWith('STREAMING-')) throw notImplemented(`the ${payload} payload signature`);
    if (payload !== 'UNSIGNED-PAYLOAD' && !SHA256_HEX.test(payload)) {
      throw new S3Error(400, 'InvalidArgument', 'x-amz-content-sha256 must be the payload SHA-256 in hex or UNSIGNED-PAYLOAD');
    }
    const names = signedHeaders.split(';');
    if (!names.includes('host')) throw denied("the signed headers must include 'host'");
    const canonicalRequest = [
      req.method ?? 'GET',
      path,
      canonicalQuery(query),
      names.map((name) => `${name}:${headerValue(req, name)}\n`).join(''),
      signedHeaders,
      payload,
    ].join('\n');
    const scope = `${day}/${region}/s3/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const expected = createHmac('sha256', signingKey(day)).update(stringToSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
      throw denied('the request signature does not match the one computed with the secret key');
    }
    return payload === 'UNSIGNED-PAYLOAD' ? {} : { payloadHash: payload };
  };
}
