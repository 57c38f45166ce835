/**
 * The local cloud worker: a long-lived process started by onnx-manager's local backend, talking
 * JSON lines over its stdin/stdout (see src/runner/serve.ts). Store coordinates come from its
 * environment, never its command line.
 */
import { createSession } from '../src/runtime/ort.js';
import type { GraphOptimizationLevel } from '../src/runtime/session.js';
import { CloudRunner } from '../src/runner/cloud.js';
import { serveJobs, storeModelSource } from '../src/runner/serve.js';
import { openMinioStore } from '../src/storage/minio-store.js';
import { storeConfigFromEnv } from '../src/storage/store.js';

const config = storeConfigFromEnv({});
const store = await openMinioStore({ ...config, createBucket: false });
const provider = JSON.parse(process.env.ONNX_MANAGER_PROVIDER ?? '{"name":"cpu"}') as { name: string; deviceId?: number };
const threads = Number(process.env.ONNX_MANAGER_THREADS) || undefined;
const runner = new CloudRunner(storeModelSource(store), createSession, {
  session: {
    executionProviders: [provider],
    graphOptimizationLevel: (process.env.ONNX_MANAGER_OPT_LEVEL ?? 'all') as GraphOptimizationLevel,
    ...(threads ? { intraOpNumThreads: threads } : {}),
  },
});
// Ctrl-C reaches the whole process group: the worker finishes its job and ends when the edge
// closes its input, so that the edge can stop cleanly after the row in progress.
process.on('SIGINT', () => {});
await serveJobs(process.stdin, process.stdout, store, runner);
await runner.close();
await store.close();
process.exit(0);
