/**
 * The local cloud worker: a long-lived process started by onnx-manager's local backend as
 * `worker.js --cloud_config <json>`, talking JSON lines over its stdin/stdout (see
 * src/runner/serve.ts). Store endpoint and keys come from its environment, never its command line.
 */
import { PassThrough } from 'node:stream';
import { CLOUD_CONFIG_FLAG, cloudSessionOptions, decodeCloudConfig } from '../src/config/cloud-config.js';
import { messageLine } from '../src/errors.js';
import { createSession } from '../src/runtime/ort.js';
import { CloudRunner } from '../src/runner/cloud.js';
import { serveJobs, storeModelSource } from '../src/runner/serve.js';
import { openStoreFromEnv } from '../src/storage/open.js';

/** How long a worker whose input closed has to end by itself before it is ended. */
const INPUT_CLOSED_GRACE_MS = 2000;

const [flag, text, ...rest] = process.argv.slice(2);
let config;
try {
  if (flag !== `--${CLOUD_CONFIG_FLAG}` || text === undefined || rest.length > 0) throw new Error(`usage: worker.js --${CLOUD_CONFIG_FLAG} <json>`);
  config = decodeCloudConfig(text);
} catch (err) {
  process.stderr.write(`onnx-manager worker: ${messageLine(err)}\n`);
  process.exit(2);
}
// The worker serves the edge that started it and no one else: when its input closes (the edge
// ended, however it ended, SIGKILL too) it ends, whatever it is doing, even waiting minutes for a
// store that went away with the edge. Its input is read from the start, so that the close is seen
// while the store is still being opened; an edge that stops it sends 'stop' first, and the worker
// ends by itself within the grace.
const input = new PassThrough();
process.stdin.pipe(input);
process.stdin.once('end', () => setTimeout(() => process.exit(0), INPUT_CLOSED_GRACE_MS).unref());
const store = await openStoreFromEnv(config);
const runner = new CloudRunner(storeModelSource(store), createSession, { session: cloudSessionOptions(config) });
// Ctrl-C reaches the whole process group: the worker finishes its job and ends when the edge
// closes its input, so that the edge can stop cleanly after the row in progress.
process.on('SIGINT', () => {});
await serveJobs(input, process.stdout, store, runner, config);
await runner.close();
await store.close();
process.exit(0);
