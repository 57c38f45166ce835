#!/usr/bin/env node
/**
 * Helpers of the OSCAR service script (cloud/oscar/script.sh), beside onnx-cloud:
 *
 *   helper.js error-result <input payload> <result file> <message>
 *     Writes a result payload that reports <message> as the cloud's error (with the run, split and
 *     repetition of the input when it can be decoded), so that the edge learns at once why a job
 *     failed: faas-supervisor ignores the script's exit code and uploads whatever is in
 *     $TMP_OUTPUT_DIR.
 *
 *   helper.js stage --input_file <payload> --save_results <file> [--cloud_config <json>]
 *     One stage of a chain of services (deploy --split_layers): runs the parts named in
 *     ONNX_MANAGER_STAGE_PARTS (comma-separated sha256, the first ones the payload names), fetched
 *     from the store like onnx-cloud does, with the service's cloud settings (--cloud_config, as
 *     onnx-cloud takes them), and writes an input payload for the next stage: the remaining parts,
 *     and every tensor it received or produced.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainModule } from '../../src/cli/entry.js';
import { UsageError } from '../../src/errors.js';
import { createSession } from '../../src/runtime/ort.js';
import { CloudRunner, errorPayload } from '../../src/runner/cloud.js';
import { storeModelSource } from '../../src/runner/serve.js';
import { OutputTransaction } from '../../src/split/output.js';
import { CLOUD_CONFIG_FLAG, cloudSessionOptions, decodeCloudConfig } from '../../src/config/cloud-config.js';
import { cloudConfigFromFlags } from '../../src/config/run-config.js';
import { openStoreFromEnv } from '../../src/storage/open.js';
import { decodePayload, encodePayload, type Payload } from '../../src/tensor/payload.js';
import { reportFailure } from '../../src/cli/failure.js';

async function write(file: string, p: Payload): Promise<void> {
  await OutputTransaction.run(path.dirname(path.resolve(file)), (tx) => tx.write(path.basename(file), encodePayload(p)));
}

async function errorResult(input: string, output: string, message: string): Promise<void> {
  let ids = { runId: '', splitIndex: 0, rep: 0 };
  try {
    const p = decodePayload(await readFile(input), { file: input });
    ids = { runId: p.runId, splitIndex: p.splitIndex, rep: p.rep };
  } catch {
    // Report the failure anyway, under empty names.
  }
  await write(output, errorPayload(ids, new Error(message || 'the OSCAR job failed')));
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function stage(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const input = flag(argv, 'input_file');
  const output = flag(argv, 'save_results');
  if (!input || !output) throw new UsageError('stage needs --input_file and --save_results');
  const mine = (env.ONNX_MANAGER_STAGE_PARTS ?? '').split(',').filter((s) => s);
  if (mine.length === 0) throw new UsageError('stage: ONNX_MANAGER_STAGE_PARTS names no parts');
  const t0 = performance.now();
  const bytes = await readFile(input);
  const t1 = performance.now();
  const payload = decodePayload(bytes, { file: input });
  const t2 = performance.now();
  const head = payload.nextModels.slice(0, mine.length);
  if (head.join() !== mine.join()) {
    throw new UsageError(`stage: this service runs part(s) ${mine.map((h) => h.slice(0, 12)).join(', ')}, but the payload's next part(s) are ${head.map((h) => h.slice(0, 12)).join(', ') || 'none'}`);
  }
  const text = flag(argv, CLOUD_CONFIG_FLAG);
  const config = text !== undefined ? decodeCloudConfig(text) : cloudConfigFromFlags({}, env);
  const store = await openStoreFromEnv(config, env);
  const runner = new CloudRunner(storeModelSource(store), createSession, { session: cloudSessionOptions(config) });
  try {
    const result = await runner.process({ ...payload, nextModels: mine, outputs: [] }, { downloadMs: t1 - t0, decodeMs: t2 - t1 });
    const tensors = new Map(payload.tensors);
    for (const [n, t] of result.tensors) tensors.set(n, t);
    const next: Payload = {
      kind: 'input',
      runId: payload.runId,
      splitIndex: payload.splitIndex,
      rep: payload.rep,
      nextModels: payload.nextModels.slice(mine.length),
      timings: [...payload.timings, ...result.timings.map((t) => ({ name: `stage_${t.name}`, ms: t.ms }))],
      tensors,
    };
    if (payload.outputs) next.outputs = payload.outputs;
    await write(output, next);
  } finally {
    await runner.close();
    await store.close();
  }
}

export async function helperMain(argv: string[], env = process.env): Promise<number> {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === 'error-result') {
      const [input, output, message] = rest;
      if (!input || !output) throw new UsageError('usage: helper.js error-result <input payload> <result file> <message>');
      await errorResult(input, output, message ?? '');
    } else if (cmd === 'stage') {
      await stage(rest, env);
    } else {
      throw new UsageError('usage: helper.js error-result <input> <result> <message> | stage --input_file <f> --save_results <f> [--cloud_config <json>]');
    }
    return 0;
  } catch (err) {
    return reportFailure('onnx-cloud helper', err, false, (line) => process.stderr.write(`${line}\n`));
  }
}

if (isMainModule(import.meta.url)) {
  process.exitCode = await helperMain(process.argv.slice(2));
}
