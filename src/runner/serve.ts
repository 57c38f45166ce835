/**
 * The cloud worker loop: JSON lines in (prepare a part, run a job, stop), JSON lines out. The same
 * loop serves the local worker process (over its stdio) and a remote onnx-cloud --serve (over an
 * SSH channel). Jobs name objects in the store; results go back to the store.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { encodeCloudConfig, type CloudConfig } from '../config/cloud-config.js';
import type { ObjectStore } from '../storage/store.js';
import { storeKeys } from '../storage/store.js';
import { decodePayload, encodePayload } from '../tensor/payload/index.js';
import { CloudRunner, errorPayload } from './cloud.js';
import { messageLine } from '../errors.js';

export type WorkerRequest =
  | { type: 'prepare'; id: number; models: string[]; /** Load them cold even when warm (a load that overlapped an outage is timed again). */ fresh?: boolean }
  | { type: 'job'; id: number; inputKey: string; outputKey: string }
  | { type: 'stop' };

export type WorkerReply =
  | {
      type: 'ready';
      /** The cloud configuration the worker runs with, encoded as --cloud_config takes it. */
      config?: string;
      /** The worker's process id on its own host, so that a worker that stops answering can be ended there. */
      pid?: number;
    }
  | { type: 'prepared'; id: number; loadMs: number; /** Store retries during the load (absent: none). */ storeRetries?: number }
  /** Sent whenever the worker's store becomes unavailable and when it is back, between the other lines. */
  | { type: 'store'; kind: 'down'; reason: string }
  | { type: 'store'; kind: 'up'; downMs: number }
  | { type: 'failed'; id: number; error: string }
  | { type: 'done'; id: number; uploadMs?: number; /** Store retries during the job (absent: none). */ storeRetries?: number };

/** Parses input/<run>/<split>/<rep>.pb so a failure can still be reported under the right names. */
function idsFromKey(key: string): { runId: string; splitIndex: number; rep: number } {
  const parts = key.replace(/\.pb$/, '').split('/');
  const [runId = '', split = '0', rep = '0'] = parts.slice(-3);
  return { runId: /^[\w.-]+$/.test(runId) ? runId : '', splitIndex: Number(split) || 0, rep: Number(rep) || 0 };
}

/** What a job tells the edge besides its result: the time to put the result, and the store's retries during the job. */
export interface JobReport {
  uploadMs?: number;
  storeRetries: number;
}

/**
 * Runs one job: fetch the payload, run the parts, put the result (an error payload on failure).
 * Retries of the store while it was unavailable are counted: in the result as the timing
 * `cloud_store_retries` (fetching the payload, loading a part), and in the report (the put too),
 * so that the edge runs a cycle whose timings hold an outage again.
 */
export async function runJob(store: ObjectStore, runner: CloudRunner, inputKey: string, outputKey: string): Promise<JobReport> {
  const retriesAt = store.outages?.retries ?? 0;
  const retries = (): number => (store.outages?.retries ?? 0) - retriesAt;
  try {
    const t0 = performance.now();
    const bytes = await store.get(inputKey);
    const t1 = performance.now();
    const input = decodePayload(bytes, { file: inputKey });
    const t2 = performance.now();
    const result = await runner.process(input, { downloadMs: t1 - t0, decodeMs: t2 - t1 });
    if (retries() > 0) result.timings.push({ name: 'cloud_store_retries', ms: retries() });
    // Encoding only lists views of the tensors; it is timed once and repeated with its own time included.
    const t3 = performance.now();
    encodePayload(result);
    result.timings.push({ name: 'cloud_encode_ms', ms: performance.now() - t3 });
    const chunks = encodePayload(result);
    const t4 = performance.now();
    await store.put(outputKey, chunks);
    return { uploadMs: performance.now() - t4, storeRetries: retries() };
  } catch (err) {
    await store.put(outputKey, encodePayload(errorPayload(idsFromKey(inputKey), err))).catch(() => undefined);
    return { storeRetries: retries() };
  }
}

/** Serves requests until 'stop' or the end of the input; one at a time, in order. 'ready' names the configuration the worker runs with. */
export async function serveJobs(input: Readable, output: Writable, store: ObjectStore, runner: CloudRunner, config?: CloudConfig): Promise<void> {
  const send = (m: WorkerReply) => output.write(`${JSON.stringify(m)}\n`);
  send(config ? { type: 'ready', config: encodeCloudConfig(config), pid: process.pid } : { type: 'ready', pid: process.pid });
  // The edge hears at once that the store is gone (its sweep pauses and says so), not at the answer.
  const unwatch = store.outages?.on((e) => {
    if (e.kind === 'down') send({ type: 'store', kind: 'down', reason: e.reason });
    else if (e.kind === 'up') send({ type: 'store', kind: 'up', downMs: e.downMs });
  });
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let m: WorkerRequest;
    try {
      m = JSON.parse(line) as WorkerRequest;
    } catch {
      continue;
    }
    if (m.type === 'stop') break;
    if (m.type === 'prepare') {
      try {
        const retriesAt = store.outages?.retries ?? 0;
        let loadMs = 0;
        for (const sha of m.models) {
          if (m.fresh) await runner.unload(sha);
          loadMs += (await runner.load(sha)).loadMs;
        }
        const storeRetries = (store.outages?.retries ?? 0) - retriesAt;
        send({ type: 'prepared', id: m.id, loadMs, ...(storeRetries > 0 ? { storeRetries } : {}) });
      } catch (err) {
        send({ type: 'failed', id: m.id, error: messageLine(err) });
      }
    } else if (m.type === 'job') {
      const { uploadMs, storeRetries } = await runJob(store, runner, m.inputKey, m.outputKey);
      send({ type: 'done', id: m.id, ...(uploadMs !== undefined ? { uploadMs } : {}), ...(storeRetries > 0 ? { storeRetries } : {}) });
    }
  }
  lines.close();
  unwatch?.();
}

/** A runner whose parts come from the store under models/<sha256>.onnx. */
export function storeModelSource(store: ObjectStore): { get(sha: string): Promise<Uint8Array> } {
  return { get: (sha) => store.get(storeKeys.model(sha)) };
}
