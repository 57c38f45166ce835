/**
 * The cloud side of a profile, measured where the cloud runs, through the same path as the
 * sweep's cycles: an input payload asking for a profile (payload.profile) goes into the store under
 * the backend's job keys, the backend is triggered (a job sent to the worker, a Kubernetes Job, an
 * OSCAR job), and the answer comes back as a result payload whose profile_json is the measurement
 * made by the cloud runner there (src/runner/cloud.ts), with that side's provider, threads and
 * graph optimisation. The edge checks the measurement before it is used.
 */
import type { CloudBackend, CloudJob } from '../backends/backend.js';
import { OnnxManagerError } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { storeKeys, type ObjectStore } from '../storage/store.js';
import { decodePayload, encodePayload } from '../tensor/payload/index.js';
import type { CodedTensor } from '../tensor/payload/types.js';
import { FIXED_COSTS } from './layer-profile.js';
import type { SideMeasurement, SideOptions } from './layer-profiler-side.js';
import { waitForResult } from './wait-result.js';

export class CloudProfileError extends OnnxManagerError {}

export interface CloudProfileRequest {
  store: ObjectStore;
  backend: CloudBackend;
  runId: string;
  /** sha256 of the model, already under models/<sha256>.onnx. */
  model: string;
  feeds: Record<string, HostTensor>;
  side: SideOptions;
  timeoutMs: number;
  /** Coded tensors the cloud times decoding there (codec-decode.ts), named CODEC_SAMPLE_PREFIX<i>. */
  codecSamples?: ReadonlyMap<string, CodedTensor>;
  /** Leave the request and its answer in the store. */
  keepObjects?: boolean;
}

/** The job's keys: the backend's (OSCAR: its service's paths), else input/<run>/profile/0.pb and output/... */
export function profileJob(backend: CloudBackend, runId: string): CloudJob {
  return backend.jobKeys?.(runId, 0, 'profile') ?? { inputKey: storeKeys.input(runId, 'profile', 0), outputKey: storeKeys.output(runId, 'profile', 0) };
}

/** Asks the cloud side for a profile of `model` and returns its measurement. */
export async function profileCloud(r: CloudProfileRequest): Promise<SideMeasurement> {
  const job = profileJob(r.backend, r.runId);
  const where = `the cloud side (--cloud ${r.backend.name})`;
  await r.store.put(
    job.inputKey,
    encodePayload({ kind: 'input', runId: r.runId, splitIndex: 0, rep: 0, nextModels: [r.model], timings: [], profile: { rep: r.side.rep, warmup: r.side.warmup }, tensors: new Map(Object.entries(r.feeds)), ...(r.codecSamples?.size ? { coded: new Map(r.codecSamples) } : {}), ...(r.backend.requestStoreRetryMs !== undefined ? { storeRetryMs: r.backend.requestStoreRetryMs } : {}) }),
  );
  try {
    await waitForResult(r, job);
    const answer = decodePayload(await r.store.get(job.outputKey), { file: job.outputKey });
    // As after a cycle: the backend learns the job is done (a Kubernetes Job is deleted, an OSCAR job noted for cleanup).
    await r.backend.jobInfo?.(job).catch(() => undefined);
    if (answer.error !== undefined) throw new CloudProfileError(`${where} could not profile the model: ${answer.error}`);
    if (answer.profileJson === undefined) throw new CloudProfileError(`${where} answered the profile request with a result, not a profile: is it an onnx-cloud older than this onnx-manager?`);
    return checkedMeasurement(answer.profileJson, `the profile from ${where} (${job.outputKey})`);
  } finally {
    if (!r.keepObjects) await r.store.remove([job.inputKey, job.outputKey]).catch(() => undefined);
  }
}

const isNumbers = (v: unknown, n?: number): v is number[] => Array.isArray(v) && (n === undefined || v.length === n) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Parses a measurement another process sent, refusing one that does not have its shape. */
export function checkedMeasurement(text: string, what: string): SideMeasurement {
  let m: Partial<Record<keyof SideMeasurement, unknown>>;
  try {
    m = JSON.parse(text) as typeof m;
  } catch (err) {
    throw new CloudProfileError(`${what} is not JSON: ${(err as Error).message}`);
  }
  const bad = (field: string) => new CloudProfileError(`${what} has no valid ${field}`);
  if (m === null || typeof m !== 'object') throw bad('measurement');
  if (!isNumbers(m.runMs) || m.runMs.length === 0) throw bad('runMs');
  const runs = m.runMs.length;
  if (!isNumbers(m.wallMs)) throw bad('wallMs');
  for (const f of ['feedBytes', 'fetchBytes', 'kernelScale', 'pid'] as const) if (typeof m[f] !== 'number' || !Number.isFinite(m[f])) throw bad(f);
  if (typeof m.host !== 'string') throw bad('host');
  const s = m.session as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || (s.threads !== undefined && !Number.isInteger(s.threads)) || (s.graphOpt !== undefined && typeof s.graphOpt !== 'string')) throw bad('session');
  const fixed = m.fixed as Record<string, unknown> | undefined;
  if (!fixed || typeof fixed !== 'object' || FIXED_COSTS.some((f) => !isNumbers(fixed[f]))) throw bad('fixed');
  if (!Array.isArray(m.kernels)) throw bad('kernels');
  for (const k of m.kernels as Record<string, unknown>[]) {
    const ok = k && typeof k.node === 'string' && typeof k.opType === 'string' && typeof k.shared === 'boolean' && Array.isArray(k.covers) && k.covers.every((c) => typeof c === 'string') && isNumbers(k.ms, runs);
    if (!ok) throw bad(`kernel ${JSON.stringify(String(k?.node)).slice(0, 80)}`);
  }
  if (m.codecDecode !== undefined && !(Array.isArray(m.codecDecode) && m.codecDecode.every((t) => t && typeof t.tensor === 'string' && isNumbers(t.ms)))) throw bad('codecDecode');
  return m as SideMeasurement;
}
