/**
 * run and run_all: the edge -> object store -> cloud cycle for one split point or all of them,
 * with the times and bytes of every step written to CSV.
 */
import { cleanRuns, removedCount } from '../../storage/clean.js';
import { cleanedLine } from './clean.js';
import { checkOutputFile } from '../../files.js';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { buildRunConfig, threadColumns, type RunConfig, type RunFlags } from '../../config/run-config.js';
import { DEFAULTS } from '../../config/defaults.js';
import { messageLine, UsageError } from '../../errors.js';
import type { Row } from '../../profile/columns.js';
import { lockResults } from '../../profile/results-lock.js';
import { checkResultsHeader, checkRowFields, checkRowValues, CsvAppender, missingLaterColumns, readRows, upgradeRows, writeSummary, writeUpgradedResults } from '../../profile/csv.js';
import { startRun, type StartedRun } from '../../profile/start-run.js';
import type { PartUpload, PartUploadListener } from '../../profile/part-preload.js';
import { codecReference } from '../../profile/codec-reference.js';
import { doneKey, inputShapesOf, maxAbsDiff, plannedReps, runSweep, runsNoCloudPart } from '../../profile/sweep.js';
import { tensorCodec } from '../../tensor/codecs/registry.js';
import { missingAxisNote } from '../../tensor/codecs/int8-channel.js';
import type { HostTensor } from '../../runtime/session.js';
import type { ModelAnalysis } from '../../split/analysis.js';
import { StoreUnavailableError } from '../../storage/retrying-store.js';
import { describeLink, type LinkShape } from '../../storage/shaping-proxy.js';
import { splitPointOf, type SplitPoint } from '../../split/points.js';
import { cutFilePoint } from '../../split/node-cut.js';
import { counted, humanBytes, table } from '../format.js';
import { groupRows, type SplitStat } from '../../report/results.js';
import { randomInputs } from '../../split/random-inputs.js';
import { inputsFromArgs, type InputArgs } from '../inputs.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';
import { INTERRUPTED_AT_START, INTERRUPTED_EXIT } from '../interrupt.js';
import { Progress } from '../progress.js';

export interface RunArgs extends ModelArgs, InputArgs {
  split_layer?: string;
  cut_file?: string;
  /** Split points by list_layers index or layer name. */
  splits?: string[];
  rep?: number;
  warmup?: number;
  timeout?: number;
  results_file?: string;
  resume?: boolean;
  exec_type?: string;
  device_type?: string;
  cloud?: string;
  minio_endpoint?: string;
  minio_bucket?: string;
  minio_region?: string;
  minio_secure?: boolean;
  graph_opt?: string;
  threads?: number;
  edge_threads?: number;
  cloud_threads?: number;
  keep_objects?: boolean;
  verify?: boolean;
  bandwidth?: number;
  rtt?: number;
  /** One codec (run) or several (run_all). */
  tensor_codec?: string | string[];
}

/** The link the edge's store connections went through, for the summary lines. */
function linkLine(config: RunConfig): string {
  return config.link ? `link edge <-> store: ${describeLink(config.link)} (shaping proxy; the cloud reaches the store directly)` : 'link edge <-> store: direct (no --bandwidth/--rtt)';
}

/**
 * Starts a run from the flags: the configuration is built once here and carried by the run. With a
 * link, `status` hears of each cloud part about to cross it. An interrupt (`signal`) stops the
 * start at once, and later ends the measuring.
 */
async function setUp(
  args: RunArgs,
  a: ModelAnalysis & { feeds?: Record<string, HostTensor> },
  signal: AbortSignal | undefined,
  status: (line: string) => void,
  warn?: (line: string) => void,
  config: RunConfig = buildRunConfig(args as RunFlags),
  feeds: Record<string, HostTensor> = feedsOf(args, a),
  preload: readonly SplitPoint[] = [],
): Promise<StartedRun> {
  const codecs = args.tensor_codec === undefined ? [] : [args.tensor_codec].flat();
  const link = config.link;
  const onPartUpload: PartUploadListener | undefined = link ? (u) => status(partUploadLine(u, link)) : undefined;
  return startRun(a, config, { feeds, preload, ...(warn ? { warn } : {}), ...(codecs.length ? { tensorCodecs: codecs } : {}), ...(onPartUpload ? { onPartUpload } : {}), ...(signal ? { signal } : {}) });
}

/** The status line of a cloud part about to cross the link: what, how many bytes, which link, and about how long. */
export function partUploadLine(u: PartUpload, link: LinkShape): string {
  const part = u.parts > 1 ? `cloud part ${u.part}/${u.parts}` : 'the cloud part';
  const ms = (link.bandwidthMbit === undefined ? 0 : (u.bytes * 8) / (link.bandwidthMbit * 1000)) + link.rttMs;
  const eta = ms >= 1000 ? `, about ${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : '';
  return `putting ${part} of split ${u.split} (${u.splitLayer}) in the store over the link: ${humanBytes(u.bytes)} at ${describeLink(link)}${eta}`;
}

/** The inputs a run measures with: the images or payload given, else seeded random ones. */
function feedsOf(args: RunArgs, a: ModelAnalysis & { feeds?: Record<string, HostTensor> }): Record<string, HostTensor> {
  return a.feeds ?? randomInputs(a, args.seed ?? DEFAULTS.seed);
}

/** Where a run_all without --results_file writes its timestamped file. */
const RESULTS_DIR = 'results';

function defaultResultsFile(args: RunArgs): string {
  const base = path.basename(args.onnx_file ?? 'model', '.onnx');
  const date = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return path.join(RESULTS_DIR, `${base}-${date}.csv`);
}

/**
 * --resume continues the sweep of one file; without --results_file a run writes a new timestamped
 * file, so there is nothing to resume: refused rather than guessed (the newest file of the model
 * may be a sweep measured another way, or one the user meant to keep), naming the newest candidate.
 */
function resumeWithoutFile(args: RunArgs): string {
  const base = path.basename(args.onnx_file ?? 'model', '.onnx');
  const dir = RESULTS_DIR;
  const stamped = (f: string) => f.startsWith(`${base}-`) && /^\d{8}-\d{6}\.csv$/.test(f.slice(base.length + 1));
  const newest = existsSync(dir) ? readdirSync(dir).filter(stamped).sort().at(-1) : undefined;
  return `--resume needs --results_file, the file of the sweep to continue${newest ? ` (the newest for this model is ${path.join(dir, newest)})` : ''}`;
}

/** The split points --splits names: list_layers indexes, or layer names as --split_layer takes them. */
function splitIndexes(a: ModelAnalysis, values: readonly string[]): number[] {
  return values.map((v) => {
    const i = Number(v);
    if (/^\s*[-+]?[\d.e]+\s*$/i.test(v) && !(Number.isInteger(i) && i >= 0 && i < a.splitPoints.length)) {
      throw new UsageError(`--splits ${v} is not a split index (0..${a.splitPoints.length - 1})`);
    }
    try {
      return splitPointOf(a.splitPoints, a.index, v.trim(), a.model.label).index;
    } catch (err) {
      throw new UsageError(`--splits: ${messageLine(err)}`, { cause: err });
    }
  });
}

/** A note per int8:axis=N codec whose axis some of the split points' cut tensors lack (they go per tensor). */
function axisNotes(codecs: readonly string[], points: readonly SplitPoint[], out: (s: string) => void): void {
  for (const codec of codecs) {
    const note = missingAxisNote(codec, points);
    if (note) out(`note: ${note}`);
  }
}

/** Largest output difference --verify takes for a match: float rounding of the parts' own kernels. */
const VERIFY_TOLERANCE = 1e-4;

export async function run(args: RunArgs, io: RunIO): Promise<number> {
  const out = io.out;
  if (!args.split_layer && !args.cut_file) throw new UsageError('run needs --split_layer or --cut_file (see --operation list_layers; use the input name for cloud only)');
  const a = await analyzeFromArgs(args, (m) => inputsFromArgs(m, args, { fixedBatch: true }));
  let point: SplitPoint;
  if (args.cut_file) point = await cutFilePoint(a, args.cut_file);
  else point = splitPointOf(a.splitPoints, a.index, args.split_layer!, a.model.label);
  const rep = args.rep ?? DEFAULTS.repRun;
  if (args.results_file) {
    checkOutputFile(args.results_file, 'results_file');
    // As run_all: rows are appended only to a results file (a model, an image or notes are refused, untouched).
    await readRows(args.results_file);
    await checkResultsHeader(args.results_file);
  }
  axisNotes([args.tensor_codec ?? 'raw'].flat(), [point], out);
  const s = await setUp(args, a, io.signal, (line) => io.err(`onnx-manager: ${line}`), undefined, undefined, undefined, [point]);
  try {
    const { rows, outputs } = await s.measureSplit(point, rep);
    if (args.results_file) {
      const csv = await CsvAppender.open(args.results_file);
      for (const r of rows) await csv.append(r);
      await csv.close();
    }
    const last = rows.at(-1)!;
    const where = point.edgeNodes ? `at the ${point.edgeNodes.length} edge node(s) of ${args.cut_file}` : `after '${point.splitLayer}'`;
    out(`split ${point.index} ${where}: ${point.cutTensors.length} cut tensor(s), ${last.tensor_bytes} tensor bytes, ${last.transfer_bytes} bytes on the wire; ${linkLine(s.config)}`);
    const keys = ['edge_load_ms', 'cloud_load_ms', 'edge_ms', 'edge_cpu_ms', 'encode_ms', 'upload_ms', 'wait_ms', 'cloud_ms', 'cloud_cpu_ms', 'download_ms', 'decode_ms', 'total_ms'] as const;
    out(table(['>rep', ...keys.map((k) => `>${k}`), 'status'], rows.map((r) => [r.rep, ...keys.map((k) => r[k]), r.status + (r.error ? `: ${r.error}` : '')])));
    for (const name of a.index.outputs) out(describeOutput(name, outputs.get(name)));
    if (args.verify) {
      if (last.status !== 'ok' || last.max_abs_diff === '') {
        out(`verify: not verified (${last.status})`);
        return 1;
      }
      const diff = Number(last.max_abs_diff);
      const codec = String(last.tensor_codec || 'raw');
      if (tensorCodec(codec)?.lossless === false) {
        // A lossy codec moves the outputs by design: the split must give what the parts chained
        // here give with the cut tensors through the same codec.
        const expected = await codecReference(s.ctx, point, codec);
        const off = Math.max(0, ...a.index.outputs.map((name) => maxAbsDiff(outputs.get(name), expected.get(name)!)));
        out(`verify: max |split - full| = ${diff} (tensor codec ${codec} is lossy); max |split - parts chained here through ${codec}| = ${off} ${off <= VERIFY_TOLERANCE ? '(match)' : '(MISMATCH)'}`);
        return off <= VERIFY_TOLERANCE ? 0 : 1;
      }
      out(`verify: max |split - full| = ${diff} ${diff <= VERIFY_TOLERANCE ? '(match)' : '(MISMATCH)'}`);
      if (!(diff <= VERIFY_TOLERANCE)) return 1;
    }
    return rows.some((r) => r.status !== 'ok') ? 1 : 0;
  } finally {
    await s.close();
  }
}

/** Shape and, for a classifier-like output, its top classes (at most 5). */
function describeOutput(name: string, t: HostTensor | undefined): string {
  if (!t) return `${name}: missing`;
  const head = `${name}: ${t.type}[${t.dims.join(', ')}]`;
  const data = t.data as unknown as ArrayLike<number>;
  const classes = t.dims.at(-1) ?? 0;
  if (t.type !== 'float32' || t.dims.length > 2 || classes < 2 || data.length !== classes) return head;
  const top = Array.from({ length: classes }, (_, i) => i)
    .sort((x, y) => data[y]! - data[x]!)
    .slice(0, 5);
  return `${head} top-${top.length}: ${top.map((i) => `${i} (${data[i]!.toFixed(4)})`).join(', ')}`;
}

type RunIO = { out: (s: string) => void; err: (s: string) => void; isTTY?: boolean; signal?: AbortSignal };

/**
 * Ctrl-C (or SIGTERM, through io.signal) from the first moment to the last: during the start it
 * stops at once what was started (the worker, the embedded store, the link's proxy and the upload
 * crossing it); during the sweep it ends the sweep, cutting the row in progress (--resume
 * continues it), and the rows measured are summed up; during the close it waits. Once the last
 * row is recorded there is nothing left to cut: the sweep ends as a finished one (its exit code,
 * its summary whole), saying the interrupt came after the last row.
 */
export async function runAll(args: RunArgs, io: RunIO): Promise<number> {
  const signal = io.signal ?? new AbortController().signal;
  if (args.resume && !args.results_file) throw new UsageError(resumeWithoutFile(args));
  const a = await analyzeFromArgs(args, (m) => inputsFromArgs(m, args, { fixedBatch: true }));
  const file = args.results_file ?? defaultResultsFile(args);
  checkOutputFile(file, 'results_file');
  const release = await lockResults(file);
  try {
    return await sweepInto(file, args, a, io, signal);
  } finally {
    await release();
  }
}

/** run_all into `file`, which this run holds (its lock). */
async function sweepInto(file: string, args: RunArgs, a: Awaited<ReturnType<typeof analyzeFromArgs>>, io: RunIO, signal: AbortSignal): Promise<number> {
  const out = io.out;
  const rep = args.rep ?? DEFAULTS.repRunAll;
  const splits = args.splits === undefined ? undefined : splitIndexes(a, args.splits);
  const done = new Set<string>();
  // A file of another kind (a model, an image) is refused by readRows, a CSV of something else here:
  // rows are never appended to it.
  const existing = await readRows(file);
  await checkResultsHeader(file);
  const previous = args.resume ? existing : [];
  if (!args.resume && existing.length > 0) {
    throw new UsageError(`${file} already holds results; use --resume to continue that sweep or choose another --results_file`);
  }
  // A file from before the later columns: its rows count as raw, once the settings match.
  checkRowFields(file, previous);
  const added = previous.length > 0 ? missingLaterColumns(file, previous) : [];
  upgradeRows(previous, added);
  // Failed rows run again; they stay in the file, and the summary uses the rows that succeeded.
  for (const r of previous) if (r.status === 'ok') done.add(doneKey(r.split_index!, r.rep!, String(r.tensor_codec ?? 'raw')));
  const config = buildRunConfig(args as RunFlags);
  const feeds = feedsOf(args, a);
  if (previous.length > 0) checkSameSettings(file, previous, config, a.model.sha256, inputShapesOf(feeds));
  checkRowValues(file, previous, a.splitPoints);
  const selected = a.splitPoints.filter((p) => !splits || splits.includes(p.index));
  const codecs = [...new Set([args.tensor_codec ?? 'raw'].flat())];
  // The rows the sweep plans per split point (one per repetition and codec; a split point that
  // sends nothing, once per repetition, under the first codec) and those of them already measured.
  const plannedAt = (p: (typeof selected)[number]) => rep * plannedReps(a, p, codecs, rep).length;
  const doneAt = (p: (typeof selected)[number]) => plannedAt(p) - plannedReps(a, p, codecs, rep, done).reduce((n, c) => n + c.reps.length, 0);
  const plannedRows = selected.reduce((n, p) => n + plannedAt(p), 0);
  const todo = selected.filter((p) => doneAt(p) < plannedAt(p));
  axisNotes(codecs, selected, out);
  if (added.length) {
    await writeUpgradedResults(file, previous);
    io.err(`onnx-manager: ${file} was written before the column(s) ${added.join(', ')}: added, its ${previous.length} rows kept as they were${added.includes('tensor_codec') ? ' (cut tensors sent raw)' : ''}`);
  }
  const interruptedAtStart = () => {
    io.err(INTERRUPTED_AT_START);
    return INTERRUPTED_EXIT;
  };
  if (signal.aborted) return interruptedAtStart();
  // The progress starts before the run does: over a slow link, putting the cloud parts while the cloud side starts takes a while.
  const progress = new Progress(plannedRows, io.isTTY === true, io.err);
  const doneInPlan = selected.reduce((n, p) => n + doneAt(p), 0);
  progress.advance(doneInPlan, '');
  let s: StartedRun;
  try {
    s = await setUp(args, a, signal, (line) => progress.note(line), (line) => io.err(`onnx-manager: warning: ${line}`), config, feeds, todo);
  } catch (err) {
    progress.stop();
    if (signal.aborted) return interruptedAtStart();
    throw err;
  }
  if (signal.aborted) {
    progress.stop();
    await s.close();
    return interruptedAtStart();
  }
  let csv: CsvAppender;
  try {
    csv = await CsvAppender.open(file);
    // What the resumed sweep left in the bucket (it may have been killed mid-split) goes first.
    const runs = [...new Set(previous.map((r) => String(r.run_id ?? '')).filter((id) => id !== ''))];
    if (runs.length > 0) {
      const cleaned = await cleanRuns(s.ctx.store, runs, s.ctx.backend.payloadFolders);
      if (removedCount(cleaned) > 0) out(`${cleanedLine(cleaned, `run ${runs.join(', ')}`, s.ctx.store.description)} (left by the sweep this one resumes)`);
    }
  } catch (err) {
    progress.stop();
    await s.close();
    throw err;
  }
  const rows: Row[] = [];
  // One line when the store goes away and one when it is back, whether the edge or the cloud worker
  // (or both) found it gone; retries are counted, not printed.
  const down = { edge: false, cloud: false };
  const went = (side: keyof typeof down, line: string) => {
    if (!down.edge && !down.cloud) progress.note(line);
    down[side] = true;
  };
  const back = (side: keyof typeof down, line: string) => {
    if (!down[side]) return;
    down[side] = false;
    if (!down.edge && !down.cloud) progress.note(line);
  };
  const unwatch = s.ctx.store.outages?.on((e) => {
    if (e.kind === 'down') went('edge', `waiting for the store: ${e.reason}`);
    else if (e.kind === 'up') back('edge', `the store is back after ${(e.downMs / 1000).toFixed(1)} s; the interrupted cycle runs again`);
  });
  const unwatchCloud = s.ctx.backend.onStoreOutage?.((e) => {
    if (e.kind === 'down') went('cloud', `the cloud worker is waiting for the store: ${e.reason}`);
    else back('cloud', `the store is back after ${(e.downMs / 1000).toFixed(1)} s for the cloud worker; what it was doing runs again`);
  });
  let storeGone: StoreUnavailableError | undefined;
  try {
    const opts: Parameters<typeof runSweep>[1] = {
      rep,
      done,
      signal,
      onRow: async (row) => {
        await csv.append(row);
        rows.push(row);
        progress.advance(1, `split ${row.split_index} ${row.split_layer}${row.status === 'ok' ? '' : ` (${row.status})`}`);
      },
    };
    if (splits) opts.splits = splits;
    await s.sweep(opts).catch((err: unknown) => {
      // Interrupted: the row in progress is cut, the rows before it stay.
      if (signal.aborted) return;
      if (!(err instanceof StoreUnavailableError)) throw err;
      storeGone = err;
    });
  } finally {
    unwatch?.();
    unwatchCloud?.();
    progress.stop();
    await csv.close();
    await s.close();
  }
  // Every planned row recorded: an interrupt after the last one (while the worker and the store
  // stopped, or the summary was written) cut nothing, and the sweep ends as a finished one does.
  const complete = storeGone === undefined && rows.length === plannedRows - doneInPlan;
  if (signal.aborted && !complete && rows.length === 0 && previous.length === 0) return interruptedAtStart();
  const all = [...previous, ...rows] as Record<string, string | number>[];
  // No row at all (the store went away before the first): no results file, and no summary of nothing.
  const summary = all.length > 0 ? await writeSummary(file, all) : undefined;
  const failed = rows.filter((r) => r.status !== 'ok').length;
  const planned = plannedWords(selected.length, codecs.length > 1 ? selected.filter((p) => runsNoCloudPart(a, p)).map((p) => p.index) : [], rep, codecs);
  // Decided once the summary is written: nothing after this waits, so no later interrupt is heard here.
  const interrupted = signal.aborted && !complete;
  const stopped = interrupted || storeGone !== undefined;
  // A resumed sweep's plan is this run's --splits and --rep: its rows, how many of them the file had
  // (ok rows, of the same split point, repetition and codec; of any codec for a split point that
  // sends nothing), and the file's rows from before in all.
  const resumed = `for ${planned} (${plannedRows} rows; ${doneInPlan} were in the file already, among its ${previous.length} rows from before)`;
  const count = previous.length
    ? `${rows.length} rows ${stopped ? 'before the sweep stopped,' : 'measured now'} ${resumed}`
    : stopped
      ? `${rows.length} rows before the sweep stopped (of ${planned})`
      : `${rows.length} rows (${planned})`;
  out(`${count}${summary ? ` in ${file}; summary in ${summary}` : '; nothing written'}; ${linkLine(s.config)}`);
  if (failed) io.err(`onnx-manager: ${failed} of ${rows.length} rows failed; see the status and error columns of ${file}`);
  // Without --results_file each run writes a new timestamped file: the way back names this one.
  const again = args.results_file ? 'the same command and --resume' : `the same command and --results_file ${file} --resume`;
  if (storeGone) io.err(`onnx-manager: stopped: ${storeGone.message}; continue with ${again} once it is back`);
  if (interrupted) out(`interrupted: continue with ${again}`);
  else if (signal.aborted) out('interrupted after the last row was recorded: the sweep is complete, its results and summary whole');
  for (const line of deviationLines(all)) out(line);
  const bests = bestSplits(all);
  if (bests.length) {
    const where =
      s.config.cloud !== 'local'
        ? ''
        : s.config.link
          ? ` (edge and cloud share this machine; only the link is emulated: ${describeLink(s.config.link)})`
          : ' (edge and cloud share this machine here; run against the real cloud with --cloud, or emulate a link with --bandwidth/--rtt, to choose a split)';
    const measured = selected.filter((p) => all.some((r) => Number(r.split_index) === p.index && r.status === 'ok')).length;
    // A finished sweep whose rows failed at some split points is complete: those have no ok row.
    const sofar = measured < selected.length ? `of the ${measured} of ${selected.length} split points ${stopped ? 'measured so far' : 'with an ok row'}` : '';
    for (const { codec, best } of bests) {
      const qualifiers = [bests.length > 1 ? `tensor codec ${codec}` : '', sofar].filter(Boolean).join('; ');
      out(`fastest measured split${qualifiers ? ` (${qualifiers})` : ''}: ${best.split_index} (${best.split_layer}), median total ${best.total_ms.toFixed(2)} ms, ${humanBytes(best.transfer_bytes)} sent${where}`);
    }
  }
  // Failed rows are in the results (and the summary complete), but the sweep is not a success.
  if (interrupted) return INTERRUPTED_EXIT;
  return failed > 0 || storeGone ? 1 : 0;
}

/**
 * The sweep's plan in words: `count` split points x repetitions (x tensor codecs); with several
 * codecs, the split points among them that send nothing (`alone`, measured under the first codec
 * only) apart, so that the words add up to the rows.
 */
function plannedWords(count: number, alone: readonly number[], rep: number, codecs: readonly string[]): string {
  const reps = counted(rep, 'repetition');
  if (alone.length === 0) return `${counted(count, 'split point')} x ${reps}${codecs.length > 1 ? ` x ${codecs.length} tensor codecs` : ''}`;
  const sent = count - alone.length;
  const once = `split point${alone.length === 1 ? '' : 's'} ${alone.join(', ')}, which send${alone.length === 1 ? 's' : ''} nothing, x ${reps} under ${codecs[0]} only`;
  return sent === 0 ? once : `${counted(sent, 'split point')} x ${reps} x ${codecs.length} tensor codecs, + ${once}`;
}

/**
 * A resumed sweep adds rows only to a file measured the same way: the same model, inputs, link
 * and the settings that change the numbers. The first difference is named.
 */
function checkSameSettings(file: string, previous: Record<string, string | number>[], config: RunConfig, sha256: string, inputShapes: string): void {
  const want = [config.link?.bandwidthMbit ?? '', config.link?.rttMs ?? ''].map(String);
  const row = previous.find((r) => String(r.bandwidth_mbit ?? '') !== want[0] || String(r.rtt_ms ?? '') !== want[1]);
  if (row) {
    const had = row.bandwidth_mbit === '' && row.rtt_ms === '' ? 'no link shaping' : `--bandwidth ${row.bandwidth_mbit || '(none)'} --rtt ${row.rtt_ms}`;
    throw new UsageError(`${file} was measured with ${had}; resume it with the same --bandwidth and --rtt, or choose another --results_file`);
  }
  const now: [column: string, value: string, what: (v: string) => string][] = [
    ['model_sha256', sha256, (v) => `model sha256 ${v.slice(0, 12)}…`],
    ['input_shapes', inputShapes, (v) => `inputs ${v}`],
    ['exec_type', config.execType, (v) => `--exec_type ${v}`],
    ['backend', config.cloud, (v) => `--cloud ${v}`],
    // --threads N sets both sides: named with the side's own flag beside it.
    ['edge_threads', String(config.edgeThreads ?? ''), (v) => (v === '' ? `onnxruntime's default edge threads` : `${counted(Number(v), 'edge thread')} (--threads or --edge_threads)`)],
    ['cloud_threads', String(config.cloudThreads ?? ''), (v) => (v === '' ? `onnxruntime's default cloud threads` : `${counted(Number(v), 'cloud thread')} (--threads or --cloud_threads)`)],
    ['spinning', threadColumns(config).spinning, (v) => `thread spinning ${v}`],
    ['graph_opt', config.graphOptimizationLevel, (v) => `--graph_opt ${v}`],
  ];
  for (const [column, value, what] of now) {
    // The edge-only split point runs no cloud part: its backend column says none.
    const other = previous.find((r) => String(r[column] ?? '') !== value && !(column === 'backend' && r[column] === 'none'));
    if (other) throw new UsageError(`${file} was measured with ${what(String(other[column] ?? ''))}, this run has ${what(value)}; resume it the same way, or choose another --results_file`);
  }
}

/** Per tensor codec, how far the outputs came from the full model's: the largest max_abs_diff and the top-1 agreement over the ok rows. */
export function deviationLines(rows: readonly Record<string, string | number>[]): string[] {
  const by = new Map<string, { diff: number; top1: number[] }>();
  for (const r of rows) {
    if (r.status !== 'ok' || Number(r.transfer_bytes) === 0) continue;
    const codec = String(r.tensor_codec || 'raw');
    const d = by.get(codec) ?? { diff: 0, top1: [] };
    if (r.max_abs_diff !== '' && r.max_abs_diff !== undefined) d.diff = Math.max(d.diff, Number(r.max_abs_diff));
    if (r.top1_agreement !== '' && r.top1_agreement !== undefined) d.top1.push(Number(r.top1_agreement));
    by.set(codec, d);
  }
  return [...by].map(([codec, d]) => {
    const top1 = d.top1.length ? `, top-1 agreement ${((100 * d.top1.reduce((a, b) => a + b, 0)) / d.top1.length).toFixed(1)}% over the ${d.top1.length} rows that sent tensors` : '';
    return `outputs with the cut tensors sent ${codec === 'raw' ? 'raw' : `as ${codec}`}: max |split - full| ${d.diff.toPrecision(3)}${top1}`;
  });
}

/**
 * The fastest split point of each tensor codec's rows, as the summary, the charts and the report
 * find it: the lowest median total_ms over the ok rows (one setting group per codec).
 */
function bestSplits(rows: readonly Record<string, string | number>[]): { codec: string; best: SplitStat }[] {
  const text = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v ?? '')])));
  return groupRows(text, 'run_all').map((g) => ({ codec: g.setting.tensor_codec || 'raw', best: g.best }));
}
