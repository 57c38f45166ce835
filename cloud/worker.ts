/**
 * The local cloud worker: a long-lived process started by onnx-manager's local backend as
 * `worker.js --cloud_config <json>`, talking JSON lines over its stdin/stdout (see
 * src/runner/serve.ts). Store endpoint and keys come from its environment, never its command line.
 */
import { CLOUD_CONFIG_FLAG, cloudSessionOptions, decodeCloudConfig } from '../src/config/cloud-config.js';
import { messageLine } from '../src/errors.js';
import { createSession } from '../src/runtime/ort.js';
import { CloudRunner } from '../src/runner/cloud.js';
import { serveJobs, storeModelSource } from '../src/runner/serve.js';
import { openStoreFromEnv } from '../src/storage/open.js';

const [flag, text, ...rest] = process.argv.slice(2);
let config;
try {
  if (flag !== `--${CLOUD_CONFIG_FLAG}` || text === undefined || rest.length > 0) throw new Error(`usage: worker.js --${CLOUD_CONFIG_FLAG} <json>`);
  config = decodeCloudConfig(text);
} catch (err) {
  process.stderr.write(`onnx-manager worker: ${messageLine(err)}\n`);
  process.exit(2);
}
const store = await openStoreFromEnv(config);
const runner = new CloudRunner(storeModelSource(store), createSession, { session: cloudSessionOptions(config) });
// Ctrl-C reaches the whole process group: the worker finishes its job and ends when the edge
// closes its input, so that the edge can stop cleanly after the row in progress.
process.on('SIGINT', () => {});
await serveJobs(process.stdin, process.stdout, store, runner, config);
await runner.close();
await store.close();
process.exit(0);
