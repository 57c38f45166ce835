/**
 * The cloud side's part of a run configuration, and its one encoding on the wire: a versioned
 * JSON text given to every cloud process as `--cloud_config <json>` (the local worker, onnx-cloud
 * over SSH, in a Kubernetes Job or worker pod, and in an OSCAR job, whose script passes the
 * service's ONNX_MANAGER_CLOUD_CONFIG variable). It holds no secret: the store's endpoint and keys
 * stay in the environment, a Secret or the SSH channel.
 */
import { UsageError } from '../errors.js';
import { EXEC_TYPES, type ProviderChoice } from '../runtime/providers.js';
import type { GraphOptimizationLevel, SessionOptions } from '../runtime/session.js';
import { GRAPH_OPT_LEVELS } from './defaults.js';

/** The flag that carries the encoded configuration to a cloud process. */
export const CLOUD_CONFIG_FLAG = 'cloud_config';
/** The OSCAR service variable holding the encoded configuration (read by cloud/oscar/script.sh). */
export const CLOUD_CONFIG_VARIABLE = 'ONNX_MANAGER_CLOUD_CONFIG';
export const CLOUD_CONFIG_VERSION = 1;

/** What a cloud process needs to know of the run (besides the store's endpoint and keys). */
export interface CloudConfig {
  /** Execution provider of the cloud sessions. */
  provider: ProviderChoice;
  graphOptimizationLevel: GraphOptimizationLevel;
  /** Intra-op threads of the cloud sessions (undefined: onnxruntime's choice). */
  threads?: number;
  /** false: idle onnxruntime threads sleep (session.intra_op/inter_op.allow_spinning = 0); undefined: onnxruntime's default (they spin). */
  spinning?: boolean;
  /** The bucket of parts, payloads and results. */
  bucket: string;
  region?: string;
  /** Seconds the store may stay unavailable while the cloud process's requests retry (--store_retry_s; undefined: the default). */
  storeRetryS?: number;
}

const FIELDS = ['v', 'provider', 'graphOptimizationLevel', 'threads', 'spinning', 'bucket', 'region', 'storeRetryS'] as const;
const PROVIDERS = new Set(Object.values(EXEC_TYPES));

function bad(source: string, field: string, why: string): UsageError {
  return new UsageError(`${source}: field '${field}' ${why}`);
}

function checkText(v: unknown, source: string, field: string): string {
  if (typeof v !== 'string' || v === '' || /[\u0000-\u001f]/.test(v)) throw bad(source, field, `must be a non-empty string without control characters, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a configuration (from the wire or from a caller); throws a UsageError naming the bad field. */
export function checkCloudConfig(c: unknown, source = `--${CLOUD_CONFIG_FLAG}`): CloudConfig {
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw new UsageError(`${source}: not a JSON object`);
  const o = c as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(k)) throw bad(source, k, `is not a field of version ${CLOUD_CONFIG_VERSION} (fields: ${FIELDS.join(', ')})`);
  const p = o.provider as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw bad(source, 'provider', 'must be an object {name, deviceId?}');
  for (const k of Object.keys(p)) if (k !== 'name' && k !== 'deviceId') throw bad(source, `provider.${k}`, 'is not a field (name, deviceId)');
  if (typeof p.name !== 'string' || !PROVIDERS.has(p.name)) throw bad(source, 'provider.name', `must be one of ${[...PROVIDERS].join(', ')}, got ${JSON.stringify(p.name)}`);
  const provider: ProviderChoice = { name: p.name };
  if (p.deviceId !== undefined) {
    if (!Number.isInteger(p.deviceId) || (p.deviceId as number) < 0) throw bad(source, 'provider.deviceId', `must be an integer >= 0, got ${JSON.stringify(p.deviceId)}`);
    provider.deviceId = p.deviceId as number;
  }
  const level = o.graphOptimizationLevel;
  if (!(GRAPH_OPT_LEVELS as readonly unknown[]).includes(level)) throw bad(source, 'graphOptimizationLevel', `must be one of ${GRAPH_OPT_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  const out: CloudConfig = { provider, graphOptimizationLevel: level as GraphOptimizationLevel, bucket: checkText(o.bucket, source, 'bucket') };
  if (o.threads !== undefined) {
    if (!Number.isInteger(o.threads) || (o.threads as number) < 1) throw bad(source, 'threads', `must be an integer >= 1, got ${JSON.stringify(o.threads)}`);
    out.threads = o.threads as number;
  }
  if (o.spinning !== undefined) {
    if (typeof o.spinning !== 'boolean') throw bad(source, 'spinning', `must be true or false, got ${JSON.stringify(o.spinning)}`);
    out.spinning = o.spinning;
  }
  if (o.region !== undefined) out.region = checkText(o.region, source, 'region');
  if (o.storeRetryS !== undefined) {
    if (typeof o.storeRetryS !== 'number' || !Number.isFinite(o.storeRetryS) || o.storeRetryS < 0) throw bad(source, 'storeRetryS', `must be a number of seconds, 0 or more, got ${JSON.stringify(o.storeRetryS)}`);
    out.storeRetryS = o.storeRetryS;
  }
  return out;
}

/** The configuration as the text a cloud process takes (fields in a fixed order). */
export function encodeCloudConfig(c: CloudConfig): string {
  const k = checkCloudConfig(c, 'the cloud configuration');
  const provider = k.provider.deviceId === undefined ? { name: k.provider.name } : { name: k.provider.name, deviceId: k.provider.deviceId };
  return JSON.stringify({
    v: CLOUD_CONFIG_VERSION,
    provider,
    graphOptimizationLevel: k.graphOptimizationLevel,
    ...(k.threads !== undefined ? { threads: k.threads } : {}),
    ...(k.spinning !== undefined ? { spinning: k.spinning } : {}),
    bucket: k.bucket,
    ...(k.region !== undefined ? { region: k.region } : {}),
    ...(k.storeRetryS !== undefined ? { storeRetryS: k.storeRetryS } : {}),
  });
}

/** Decodes and checks the text of `--cloud_config`; a UsageError names the bad field. */
export function decodeCloudConfig(text: string, source = `--${CLOUD_CONFIG_FLAG}`): CloudConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${source}: not JSON (${String(text).slice(0, 60)})`);
  }
  const v = (parsed as { v?: unknown } | null)?.v;
  if (v !== CLOUD_CONFIG_VERSION) throw bad(source, 'v', `must be ${CLOUD_CONFIG_VERSION} (the version this onnx-cloud reads), got ${JSON.stringify(v)}`);
  return checkCloudConfig(parsed, source);
}

/** The arguments that hand the configuration to onnx-cloud (or the local worker). */
export function cloudConfigArgs(c: CloudConfig): string[] {
  return [`--${CLOUD_CONFIG_FLAG}`, encodeCloudConfig(c)];
}

/** The session options of the cloud side's sessions. */
export function cloudSessionOptions(c: CloudConfig): SessionOptions {
  return {
    executionProviders: [c.provider],
    graphOptimizationLevel: c.graphOptimizationLevel,
    ...(c.threads ? { intraOpNumThreads: c.threads } : {}),
    ...(c.spinning === false ? { allowSpinning: false } : {}),
  };
}

/** The fields in which two configurations differ ('provider', 'threads', ...). */
export function cloudConfigDifferences(a: CloudConfig, b: CloudConfig): string[] {
  const x = JSON.parse(encodeCloudConfig(a)) as Record<string, unknown>;
  const y = JSON.parse(encodeCloudConfig(b)) as Record<string, unknown>;
  return FIELDS.filter((f) => JSON.stringify(x[f]) !== JSON.stringify(y[f]));
}
