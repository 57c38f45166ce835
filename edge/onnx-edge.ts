#!/usr/bin/env node
/**
 * onnx-edge: runs the edge part of a split on an input payload and writes or pushes the payload
 * for the cloud, like the original tool's onnx_first_inference:
 *   onnx-edge --onnx_file part1.onnx --input_file input.pb --push
 * With --manifest and --split_index the payload carries exactly that split's cut tensors and the
 * content hashes of its cloud parts; otherwise every output of the part.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { hideBin } from 'yargs/helpers';
import { isMainModule } from '../src/cli/entry.js';
import { UsageError } from '../src/errors.js';
import type { CliIO } from '../src/cli/command.js';
import { reportFailure } from '../src/cli/failure.js';
import { intOption, withRuntimeOptions } from '../src/cli/option-groups.js';
import { baseParser, defaultIO, parseArgs } from '../src/cli/parse.js';
import { checkOutputFile, readUserFile, refuseOutputOverInput } from '../src/files.js';
import { partHash } from '../src/onnx/part-hash.js';
import { createSession } from '../src/runtime/ort.js';
import { providerFor } from '../src/runtime/providers.js';
import { runChain } from '../src/runtime/chain.js';
import type { Manifest } from '../src/split/manifest.js';
import { OutputTransaction } from '../src/split/output.js';
import { missingStoreVariables, openStoreFromEnv } from '../src/storage/open.js';
import { storeKeys } from '../src/storage/store.js';
import { decodePayload, encodePayload } from '../src/tensor/payload/index.js';

export async function edgeMain(argv: string[], env = process.env, io: CliIO = defaultIO()): Promise<number> {
  const parser = withRuntimeOptions(baseParser('onnx-edge', argv).usage('Usage: onnx-edge --onnx_file part1.onnx --input_file input.pb [--push] [--output_file payload.pb]'))
    .option('onnx_file', { type: 'string', describe: 'The edge part (part1.onnx)' })
    .option('input_file', { type: 'string', describe: 'Payload with the model inputs (see onnx-manager --operation data_processing)' })
    .option('manifest', { type: 'string', describe: 'manifest.json of the split, to send exactly its cut tensors' })
    .option('split_index', { type: 'number', describe: 'The split of --manifest that --onnx_file is the edge part of (required with --manifest)' })
    .option('run_id', { type: 'string', describe: 'Run id in the payload and store key (default: a new one)' })
    .option('rep', intOption('rep', { min: 0, default: 0, describe: 'Repetition number in the payload and store key' }))
    .option('output_file', { type: 'string', describe: 'Write the payload here' })
    .option('push', { type: 'boolean', default: false, describe: 'Upload the payload to the store (MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY)' })
    .option('minio_bucket', { type: 'string', describe: 'Bucket to push to (default MINIO_BUCKET or onnx-manager)' });
  const parsed = await parseArgs(parser, { tool: 'onnx-edge' }, argv, io);
  if ('code' in parsed) return parsed.code;
  const args = parsed.args;
  try {
    if (!args.onnx_file) throw new UsageError('missing --onnx_file (the edge part)');
    if (!args.input_file) throw new UsageError('missing --input_file (a payload with the model inputs)');
    if (!args.push && !args.output_file) throw new UsageError('nothing to do with the result: give --push and/or --output_file');
    if (args.manifest && args.split_index === undefined) throw new UsageError('--manifest needs --split_index (the split whose edge part --onnx_file is)');
    if (args.output_file) {
      checkOutputFile(args.output_file, 'output_file');
      refuseOutputOverInput(args.output_file, 'output_file', 'onnx-edge', [
        ['the payload (--input_file)', args.input_file],
        ['the edge part (--onnx_file)', args.onnx_file],
        ['the manifest (--manifest)', args.manifest],
      ]);
    }
    if (args.push) {
      // Checked before the part runs, so that nothing is written (--output_file) for a push that cannot happen.
      const missing = missingStoreVariables(env);
      if (missing.length > 0) {
        const list = missing.length === 1 ? missing[0]! : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
        throw new UsageError(`--push needs the object store: set ${list} (onnx-edge takes the store from the environment; the keys also as MINIO_ACCESS_KEY_FILE / MINIO_SECRET_KEY_FILE)`);
      }
    }
    const splitIndex = args.split_index ?? 0;
    const input = decodePayload(await readUserFile(args.input_file), { file: args.input_file });
    const session = await createSession(await readUserFile(args.onnx_file), {
      executionProviders: [providerFor(args.exec_type, args.device_type)],
      graphOptimizationLevel: args.graph_opt,
      ...(args.threads ? { intraOpNumThreads: args.threads } : {}),
    });
    const run = await runChain([session], input.tensors, { missing: (n) => new UsageError(`${args.input_file} has no tensor '${n}', which ${args.onnx_file} needs`) });
    const edgeMs = run.partMs[0]!;
    const pool = run.tensors;
    await session.release();
    let cut = [...run.produced.keys()];
    let nextModels: string[] = [];
    let wanted: string[] | undefined;
    if (args.manifest) {
      const m = JSON.parse((await readUserFile(args.manifest)).toString('utf8')) as Manifest;
      wanted = m.outputs.map((o) => o.name).filter((o) => !pool.has(o));
      const split = m.splits.find((s) => s.index === splitIndex);
      if (!split) throw new UsageError(`${args.manifest} has no split ${splitIndex}`);
      cut = split.cut_tensors.map((t) => t.name);
      const missing = cut.filter((n) => !pool.has(n));
      if (missing.length) throw new UsageError(`${args.onnx_file} is not the edge part of split ${splitIndex}: it does not produce ${missing.join(', ')}`);
      const dir = path.dirname(args.manifest);
      nextModels = await Promise.all(
        split.parts.filter((_, i) => split.sides[i] === 'cloud').map(async (p) => partHash(await readUserFile(path.join(dir, p)))),
      );
    }
    const tensors = new Map(cut.map((n) => [n, pool.get(n)!] as const));
    const runId = args.run_id ?? randomUUID();
    const chunks = encodePayload({ kind: 'input', runId, splitIndex, rep: args.rep, nextModels, timings: [{ name: 'edge_ms', ms: edgeMs }], ...(wanted ? { outputs: wanted } : {}), tensors });
    const report: Record<string, unknown> = { edge_ms: Math.round(edgeMs * 1000) / 1000, tensors: cut, bytes: chunks.byteLength };
    if (args.output_file) {
      const f = args.output_file;
      await OutputTransaction.run(path.dirname(path.resolve(f)), (tx) => tx.write(path.basename(f), chunks));
      report.output_file = f;
    }
    if (args.push) {
      const store = await openStoreFromEnv({ ...(args.minio_bucket ? { bucket: args.minio_bucket } : {}), createBucket: true }, env);
      try {
        const key = storeKeys.input(runId, splitIndex, args.rep);
        const t1 = performance.now();
        await store.put(key, chunks);
        report.upload_ms = Math.round((performance.now() - t1) * 1000) / 1000;
        report.key = `${store.bucket}/${key}`;
      } finally {
        await store.close();
      }
    }
    io.out(JSON.stringify(report));
    return 0;
  } catch (err) {
    return reportFailure('onnx-edge', err, args.verbose, io.err);
  }
}

if (isMainModule(import.meta.url)) {
  process.exitCode = await edgeMain(hideBin(process.argv));
}
