/**
 * The local cloud worker: a long-lived process started by onnx-manager's local backend. It is
 * told about each payload by an IPC message naming the object, runs the remaining parts with
 * warm sessions, and puts the result in the store. Store coordinates come from its environment.
 */
import { performance } from 'node:perf_hooks';
import { createSession } from '../src/runtime/ort.js';
import type { GraphOptimizationLevel } from '../src/runtime/session.js';
import { CloudRunner, errorPayload } from '../src/runner/cloud.js';
import { openMinioStore } from '../src/storage/minio-store.js';
import { storeConfigFromEnv, storeKeys } from '../src/storage/store.js';
import { decodePayload, encodePayload } from '../src/tensor/payload.js';

type Message =
  | { type: 'prepare'; id: number; models: string[] }
  | { type: 'job'; id: number; inputKey: string; outputKey: string }
  | { type: 'stop' };

const send = (m: Record<string, unknown>) => process.send?.(m);

const config = storeConfigFromEnv({ minio_bucket: process.env.ONNX_MANAGER_BUCKET ?? '' });
const store = await openMinioStore({ ...config, createBucket: false });
const provider = JSON.parse(process.env.ONNX_MANAGER_PROVIDER ?? '{"name":"cpu"}') as { name: string; deviceId?: number };
const runner = new CloudRunner({ get: (sha) => store.get(storeKeys.model(sha)) }, createSession, {
  session: { executionProviders: [provider], graphOptimizationLevel: (process.env.ONNX_MANAGER_OPT_LEVEL ?? 'all') as GraphOptimizationLevel },
});

/** Parses input/<run>/<split>/<rep>.pb so a failure can still be reported under the right names. */
function idsFromKey(key: string): { runId: string; splitIndex: number; rep: number } {
  const [, runId = '', split = '0', rep = '0'] = key.replace(/\.pb$/, '').split('/');
  return { runId, splitIndex: Number(split) || 0, rep: Number(rep) || 0 };
}

async function handleJob(m: Extract<Message, { type: 'job' }>): Promise<void> {
  try {
    const t0 = performance.now();
    const bytes = await store.get(m.inputKey);
    const t1 = performance.now();
    const input = decodePayload(bytes, { file: m.inputKey });
    const t2 = performance.now();
    const result = await runner.process(input, { downloadMs: t1 - t0, decodeMs: t2 - t1 });
    // Encoding only lists views of the tensors; it is timed once and repeated with its own time included.
    const t3 = performance.now();
    encodePayload(result);
    result.timings.push({ name: 'cloud_encode_ms', ms: performance.now() - t3 });
    await store.put(m.outputKey, encodePayload(result));
  } catch (err) {
    await store.put(m.outputKey, encodePayload(errorPayload(idsFromKey(m.inputKey), err))).catch(() => undefined);
  }
}

let queue: Promise<void> = Promise.resolve();
process.on('message', (m: Message) => {
  if (m.type === 'stop') {
    queue.finally(async () => {
      await runner.close();
      await store.close();
      process.exit(0);
    });
    return;
  }
  queue = queue.then(async () => {
    if (m.type === 'prepare') {
      try {
        let loadMs = 0;
        for (const sha of m.models) loadMs += (await runner.load(sha)).loadMs;
        send({ type: 'prepared', id: m.id, loadMs });
      } catch (err) {
        send({ type: 'failed', id: m.id, error: String((err as Error).message).split('\n')[0] });
      }
    } else if (m.type === 'job') {
      await handleJob(m);
    }
  });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
