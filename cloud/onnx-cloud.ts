#!/usr/bin/env node
/**
 * onnx-cloud: runs the remaining part(s) of a split on a payload, like the original tool's
 * onnx_second_inference. Two ways to use it:
 *  - OSCAR: the payload is $INPUT_FILE_PATH and the result goes to $TMP_OUTPUT_DIR; the parts
 *    named in the payload are fetched from the store (MINIO_ENDPOINT, MINIO_ACCESS_KEY,
 *    MINIO_SECRET_KEY) under models/<sha256>.onnx, unless --onnx_file gives them.
 *  - By hand: onnx-cloud --onnx_file part2.onnx --input_file payload.pb --save_results out.pb
 *  - From and to the store (a Kubernetes Job): onnx-cloud --input_key input/r/3/0.pb --output_key output/r/3/0.pb
 *  - As a worker (over SSH, or a long-running pod): onnx-cloud --serve, JSON lines on stdin/stdout
 *    (see src/runner/serve.ts).
 * Backends hand the run's settings over as one --cloud_config <json> (src/config/cloud-config.ts);
 * by hand, --exec_type, --device_type, --graph_opt, --threads and --minio_bucket give them.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainModule } from '../src/cli/entry.js';
import { UsageError } from '../src/errors.js';
import type { CliIO } from '../src/cli/command.js';
import { reportFailure } from '../src/cli/failure.js';
import { defaultIO, givenFlags } from '../src/cli/flags.js';
import { CLOUD_CONFIG_FLAG, cloudSessionOptions, decodeCloudConfig } from '../src/config/cloud-config.js';
import { cloudConfigFromFlags } from '../src/config/run-config.js';
import { checkOutputFile, readUserFile, refuseOutputOverInput } from '../src/files.js';
import { partHash } from '../src/onnx/part-hash.js';
import { createSession } from '../src/runtime/ort.js';
import { checkInput, CloudRunner, type ModelSource } from '../src/runner/cloud.js';
import { OutputTransaction } from '../src/split/output.js';
import { decodePayload, encodePayload } from '../src/tensor/payload/index.js';
import { quickCloudArgs, type CloudArgs } from './job-args.js';

// Only what a job needs is loaded: the store client (minio) and the worker loop are imported when
// the job uses the store, so a payload from a file with its parts given starts without them.
const storeModule = () => import('../src/storage/open.js');
const serveModule = () => import('../src/runner/serve.js');

/** onnx-cloud's full parser (yargs), for every command line quickCloudArgs leaves to it: help, version, the runtime flags, errors. */
export async function parseCloudArgs(argv: string[], io: CliIO): Promise<{ args: CloudArgs } | { code: number }> {
  const [{ withRuntimeOptions }, { baseParser, parseArgs }] = await Promise.all([import('../src/cli/option-groups.js'), import('../src/cli/parse.js')]);
  const parser = withRuntimeOptions(baseParser('onnx-cloud', argv).usage('Usage: onnx-cloud [--input_file payload.pb --save_results out.pb] [--serve]'))
    .option('onnx_file', { type: 'string', array: true, describe: 'Part file(s) to run, in order (default: the parts the payload names, from the store)' })
    .option('input_file', { type: 'string', describe: 'Payload to run on (default $INPUT_FILE_PATH)' })
    .option('save_results', { type: 'string', describe: 'Where to write the result payload (default $TMP_OUTPUT_DIR/<input name>)' })
    .option('minio_bucket', { type: 'string', describe: 'Bucket of the store (default MINIO_BUCKET or onnx-manager)' })
    .option('input_key', { type: 'string', describe: 'Read the payload from this store key (with --output_key)' })
    .option('output_key', { type: 'string', describe: 'Put the result under this store key' })
    .option('serve', { type: 'boolean', default: false, describe: 'Serve jobs as JSON lines on stdin/stdout, sessions kept warm' })
    .option(CLOUD_CONFIG_FLAG, { type: 'string', describe: "The run's cloud settings as one JSON text, as the backends send them (instead of the runtime flags and --minio_bucket)" });
  return parseArgs<CloudArgs>(parser, { tool: 'onnx-cloud' }, argv, io);
}

export async function cloudMain(argv: string[], env = process.env, io: CliIO = defaultIO()): Promise<number> {
  // A job's plain command line is read without yargs (its start-up is paid by every job).
  const quick = quickCloudArgs(argv);
  const parsed = quick ? { args: quick } : await parseCloudArgs(argv, io);
  if ('code' in parsed) return parsed.code;
  const args = parsed.args;
  try {
    const given = givenFlags(argv);
    const held = (['exec_type', 'device_type', 'graph_opt', 'threads', 'minio_bucket'] as const).find((f) => given.has(f));
    if (args.cloud_config !== undefined && held) throw new UsageError(`--${CLOUD_CONFIG_FLAG} holds the cloud settings: give it or --${held}, not both`);
    const config = args.cloud_config !== undefined ? decodeCloudConfig(args.cloud_config) : cloudConfigFromFlags(args, env);
    const sessionOptions = cloudSessionOptions(config);
    if (args.serve || args.input_key || args.output_key) {
      if (!args.serve && !(args.input_key && args.output_key)) throw new UsageError('give both --input_key and --output_key');
      const [{ openStoreFromEnv }, { runJob, serveJobs, storeModelSource }] = await Promise.all([storeModule(), serveModule()]);
      const store = await openStoreFromEnv(config, env);
      const runner = new CloudRunner(storeModelSource(store), createSession, { session: sessionOptions });
      try {
        if (args.serve) await serveJobs(process.stdin, process.stdout, store, runner, config);
        else {
          await runJob(store, runner, args.input_key!, args.output_key!);
          io.out(JSON.stringify({ result: args.output_key, config }));
        }
      } finally {
        await runner.close();
        await store.close();
      }
      return 0;
    }
    const input = args.input_file ?? env.INPUT_FILE_PATH;
    if (!input) throw new UsageError('no payload: give --input_file or set INPUT_FILE_PATH');
    const outFile = args.save_results ?? (env.TMP_OUTPUT_DIR ? path.join(env.TMP_OUTPUT_DIR, path.basename(input)) : undefined);
    if (!outFile) throw new UsageError('nowhere to write the result: give --save_results or set TMP_OUTPUT_DIR');
    if (args.save_results) {
      checkOutputFile(args.save_results, 'save_results');
      refuseOutputOverInput(args.save_results, 'save_results', 'onnx-cloud', [['the payload (--input_file)', input], ...(args.onnx_file ?? []).map((f) => ['the part (--onnx_file)', f] as const)]);
    }
    const t0 = performance.now();
    const bytes = await readUserFile(input);
    const t1 = performance.now();
    const payload = decodePayload(bytes, { file: input });
    const t2 = performance.now();
    let source: ModelSource;
    let close = async () => undefined as void;
    if (args.onnx_file?.length) {
      const files = new Map<string, string>();
      const hashes: string[] = [];
      for (const f of args.onnx_file) {
        const b = await readUserFile(f);
        const h = partHash(b);
        files.set(h, f);
        hashes.push(h);
      }
      payload.nextModels = hashes;
      source = { get: async (h) => readUserFile(files.get(h)!) };
    } else {
      // An error sent down a chain of services is reported as such, not as a payload without parts.
      checkInput(payload);
      if (payload.nextModels.length === 0) throw new UsageError(`${input} names no model parts; give --onnx_file`);
      const [{ missingStoreVariables, openStoreFromEnv, requestStoreWhere }, { storeModelSource }] = await Promise.all([storeModule(), serveModule()]);
      if (missingStoreVariables(env).includes('MINIO_ENDPOINT')) {
        throw new UsageError(`the parts ${input} names come from the store: set MINIO_ENDPOINT (with MINIO_ACCESS_KEY and MINIO_SECRET_KEY), or give them with --onnx_file`);
      }
      // The run's retry budget, when the payload carries it (an OSCAR job has its service's).
      const store = await openStoreFromEnv(requestStoreWhere(config, payload), env);
      source = storeModelSource(store);
      close = () => store.close();
    }
    const runner = new CloudRunner(source, createSession, { session: sessionOptions });
    try {
      const result = await runner.process(payload, { downloadMs: t1 - t0, decodeMs: t2 - t1 });
      await OutputTransaction.run(path.dirname(path.resolve(outFile)), (tx) => tx.write(path.basename(outFile), encodePayload(result)));
      const timing = Object.fromEntries(result.timings.map((t) => [t.name, Math.round(t.ms * 1000) / 1000]));
      io.out(JSON.stringify({ result: outFile, tensors: [...result.tensors.keys()], timings: timing, config }));
    } finally {
      await runner.close();
      await close();
    }
    return 0;
  } catch (err) {
    return reportFailure('onnx-cloud', err, args.verbose, io.err);
  }
}

if (isMainModule(import.meta.url)) {
  // onnxruntime's telemetry (on unless the user set ORT_DISABLE_TELEMETRY) starts a thread, a
  // database under ~/.cache and a log file in /tmp in every job: nothing a job needs.
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  // No top-level await: the bundle is CommonJS (cloud/code-cache.ts).
  void cloudMain(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
