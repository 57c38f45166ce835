#!/usr/bin/env node
/**
 * Helpers of the OSCAR service script (cloud/oscar/script.sh), beside onnx-cloud:
 *
 *   helper.js error-result <input payload> <result file> -- <message>
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
 *     and the tensors it received or produced that a later stage reads (ONNX_MANAGER_STAGE_FORWARD,
 *     written by deploy) or that are model outputs to return. A tensor neither read here nor
 *     later is refused, naming it.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainModule } from '../../src/cli/entry.js';
import { UsageError } from '../../src/errors.js';
import { createSession } from '../../src/runtime/ort.js';
import { CloudRunner, errorPayload, STAGE_FORWARD_VARIABLE } from '../../src/runner/cloud.js';
import { decodeModel } from '../../src/onnx/codec.js';
import { storeKeys, type ObjectStore } from '../../src/storage/store.js';
import { storeModelSource } from '../../src/runner/serve.js';
import { OutputTransaction } from '../../src/split/output.js';
import { CLOUD_CONFIG_FLAG, cloudSessionOptions, decodeCloudConfig } from '../../src/config/cloud-config.js';
import { cloudConfigFromFlags } from '../../src/config/run-config.js';
import { openStoreFromEnv, requestStoreWhere } from '../../src/storage/open.js';
import { decodePayload, encodePayload, type Payload } from '../../src/tensor/payload/index.js';
import type { CliIO } from '../../src/cli/command.js';
import { reportFailure } from '../../src/cli/failure.js';
import { baseParser, defaultIO, parseArgs } from '../../src/cli/parse.js';

const TOOL = 'onnx-cloud helper';

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

interface StageArgs {
  input_file: string;
  save_results: string;
  cloud_config?: string;
}

/**
 * The tensors the later stages read: ONNX_MANAGER_STAGE_FORWARD as deploy writes it, else (a
 * service deployed before it was written) the graph inputs of the later parts, read from the store.
 */
async function laterReads(env: NodeJS.ProcessEnv, later: readonly string[], store: ObjectStore): Promise<string[]> {
  const text = env[STAGE_FORWARD_VARIABLE];
  if (text !== undefined) {
    let names: unknown;
    try {
      names = JSON.parse(text);
    } catch {
      names = undefined;
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new UsageError(`stage: ${STAGE_FORWARD_VARIABLE} is not a JSON array of tensor names`);
    return names;
  }
  const reads: string[] = [];
  for (const h of later) {
    const graph = decodeModel(await store.get(storeKeys.model(h)), storeKeys.model(h)).graph;
    const weights = new Set((graph?.initializer ?? []).map((t) => t.name));
    for (const i of graph?.input ?? []) if (i.name && !weights.has(i.name)) reads.push(i.name);
  }
  return reads;
}

async function stage(args: StageArgs, env: NodeJS.ProcessEnv): Promise<void> {
  const input = args.input_file;
  const output = args.save_results;
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
  const config = args.cloud_config !== undefined ? decodeCloudConfig(args.cloud_config) : cloudConfigFromFlags({}, env);
  const store = await openStoreFromEnv(requestStoreWhere(config, payload), env);
  const runner = new CloudRunner(storeModelSource(store), createSession, { session: cloudSessionOptions(config) });
  try {
    // Handed on: what a later stage reads, and the model outputs to return at the end.
    const forwarded = new Set([...(await laterReads(env, payload.nextModels.slice(mine.length), store)), ...(payload.outputs ?? [])]);
    const result = await runner.process({ ...payload, nextModels: mine, outputs: [] }, { downloadMs: t1 - t0, decodeMs: t2 - t1 }, { forwarded });
    const tensors = new Map([...payload.tensors].filter(([n]) => forwarded.has(n)));
    for (const [n, t] of result.tensors) if (forwarded.has(n)) tensors.set(n, t);
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
    if (payload.storeRetryMs !== undefined) next.storeRetryMs = payload.storeRetryMs;
    await write(output, next);
  } finally {
    await runner.close();
    await store.close();
  }
}

export async function helperMain(argv: string[], env = process.env, io: CliIO = defaultIO()): Promise<number> {
  let job: (() => Promise<void>) | undefined;
  const parser = baseParser(TOOL, argv)
    .usage(`Usage: ${TOOL} error-result <input> <result> [message] | stage --input_file <f> --save_results <f> [--${CLOUD_CONFIG_FLAG} <json>]`)
    .command(
      'error-result <input> <result> [message]',
      'Write a result payload that reports <message> as the cloud error',
      (y) =>
        y
          .positional('input', { type: 'string', demandOption: true, describe: 'The input payload of the failed job' })
          .positional('result', { type: 'string', demandOption: true, describe: 'Where to write the result payload' })
          .positional('message', { type: 'string', default: '', describe: 'What went wrong' }),
      (a) => {
        // The script passes the message after `--`, so that one starting with '-' is not a flag.
        const message = a.message || a._.slice(1).map(String).join(' ');
        job = () => errorResult(a.input, a.result, message);
      },
    )
    .command(
      'stage',
      'Run this stage of a chain of services and write the payload for the next one',
      (y) =>
        y
          .option('input_file', { type: 'string', demandOption: true, describe: 'The payload this stage received' })
          .option('save_results', { type: 'string', demandOption: true, describe: 'Where to write the payload for the next stage' })
          .option(CLOUD_CONFIG_FLAG, { type: 'string', describe: "The service's cloud settings (ONNX_MANAGER_CLOUD_CONFIG), as onnx-cloud takes them" }),
      (a) => {
        job = () => stage(a, env);
      },
    );
  const parsed = await parseArgs(parser, { tool: TOOL }, argv, io);
  if ('code' in parsed) return parsed.code;
  try {
    if (!job) throw new UsageError('give a command: error-result or stage (see --help)');
    await job();
    return 0;
  } catch (err) {
    return reportFailure(TOOL, err, parsed.args.verbose, io.err);
  }
}

if (isMainModule(import.meta.url)) {
  process.exitCode = await helperMain(process.argv.slice(2));
}
