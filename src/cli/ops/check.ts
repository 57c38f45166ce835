/**
 * check: every split point against a serverless platform's limits (lambda, oscar or a JSON file),
 * printed as a pass/fail table (or JSON) and written as <base>.check.json and <base>.check.csv
 * beside --results_file (else results/<model>.check.*). Exit 1 when no split point passes.
 */
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { checkSplits, LimitsError, type CheckResult, type CheckRow } from '../../check/check.js';
import { LAMBDA_LIMITS, MB, readLimitsFile, type CheckSides, type Limits } from '../../check/limits.js';
import { oscarServiceLimits, type OscarLimitArgs } from '../../check/oscar-limits.js';
import { cloudSessionOptions } from '../../config/cloud-config.js';
import { buildRunConfig, cloudConfigOf, type RunFlags } from '../../config/run-config.js';
import { checkOutputFile } from '../../files.js';
import { UsageError } from '../../errors.js';
import { writeCsvFile } from '../../profile/csv.js';
import { checkProvider } from '../../runtime/ort.js';
import { probeModel } from '../../runtime/probe.js';
import { OutputTransaction } from '../../split/output.js';
import type { CliIO } from '../command.js';
import { table } from '../format.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';

export interface CheckArgs extends ModelArgs, OscarLimitArgs {
  limits: string;
  sides?: string;
  points?: number[];
  jobs?: number;
  seed?: number;
  results_file?: string;
  json?: boolean;
  exec_type?: string;
  device_type?: string;
  threads?: number;
  graph_opt?: string;
}

export const CHECK_COLUMNS = [
  'split_index', 'split_layer', 'payload_bytes', 'response_bytes', 'edge_part_bytes', 'cloud_part_bytes',
  'edge_part_mb', 'cloud_part_mb', 'edge_peak_mb', 'cloud_peak_mb', 'pass', 'fails',
] as const;

/** The limits --limits names. */
export async function limitsFor(args: CheckArgs): Promise<Limits> {
  if (args.limits === 'lambda') return { ...LAMBDA_LIMITS };
  if (args.limits === 'oscar') return oscarServiceLimits(args);
  try {
    return await readLimitsFile(args.limits);
  } catch (err) {
    // A word that is no file was most likely meant as one of the built-in platforms.
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT' && !/[./\\]/.test(args.limits)) {
      throw new UsageError(`--limits ${args.limits}: neither a built-in platform (lambda, oscar) nor a limits file here`, { cause: err });
    }
    throw err;
  }
}

/** `X.csv` -> `X.check` beside it; none: results/<model>.check. */
function baseFor(args: CheckArgs): string {
  if (args.results_file) return args.results_file.replace(/(\.summary|\.profile|\.check)?\.csv$/i, '') + '.check';
  return path.join('results', `${path.basename(args.onnx_file ?? 'model', '.onnx')}.check`);
}

const round = (v: number | undefined, digits = 3): number | undefined => (v === undefined ? undefined : Number(v.toFixed(digits)));
const passText = (p: boolean | null): string => (p === null ? 'n/a' : p ? 'yes' : 'no');
const fails = (r: CheckRow): string => r.failures.map((f) => (f.side ? `${f.side} ${f.limit}` : f.limit)).join(' ');

function flatRow(r: CheckRow): Record<string, unknown> {
  return {
    split_index: r.split_index,
    split_layer: r.split_layer,
    payload_bytes: r.payload_bytes,
    response_bytes: r.response_bytes,
    edge_part_bytes: r.edge_part_bytes,
    cloud_part_bytes: r.cloud_part_bytes,
    edge_part_mb: round(r.edge_part_bytes !== undefined ? r.edge_part_bytes / MB : undefined),
    cloud_part_mb: round(r.cloud_part_bytes !== undefined ? r.cloud_part_bytes / MB : undefined),
    edge_peak_mb: round(r.edge_peak_mb),
    cloud_peak_mb: round(r.cloud_peak_mb),
    pass: passText(r.pass),
    fails: r.failures.map((f) => f.text).join('; '),
  };
}

function limitsText(l: Limits): string {
  const parts = [
    l.memory_mb !== undefined ? `memory ${l.memory_mb} MB` : '',
    l.package_mb !== undefined ? `package ${l.package_mb} MB` : '',
    l.payload_bytes !== undefined ? `payload ${l.payload_bytes} bytes` : '',
    l.response_bytes !== undefined ? `response ${l.response_bytes} bytes` : '',
  ].filter(Boolean);
  return `${parts.join(', ')}${l.payload_encoding === 'base64' ? ' (payloads as base64)' : ''}`;
}

function jsonOf(a: { model: { label: string; sha256: string } }, r: CheckResult, settings: Record<string, unknown>): string {
  const rows = r.rows.map((row) => ({ ...flatRow(row), pass: row.pass, failures: row.failures.map((f) => ({ ...f, value: round(f.value) })) }));
  const memory = r.memory ? { ...r.memory, baseline_mb: round(r.memory.baseline_mb), seconds: round(r.memory.seconds, 2) } : undefined;
  const passing = r.rows.filter((x) => x.pass === true).length;
  return JSON.stringify({ model: a.model.label, model_sha256: a.model.sha256, limits: r.limits, sides: r.sides, settings, memory, passing, checked: r.rows.length, rows }, null, 2);
}

export async function checkOp(args: CheckArgs, io: CliIO): Promise<number> {
  const limits = await limitsFor(args);
  const base = baseFor(args);
  // Refused before anything is measured: a results file that cannot be written.
  if (args.results_file) checkOutputFile(args.results_file, 'results_file');
  for (const f of [`${base}.json`, `${base}.csv`]) checkOutputFile(f, 'results_file');
  const a = await analyzeFromArgs(args);
  // The sessions' settings as a sweep's (threads: every core unless given, as the cloud side's); the store is not used.
  const config = buildRunConfig({ exec_type: args.exec_type, device_type: args.device_type, threads: args.threads, graph_opt: args.graph_opt } as RunFlags, {});
  if (limits.memory_mb !== undefined) await checkProvider(config.provider, probeModel());
  const jobs = args.jobs ?? availableParallelism();
  // Ctrl-C (or SIGTERM, through io.signal) stops the measuring processes; nothing is written.
  let r: CheckResult;
  try {
    r = await checkSplits(a, limits, {
      sides: (args.sides ?? 'both') as CheckSides,
      session: cloudSessionOptions(cloudConfigOf(config)),
      seed: args.seed ?? 1,
      jobs,
      ...(io.signal ? { signal: io.signal } : {}),
      ...(args.points ? { points: args.points } : {}),
      ...(io.isTTY ? { onPart: (done: number, total: number) => io.err(`\rmeasuring peak memory: ${done}/${total} parts\u001b[K`) } : {}),
    });
  } finally {
    if (io.isTTY) io.err('\r\u001b[K');
  }
  // Interrupted as the measuring ended: nothing is written.
  io.signal?.throwIfAborted();
  const settings = { exec_type: config.execType, threads: config.cloudThreads ?? null, graph_opt: config.graphOptimizationLevel, seed: args.seed ?? 1, jobs };
  const json = jsonOf(a, r, settings);
  await OutputTransaction.run(path.dirname(path.resolve(base)), (tx) => tx.write(`${path.basename(base)}.json`, `${json}\n`));
  await writeCsvFile(`${base}.csv`, CHECK_COLUMNS, r.rows.map(flatRow));
  const passing = r.rows.filter((x) => x.pass === true).length;
  if (args.json) io.out(json);
  else {
    io.out(`limits: ${limits.platform}: ${limitsText(limits)}; ${r.sides === 'both' ? 'every part' : 'the cloud part'} held to them`);
    io.out(`  from ${limits.source}`);
    io.out(
      table(
        ['>split_index', 'split_layer', '>payload_bytes', '>edge_part_mb', '>cloud_part_mb', '>edge_peak_mb', '>cloud_peak_mb', 'pass', 'fails'],
        r.rows.map((row) => {
          const f = flatRow(row);
          const cell = (v: unknown) => (v === undefined ? '-' : typeof v === 'number' ? v.toFixed(2) : String(v));
          return [row.split_index, row.split_layer, row.payload_bytes, cell(f.edge_part_mb), cell(f.cloud_part_mb), cell(row.edge_peak_mb), cell(row.cloud_peak_mb), passText(row.pass), fails(row)];
        }),
      ),
    );
    if (r.memory) {
      io.out(`peak memory: each part in a process of its own (${r.memory.processes} processes with ${jobs} at once, ${r.memory.seconds.toFixed(1)} s), beyond a runtime baseline of ${r.memory.baseline_mb.toFixed(1)} MB (${r.memory.source}) that counts towards the memory limit`);
    } else io.out('peak memory: not measured (the limits name no memory)');
    io.out(`${passing} of ${r.rows.length} split points pass; written: ${base}.json, ${base}.csv`);
  }
  if (passing === 0) {
    const broken = [...new Set(r.rows.flatMap((x) => x.failures.map((f) => f.limit)))];
    throw new LimitsError(`no split point of ${a.model.label} passes the limits of ${limits.platform} (${r.rows.length} checked; broken: ${broken.join(', ') || 'none'})`);
  }
  return 0;
}
