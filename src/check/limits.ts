/**
 * The limits a serverless platform puts on one function, as `check` compares split points with
 * them: the memory of the process running a part, the size of the part's files, and the request
 * and response payloads of one invocation. Built in: AWS Lambda; OSCAR's limits come from a
 * service (oscar-limits.ts); any other platform from a versioned JSON file checked on load.
 *
 * MB here is 2^20 bytes, as AWS and Kubernetes count them (Lambda's 10,240 MB are 10 GiB; its
 * "Unzipped size must be smaller than 262144000 bytes" is 250 x 2^20).
 */
import { readFailure, readRegularFile } from '../files.js';
import { UsageError } from '../errors.js';

export const MB = 2 ** 20;
export const LIMITS_VERSION = 1;

/** Which parts the limits hold: every part (each could be a function) or the cloud part only. */
export const CHECK_SIDES = ['both', 'cloud'] as const;
export type CheckSides = (typeof CHECK_SIDES)[number];

export type PayloadEncoding = 'raw' | 'base64';

export interface Limits {
  /** The platform's name, for the table. */
  platform: string;
  /** Where these limits come from (a document, a service, a file). */
  source: string;
  /** Peak memory of the process running one part (the runtime included), MB. */
  memory_mb?: number;
  /** A part's files (model plus external data), MB. */
  package_mb?: number;
  /** The input payload of one request, bytes (after `payload_encoding`). */
  payload_bytes?: number;
  /** The result payload of one response, bytes (after `payload_encoding`). */
  response_bytes?: number;
  /** How payloads travel: as they are, or base64 inside JSON (Lambda's Invoke takes JSON). */
  payload_encoding: PayloadEncoding;
}

/**
 * AWS Lambda (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): memory 128 to
 * 10,240 MB; 6 MB request and 6 MB response for a synchronous invocation (Invoke takes JSON, so a
 * binary payload travels base64-encoded); 250 MB unzipped deployment package, here the part's
 * files. The 512 MB default of /tmp (ephemeral storage) is not checked: parts are loaded from the
 * package or fetched into memory, and a part within 250 MB also fits /tmp.
 */
export const LAMBDA_LIMITS: Readonly<Limits> = Object.freeze({
  platform: 'AWS Lambda',
  source: 'AWS Lambda quotas: 10,240 MB memory, 6 MB synchronous request and response (base64 in JSON), 250 MB unzipped package',
  memory_mb: 10240,
  package_mb: 250,
  payload_bytes: 6 * MB,
  response_bytes: 6 * MB,
  payload_encoding: 'base64',
});

/** The limit fields of a limits file, with the unit each is in. */
const NUMBER_FIELDS = ['memory_mb', 'package_mb', 'payload_bytes', 'response_bytes'] as const;
const FIELDS = new Set<string>(['version', 'platform', 'payload_encoding', ...NUMBER_FIELDS]);

/** Bytes `n` take as they travel (base64: 4 characters per 3 bytes, padded). */
export function encodedBytes(n: number, encoding: PayloadEncoding): number {
  return encoding === 'base64' ? Math.ceil(n / 3) * 4 : n;
}

/**
 * A limits file: `{ "version": 1, "platform"?: text, "memory_mb"?, "package_mb"?, "payload_bytes"?,
 * "response_bytes"?: numbers >= 0, "payload_encoding"?: "raw" | "base64" }` with at least one limit.
 * Any other field, a wrong type or version is a UsageError naming the file and the field.
 */
export function parseLimits(text: string, file: string): Limits {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
  const bad = (field: string, what: string) => new UsageError(`${file}: ${field} ${what}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError(`${file}: a limits file is a JSON object with "version": ${LIMITS_VERSION}`);
  const o = doc as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw bad(`field "${unknown}"`, `is not a limit (known: ${[...FIELDS].join(', ')})`);
  if (o.version === undefined) throw bad('"version"', `is missing (this onnx-manager reads version ${LIMITS_VERSION})`);
  if (o.version !== LIMITS_VERSION) throw bad('"version"', `is ${JSON.stringify(o.version)}; this onnx-manager reads version ${LIMITS_VERSION}`);
  if (o.platform !== undefined && (typeof o.platform !== 'string' || !o.platform.trim())) throw bad('"platform"', 'must be a non-empty string');
  if (o.payload_encoding !== undefined && o.payload_encoding !== 'raw' && o.payload_encoding !== 'base64') {
    throw bad('"payload_encoding"', `must be "raw" or "base64", got ${JSON.stringify(o.payload_encoding)}`);
  }
  const limits: Limits = {
    platform: (o.platform as string | undefined)?.trim() ?? file,
    source: file,
    payload_encoding: (o.payload_encoding as PayloadEncoding | undefined) ?? 'raw',
  };
  for (const f of NUMBER_FIELDS) {
    const v = o[f];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`"${f}"`, `must be a number >= 0, got ${JSON.stringify(v)}`);
    limits[f] = v;
  }
  if (!NUMBER_FIELDS.some((f) => limits[f] !== undefined)) throw new UsageError(`${file}: names no limit (give at least one of ${NUMBER_FIELDS.join(', ')})`);
  return limits;
}

export async function readLimitsFile(file: string): Promise<Limits> {
  let text: string;
  try {
    text = (await readRegularFile(file)).toString('utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read the limits file (${readFailure(err)})`, { cause: err, file });
  }
  return parseLimits(text, file);
}

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE]([0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const SUFFIX: Readonly<Record<string, number>> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/**
 * A Kubernetes memory quantity (OSCAR's `memory`: "256Mi", "1Gi", "1.5G", "128974848", "129e6")
 * in MB (2^20 bytes); `what` names it in the error.
 */
export function memoryQuantityMb(q: string, what: string): number {
  const m = QUANTITY.exec(q.trim());
  if (!m) throw new UsageError(`${what} '${q}' is not a memory quantity (e.g. 512Mi, 2Gi, 1G, 1073741824)`);
  const bytes = Number(m[1]) * 10 ** Number(m[2] ?? 0) * (m[3] ? SUFFIX[m[3]]! : 1);
  if (!(bytes > 0) || !Number.isFinite(bytes)) throw new UsageError(`${what} '${q}' is not a positive memory quantity`);
  return bytes / MB;
}
