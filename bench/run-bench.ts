/**
 * Benchmark of run_all (not a test): `node dist/bench/run-bench.js` (also part of `npm run bench`).
 *
 * For each model (ppocr cls, openwakeword embedding, ppocr det from devDependencies, and the zoo's
 * mobilenet_v2_like and resnet_like written to a temporary folder first), one real run_all sweep on
 * the embedded defaults (embedded S3 server, local cloud worker, CPU): `runAll` from
 * src/cli/ops/run.ts, exactly what `onnx-manager --operation run_all` runs, with --rep 10
 * --warmup 2 and a results file in a temporary folder. Models with more split points than
 * `maxSplits` are swept on a deterministic subset (--splits: every k-th split point, always 0
 * and the last), which the output says.
 *
 * Timed: the wall clock of the whole runAll call, and the sweep inside it, without touching src/:
 * the results CSV is watched (fs.watch), so the header write marks the end of the set-up
 * (analysis, store start, reference run) and each row's append is timestamped. From the CSV:
 *
 *  - glue ratio: median over split points (without the edge-only split, which has no cloud round
 *    trip) of the median over repetitions of total_ms / (edge_ms + transfer_ms + cloud_ms). Goal < 1.5.
 *  - waste ratio: run_all wall time / the work it has to do = sum of the rows' total_ms + the
 *    warm-up cycles (warmup x the split's median total_ms) + per split point edge_load_ms +
 *    cloud_load_ms. The goal (< 1.15 at rep 10) uses this one, where model uploads are not work
 *    (the issue names "the rows' total_ms, the warm-up runs, and the sessions' load time"); the
 *    ratio with model_upload_ms counted as work is shown beside it.
 *  - coefficient of variation of edge_ms over repetitions (median over split points with an edge part).
 *  - rows, failed rows, split points.
 *
 * Then where the time goes: the wall time split into set-up, rows, warm-ups, loads, uploads, time
 * between repetitions outside total_ms, per-split set-up and shut-down (from the row timestamps);
 * the median of every step; and the embedded store's put/get/exists/remove latency and
 * put-to-notification delay against payload size, beside a bare HTTP PUT of the same bytes.
 *
 * Prints tables and writes results/bench/run.json with the raw numbers.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runAll, type RunArgs } from '../src/cli/ops/run.js';
import { analyzeFromArgs } from '../src/cli/options.js';
import { encodeModel } from '../src/onnx/codec.js';
import { readRows } from '../src/profile/csv.js';
import { coefficientOfVariation, median } from '../src/profile/stats.js';
import { startEmbeddedStore } from '../src/storage/embedded.js';
import { projectRoot, realModels, zoo } from '../test/models/zoo.js';
import { machineInfo } from './machine.js';

export const GOALS = { glue: 1.5, waste: 1.15 } as const;

/** The models, in the order they run. */
const REAL_MODELS = ['ppocr_mobile_v2_cls', 'openwakeword_embedding', 'ppocrv4_det'];
const ZOO_MODELS = ['mobilenet_v2_like', 'resnet_like'];
/** Payload sizes of the store latency measurement. */
const STORE_SIZES = [64, 4096, 65536, 262144, 1048576];

export interface RunBenchOptions {
  /** Repetitions per split point (default 10). */
  rep?: number;
  /** Warm-up cycles per split point (default 2). */
  warmup?: number;
  /**
   * At most this many split points per model (default 40, or BENCH_RUN_MAX_SPLITS; 0: all). A
   * model with more is swept on every k-th split point, always with the first and the last.
   */
  maxSplits?: number;
  /**
   * Pass --keep_objects to run_all (default false, or BENCH_RUN_KEEP_OBJECTS=1): no object removes
   * after each cycle, to see what they cost. Not what users run by default.
   */
  keepObjects?: boolean;
  /** Pass --threads N to run_all (default unset: onnxruntime's choice; or BENCH_RUN_THREADS). */
  threads?: number;
  /** Only these models (default: all five, or BENCH_MODELS=name,name). */
  models?: string[];
  /** Measure the embedded store's latency against payload size (default true). */
  storeLatency?: boolean;
  /** Where to write the JSON (default results/bench/run.json; null: do not write). */
  outFile?: string | null;
  /** Print the tables (default true). */
  print?: boolean;
}

interface BenchModel {
  name: string;
  file: string;
  inputShapes: Record<string, number[]>;
  source: 'real' | 'zoo';
}

/** Medians over the split points (each the median over its repetitions) of the CSV's steps. */
export interface StepMedians {
  edge_ms: number;
  encode_ms: number;
  upload_ms: number;
  cloud_download_ms: number;
  cloud_decode_ms: number;
  cloud_ms: number;
  cloud_encode_ms: number;
  /** wait_ms minus the cloud's download, decode, inference and encode: the trigger, the cloud's upload of the result, the notification. */
  wait_rest_ms: number;
  wait_ms: number;
  download_ms: number;
  decode_ms: number;
  transfer_ms: number;
  total_ms: number;
  /** total_ms - edge_ms - transfer_ms - cloud_ms. */
  glue_ms: number;
  transfer_bytes: number;
}

export interface SplitResult {
  index: number;
  layer: string;
  /** 'none' for the edge-only split. */
  backend: string;
  rows: number;
  failed: number;
  /** status and error of the failed rows, as `rep N: status: error`. */
  errors: string[];
  transferBytes: number;
  medianTotalMs: number;
  medianEdgeMs: number;
  glueRatio: number | null;
  edgeCv: number | null;
  edgeLoadMs: number;
  cloudLoadMs: number;
  modelUploadMs: number;
  /** The split point's warm-up cycles as the rows record them (warmup_ms); null in rows without it. */
  warmupMs: number | null;
  /** From the row timestamps: time between the previous split's last row and this one's first row. */
  firstGapMs: number | null;
  /** Median over repetitions 1.. of (time between consecutive rows - the later row's total_ms). */
  betweenRepsMs: number | null;
  /** The sum of the same over repetitions 1.. */
  betweenRepsSumMs: number | null;
}

export interface ModelResult {
  name: string;
  source: 'real' | 'zoo';
  file: string;
  inputShapes: Record<string, number[]>;
  splitPointsInModel: number;
  /** null: every split point; else the --splits list. */
  subset: { step: number; splits: number[] } | null;
  splitPoints: number;
  rows: number;
  failedRows: number;
  rep: number;
  warmup: number;
  wallMs: number;
  /** First row (or header) timestamp to the last row's: null when the CSV could not be watched. */
  sweepMs: number | null;
  /** runAll start to the CSV header: analysis, embedded store, provider check, reference run. */
  beforeSweepMs: number | null;
  /** Last row to the end of runAll: summary, worker and store shut-down. */
  afterSweepMs: number | null;
  work: {
    rowsTotalMs: number;
    /** The warm-up cycles: as the rows record them (warmup_ms), else estimated at the split's median total_ms. */
    warmupEstimateMs: number;
    /** The warm-ups estimated at each split's median total_ms (what this bench counted before the rows recorded them). */
    warmupAtMedianMs: number;
    loadMs: number;
    modelUploadMs: number;
    /** rows + warm-ups + loads: what the goal counts as work. */
    ms: number;
    /** The same with model uploads. */
    withUploadsMs: number;
  };
  /** Where the wall time went (ms); sums to wallMs (split set-up is the remainder). Null when the CSV could not be watched. */
  breakdown: {
    beforeSweep: number;
    rowsTotal: number;
    warmupEstimate: number;
    loads: number;
    modelUploads: number;
    /** Time between repetitions outside total_ms (object removes, CSV append): measured for repetitions 1.., at the split's median for the warm-ups and repetition 0. */
    betweenReps: number;
    /** Rest of the time between split points: building the parts, releasing sessions, first cycles slower than the median, the worker's start. */
    splitSetUp: number;
    afterSweep: number;
  } | null;
  /** Median over split points of the time between repetitions outside total_ms. */
  betweenRepsMedianMs: number | null;
  /** Median over split points (first excluded) of splitSetUp per split point. */
  splitSetUpMedianMs: number | null;
  /** The first split point's set-up remainder (includes starting the cloud worker). */
  firstSplitSetUpMs: number | null;
  glueRatio: number;
  wasteRatio: number;
  /** The same with the warm-ups estimated at each split's median total_ms instead of their recorded time. */
  wasteRatioWarmupsAtMedian: number;
  wasteRatioUploadsAsWork: number;
  /** Sweep time / work: the waste inside the sweep alone. */
  sweepWasteRatio: number | null;
  edgeCv: number;
  steps: StepMedians;
  pass: { glue: boolean; waste: boolean };
  output: string[];
  splits: SplitResult[];
}

export interface StoreLatency {
  bytes: number;
  putMs: number;
  /** From the start of the put to waitFor's notification (waitFor called before the put). */
  putToEventMs: number;
  existsMs: number;
  getMs: number;
  removeMs: number;
  /** A PUT of the same bytes to a bare node:http server in this process (keep-alive). */
  barePutMs: number;
}

export interface RunBenchResult {
  date: string;
  durationSeconds: number;
  machine: { node: string; platform: string; cpus: number; cpuModel: string; totalMemoryBytes: number; loadAverage: { start: number[]; end: number[] } };
  settings: { rep: number; warmup: number; maxSplits: number; keepObjects: boolean; threads: number | null; backend: string; store: string };
  goals: typeof GOALS;
  goalNotes: string[];
  models: ModelResult[];
  storeLatency: StoreLatency[] | null;
}

// ------------------------------------------------------------------------------------ helpers

const ordinal = (k: number): string => `${k}${k % 100 >= 11 && k % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][k % 10] ?? 'th')}`;
const num = (v: unknown): number => (v === '' || v === undefined || v === null ? NaN : Number(v));
const finite = (xs: number[]): number[] => xs.filter((x) => Number.isFinite(x));
const med = (xs: number[]): number => median(finite(xs));
const sum = (xs: number[]): number => finite(xs).reduce((s, x) => s + x, 0);

/** Every k-th index of 0..n-1, with 0 and n-1, at most `max` of them; undefined: all of them. */
export function subsetSplits(n: number, max: number): { step: number; splits: number[] } | undefined {
  if (max <= 0 || n <= max) return undefined;
  const step = Math.ceil((n - 1) / Math.max(1, max - 1));
  const splits: number[] = [];
  for (let i = 0; i < n - 1; i += step) splits.push(i);
  splits.push(n - 1);
  return { step, splits };
}

/**
 * Timestamps the rows appended to a CSV file: watches its folder, and on each event reads the new
 * bytes and gives every new line the event's time (the first line is the header).
 */
class CsvWatcher {
  headerAt?: number;
  readonly rowAt: number[] = [];
  private fd?: number;
  private offset = 0;
  private readonly watcher?: FSWatcher;

  constructor(private readonly file: string) {
    const name = path.basename(file);
    try {
      this.watcher = watch(path.dirname(file), (_event, f) => {
        if (f === name) this.poll();
      });
    } catch {
      // No file watching here: only the wall time is measured.
    }
  }

  private poll(): void {
    const now = performance.now();
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.file, 'r');
      } catch {
        return;
      }
    }
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return;
    const buf = Buffer.alloc(size - this.offset);
    const n = readSync(this.fd, buf, 0, buf.length, this.offset);
    this.offset += n;
    for (let i = 0; i < n; i++) {
      if (buf[i] !== 0x0a) continue;
      if (this.headerAt === undefined) this.headerAt = now;
      else this.rowAt.push(now);
    }
  }

  close(): void {
    this.watcher?.close();
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

// ------------------------------------------------------------------------------------- models

async function prepareModels(tmpRoot: string, only: string[]): Promise<BenchModel[]> {
  const models: BenchModel[] = [];
  for (const name of REAL_MODELS) {
    const r = realModels.find((m) => m.name === name);
    if (!r) throw new Error(`run-bench: real model ${name} is not in test/models/zoo.ts`);
    models.push({ name, file: r.path, inputShapes: Object.fromEntries(r.inputs.map((i) => [i.name, i.dims])), source: 'real' });
  }
  for (const name of ZOO_MODELS) {
    const z = zoo.find((m) => m.name === name);
    if (!z) throw new Error(`run-bench: zoo model ${name} is not in test/models/zoo.ts`);
    const file = path.join(tmpRoot, `${name}.onnx`);
    await writeFile(file, encodeModel(z.build()));
    models.push({ name, file, inputShapes: Object.fromEntries(z.inputs.map((i) => [i.name, i.dims])), source: 'zoo' });
  }
  return models.filter((m) => only.length === 0 || only.includes(m.name));
}

// ------------------------------------------------------------------------------- one model

async function benchModel(
  model: BenchModel,
  tmpRoot: string,
  settings: { rep: number; warmup: number; maxSplits: number; keepObjects: boolean; threads?: number },
  log: (s: string) => void,
): Promise<ModelResult> {
  const { rep, warmup, maxSplits, keepObjects, threads } = settings;
  const inputShape = Object.entries(model.inputShapes).map(([n, d]) => `${n}:${d.join('x')}`);
  // How many split points (outside the timed call; runAll analyses the model again).
  const n = (await analyzeFromArgs({ onnx_file: model.file, input_shape: inputShape })).splitPoints.length;
  const subset = subsetSplits(n, maxSplits);
  const dir = path.join(tmpRoot, model.name);
  mkdirSync(dir, { recursive: true });
  const csv = path.join(dir, `${model.name}.csv`);
  const args: RunArgs = { onnx_file: model.file, input_shape: inputShape, rep, warmup, results_file: csv };
  if (subset) args.splits = subset.splits.map(String);
  if (keepObjects) args.keep_objects = true;
  if (threads) args.threads = threads;
  log(
    `${model.name}: run_all --rep ${rep} --warmup ${warmup}${keepObjects ? ' --keep_objects' : ''}${threads ? ` --threads ${threads}` : ''} over ${subset ? `${subset.splits.length} of ${n} split points (every ${ordinal(subset.step)}, with 0 and ${n - 1})` : `all ${n} split points`}... `,
  );
  const output: string[] = [];
  const watcher = new CsvWatcher(csv);
  const t0 = performance.now();
  let t1: number;
  try {
    // Progress lines (about twenty per sweep) are left out of the record.
    await runAll(args, { out: (s) => output.push(s), err: (s) => !s.startsWith('progress:') && output.push(s), isTTY: false });
  } finally {
    t1 = performance.now();
    // Events still queued are delivered before the watcher is closed.
    await new Promise((r) => setTimeout(r, 20));
    watcher.close();
  }
  const wallMs = t1 - t0;
  log(`${(wallMs / 1000).toFixed(1)} s\n`);

  const rows = await readRows(csv);
  const times = watcher.rowAt.length === rows.length && watcher.headerAt !== undefined ? watcher.rowAt : undefined;
  const bySplit = new Map<number, { row: Record<string, string>; at?: number }[]>();
  rows.forEach((row, i) => {
    const k = Number(row.split_index);
    if (!bySplit.has(k)) bySplit.set(k, []);
    const e: { row: Record<string, string>; at?: number } = { row };
    if (times) e.at = times[i]!;
    bySplit.get(k)!.push(e);
  });

  const splits: SplitResult[] = [];
  let prevLast = times ? watcher.headerAt! : undefined;
  const perRowSteps: Record<keyof StepMedians, number[]> = {
    edge_ms: [], encode_ms: [], upload_ms: [], cloud_download_ms: [], cloud_decode_ms: [], cloud_ms: [], cloud_encode_ms: [],
    wait_rest_ms: [], wait_ms: [], download_ms: [], decode_ms: [], transfer_ms: [], total_ms: [], glue_ms: [], transfer_bytes: [],
  };
  for (const [index, entries] of [...bySplit.entries()].sort((a, b) => a[0] - b[0])) {
    const all = entries.map((e) => e.row);
    const ok = all.filter((r) => r.status === 'ok');
    const first = ok[0] ?? all[0]!;
    const backend = String(first.backend);
    const col = (c: string, rs = ok) => rs.map((r) => num(r[c]));
    const glue = ok.map((r) => num(r.total_ms) / (num(r.edge_ms) + num(r.transfer_ms) + num(r.cloud_ms)));
    const edge = col('edge_ms');
    const hasEdge = edge.some((x) => x > 0);
    const hasCloud = backend !== 'none';
    // Per-split medians of each step (cloud round-trip splits only).
    if (hasCloud && ok.length > 0) {
      const stepOf = (r: Record<string, string>): Record<keyof StepMedians, number> => {
        const cloudWork = num(r.cloud_download_ms) + num(r.cloud_decode_ms) + num(r.cloud_ms) + num(r.cloud_encode_ms);
        return {
          edge_ms: num(r.edge_ms),
          encode_ms: num(r.encode_ms),
          upload_ms: num(r.upload_ms),
          cloud_download_ms: num(r.cloud_download_ms),
          cloud_decode_ms: num(r.cloud_decode_ms),
          cloud_ms: num(r.cloud_ms),
          cloud_encode_ms: num(r.cloud_encode_ms),
          wait_rest_ms: num(r.wait_ms) - cloudWork,
          wait_ms: num(r.wait_ms),
          download_ms: num(r.download_ms),
          decode_ms: num(r.decode_ms),
          transfer_ms: num(r.transfer_ms),
          total_ms: num(r.total_ms),
          glue_ms: num(r.total_ms) - num(r.edge_ms) - num(r.transfer_ms) - num(r.cloud_ms),
          transfer_bytes: num(r.transfer_bytes),
        };
      };
      const s = ok.map(stepOf);
      for (const k of Object.keys(perRowSteps) as (keyof StepMedians)[]) perRowSteps[k].push(med(s.map((x) => x[k])));
    }
    let firstGapMs: number | null = null;
    let betweenRepsMs: number | null = null;
    let betweenRepsSumMs: number | null = null;
    if (times) {
      const at = entries.map((e) => e.at!);
      firstGapMs = at[0]! - prevLast!;
      const gaps = at.slice(1).map((t, i) => t - at[i]! - num(entries[i + 1]!.row.total_ms));
      betweenRepsMs = gaps.length ? med(gaps) : null;
      betweenRepsSumMs = sum(gaps);
      prevLast = at.at(-1)!;
    }
    splits.push({
      index,
      layer: String(first.split_layer),
      backend,
      rows: all.length,
      failed: all.length - ok.length,
      errors: all.filter((r) => r.status !== 'ok').map((r) => `rep ${r.rep}: ${r.status}: ${r.error}`),
      transferBytes: num(first.transfer_bytes),
      medianTotalMs: med(col('total_ms')),
      medianEdgeMs: med(edge),
      glueRatio: hasCloud && ok.length ? med(glue) : null,
      edgeCv: hasEdge && ok.length >= 2 ? coefficientOfVariation(edge) : null,
      edgeLoadMs: num(first.edge_load_ms),
      cloudLoadMs: num(first.cloud_load_ms),
      modelUploadMs: num(first.model_upload_ms),
      warmupMs: first.warmup_ms === undefined || first.warmup_ms === '' ? null : num(first.warmup_ms),
      firstGapMs,
      betweenRepsMs,
      betweenRepsSumMs,
    });
  }

  const rowsTotalMs = sum(rows.map((r) => num(r.total_ms)));
  // Warm-ups as the rows record them (warmup_ms); rows without it: warmup x the split's median total_ms.
  const estimate = (s: SplitResult) => warmup * (Number.isFinite(s.medianTotalMs) ? s.medianTotalMs : 0);
  const warmupOf = (s: SplitResult) => s.warmupMs ?? estimate(s);
  const warmupEstimateMs = sum(splits.map(warmupOf));
  const warmupAtMedianMs = sum(splits.map(estimate));
  const loadMs = sum(splits.map((s) => s.edgeLoadMs + s.cloudLoadMs));
  const modelUploadMs = sum(splits.map((s) => s.modelUploadMs));
  const workMs = rowsTotalMs + warmupEstimateMs + loadMs;
  const work = { rowsTotalMs, warmupEstimateMs, warmupAtMedianMs, loadMs, modelUploadMs, ms: workMs, withUploadsMs: workMs + modelUploadMs };

  let breakdown: ModelResult['breakdown'] = null;
  let sweepMs: number | null = null;
  let beforeSweepMs: number | null = null;
  let afterSweepMs: number | null = null;
  let splitSetUpMedianMs: number | null = null;
  let firstSplitSetUpMs: number | null = null;
  if (times && times.length > 0) {
    beforeSweepMs = watcher.headerAt! - t0;
    afterSweepMs = t1 - times.at(-1)!;
    sweepMs = times.at(-1)! - watcher.headerAt!;
    const betweenPerCycle = (s: SplitResult) => s.betweenRepsMs ?? 0;
    // Measured for repetitions 1..; the warm-ups and repetition 0 (inside the gap before the split's first row) at the split's median.
    const betweenReps = sum(splits.map((s) => (s.betweenRepsSumMs ?? 0) + (warmup + 1) * betweenPerCycle(s)));
    const zero = (x: number) => (Number.isFinite(x) ? x : 0);
    const setUps = splits.map(
      (s) =>
        s.firstGapMs! -
        zero(s.edgeLoadMs + s.cloudLoadMs + s.modelUploadMs) -
        zero(warmupOf(s) + warmup * betweenPerCycle(s)) -
        zero(num(bySplit.get(s.index)![0]!.row.total_ms) + betweenPerCycle(s)),
    );
    firstSplitSetUpMs = setUps[0] ?? null;
    splitSetUpMedianMs = setUps.length > 1 ? med(setUps.slice(1)) : null;
    breakdown = {
      beforeSweep: beforeSweepMs,
      rowsTotal: rowsTotalMs,
      warmupEstimate: warmupEstimateMs,
      loads: loadMs,
      modelUploads: modelUploadMs,
      betweenReps,
      splitSetUp: sum(setUps),
      afterSweep: afterSweepMs,
    };
  }

  const cloudSplits = splits.filter((s) => s.glueRatio !== null);
  const edgeSplits = splits.filter((s) => s.edgeCv !== null);
  const glueRatio = med(cloudSplits.map((s) => s.glueRatio!));
  const wasteRatio = wallMs / work.ms;
  const wasteRatioWarmupsAtMedian = wallMs / (work.ms - work.warmupEstimateMs + work.warmupAtMedianMs);
  const steps = Object.fromEntries(Object.entries(perRowSteps).map(([k, v]) => [k, med(v)])) as unknown as StepMedians;
  return {
    name: model.name,
    source: model.source,
    file: model.source === 'real' ? path.relative(projectRoot(), model.file) : `${model.name}.onnx (written to a temporary folder)`,
    inputShapes: model.inputShapes,
    splitPointsInModel: n,
    subset: subset ?? null,
    splitPoints: splits.length,
    rows: rows.length,
    failedRows: rows.filter((r) => r.status !== 'ok').length,
    rep,
    warmup,
    wallMs,
    sweepMs,
    beforeSweepMs,
    afterSweepMs,
    work,
    breakdown,
    betweenRepsMedianMs: splits.some((s) => s.betweenRepsMs !== null) ? med(splits.map((s) => s.betweenRepsMs ?? NaN)) : null,
    splitSetUpMedianMs,
    firstSplitSetUpMs,
    glueRatio,
    wasteRatio,
    wasteRatioWarmupsAtMedian,
    wasteRatioUploadsAsWork: wallMs / work.withUploadsMs,
    sweepWasteRatio: sweepMs === null ? null : sweepMs / work.ms,
    edgeCv: med(edgeSplits.map((s) => s.edgeCv!)),
    steps,
    pass: { glue: glueRatio < GOALS.glue, waste: wasteRatio < GOALS.waste },
    output,
    splits,
  };
}

// ------------------------------------------------------------------------- store latency

/** The embedded store's latency against payload size, and a bare HTTP PUT of the same bytes. */
async function storeLatency(runs = 25): Promise<StoreLatency[]> {
  const e = await startEmbeddedStore({ bucket: 'run-bench' });
  const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true });
  const barePut = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/x', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  const out: StoreLatency[] = [];
  try {
    for (const bytes of STORE_SIZES) {
      const body = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i += 4096) body[i] = i & 0xff;
      const m = { put: [] as number[], ev: [] as number[], ex: [] as number[], get: [] as number[], rm: [] as number[], bare: [] as number[] };
      for (let i = -2; i < runs; i++) {
        const key = `bench/${bytes}/${i}.pb`;
        const t = performance.now();
        const evented = e.store.waitFor(key, 10_000).then(() => performance.now());
        await e.store.put(key, body);
        const tPut = performance.now();
        const tEv = await evented;
        let s = performance.now();
        await e.store.exists(key);
        const ex = performance.now() - s;
        s = performance.now();
        await e.store.get(key);
        const get = performance.now() - s;
        s = performance.now();
        await e.store.remove([key]);
        const rmMs = performance.now() - s;
        s = performance.now();
        await barePut(body);
        const bare = performance.now() - s;
        if (i < 0) continue; // warm-up
        m.put.push(tPut - t);
        m.ev.push(tEv - t);
        m.ex.push(ex);
        m.get.push(get);
        m.rm.push(rmMs);
        m.bare.push(bare);
      }
      out.push({ bytes, putMs: med(m.put), putToEventMs: med(m.ev), existsMs: med(m.ex), getMs: med(m.get), removeMs: med(m.rm), barePutMs: med(m.bare) });
    }
  } finally {
    agent.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await e.stop();
  }
  return out;
}

// -------------------------------------------------------------------------------- output

const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
function fmt(x: number | null | undefined, digits: number): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function grid(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function mainTable(models: ModelResult[]): string {
  const head = [
    'model',
    'splits',
    'rows',
    'failed',
    'wall s',
    'sweep s',
    'work s',
    `glue (<${GOALS.glue})`,
    `waste (<${GOALS.waste})`,
    'waste, uploads=work',
    'sweep/work',
    'edge CV',
    'total ms',
  ];
  const body = models.map((m) => [
    m.name,
    m.subset ? `${m.splitPoints}/${m.splitPointsInModel}*` : `${m.splitPoints}`,
    String(m.rows),
    String(m.failedRows),
    fmt(m.wallMs / 1000, 1),
    fmt(m.sweepMs === null ? null : m.sweepMs / 1000, 1),
    fmt(m.work.ms / 1000, 1),
    `${fmt(m.glueRatio, 2)} ${mark(m.pass.glue)}`,
    `${fmt(m.wasteRatio, 2)} ${mark(m.pass.waste)}`,
    fmt(m.wasteRatioUploadsAsWork, 2),
    fmt(m.sweepWasteRatio, 2),
    fmt(m.edgeCv, 3),
    fmt(m.steps.total_ms, 1),
  ]);
  return grid(head, body);
}

function breakdownTable(models: ModelResult[]): string {
  const head = ['model', 'wall s', 'set-up', 'rows', 'warm-ups', 'loads', 'uploads', 'between reps', 'split set-up', 'shut-down', 'ms/cycle outside', 'ms/split set-up', '1st split'];
  const pct = (x: number, m: ModelResult) => `${(x / 1000).toFixed(1)} (${((100 * x) / m.wallMs).toFixed(0)}%)`;
  const body = models.map((m) => {
    const b = m.breakdown;
    if (!b) return [m.name, fmt(m.wallMs / 1000, 1), ...Array(11).fill('-')];
    return [
      m.name,
      fmt(m.wallMs / 1000, 1),
      pct(b.beforeSweep, m),
      pct(b.rowsTotal, m),
      pct(b.warmupEstimate, m),
      pct(b.loads, m),
      pct(b.modelUploads, m),
      pct(b.betweenReps, m),
      pct(b.splitSetUp, m),
      pct(b.afterSweep, m),
      fmt(m.betweenRepsMedianMs, 2),
      fmt(m.splitSetUpMedianMs, 1),
      fmt(m.firstSplitSetUpMs, 0),
    ];
  });
  return grid(head, body);
}

function stepTable(models: ModelResult[]): string {
  const keys: (keyof StepMedians)[] = [
    'edge_ms', 'encode_ms', 'upload_ms', 'cloud_download_ms', 'cloud_decode_ms', 'cloud_ms', 'cloud_encode_ms', 'wait_rest_ms', 'download_ms', 'decode_ms', 'total_ms', 'glue_ms',
  ];
  const short: Record<string, string> = {
    edge_ms: 'edge', encode_ms: 'encode', upload_ms: 'upload', cloud_download_ms: 'c.download', cloud_decode_ms: 'c.decode', cloud_ms: 'cloud',
    cloud_encode_ms: 'c.encode', wait_rest_ms: 'wait rest', download_ms: 'download', decode_ms: 'decode', total_ms: 'total', glue_ms: 'glue',
  };
  const head = ['model (median ms)', ...keys.map((k) => short[k]!), 'payload KB'];
  const body = models.map((m) => [m.name, ...keys.map((k) => fmt(m.steps[k], 2)), fmt(m.steps.transfer_bytes / 1024, 1)]);
  return grid(head, body);
}

function storeTable(rows: StoreLatency[]): string {
  const head = ['payload', 'put ms', 'put->event ms', 'exists ms', 'get ms', 'remove ms', 'bare HTTP PUT ms'];
  const size = (b: number) => (b >= 1048576 ? `${b / 1048576} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);
  return grid(
    head,
    rows.map((r) => [size(r.bytes), fmt(r.putMs, 2), fmt(r.putToEventMs, 2), fmt(r.existsMs, 2), fmt(r.getMs, 2), fmt(r.removeMs, 2), fmt(r.barePutMs, 2)]),
  );
}

function defaultOutFile(): string {
  // dist/bench/run-bench.js -> project root
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.join(here, '..', '..', 'results', 'bench', 'run.json');
}

// ---------------------------------------------------------------------------------- main

export async function runRunBench(opts: RunBenchOptions = {}): Promise<RunBenchResult> {
  const started = performance.now();
  const loadStart = os.loadavg();
  const rep = opts.rep ?? 10;
  const warmup = opts.warmup ?? 2;
  const envMax = process.env.BENCH_RUN_MAX_SPLITS;
  const maxSplits = opts.maxSplits ?? (envMax !== undefined && envMax !== '' && Number.isFinite(Number(envMax)) ? Number(envMax) : 40);
  const only = opts.models ?? (process.env.BENCH_MODELS ?? '').split(',').filter(Boolean);
  const keepObjects = opts.keepObjects ?? ['1', 'true'].includes(process.env.BENCH_RUN_KEEP_OBJECTS ?? '');
  const envThreads = Number(process.env.BENCH_RUN_THREADS);
  const threads = opts.threads ?? (Number.isInteger(envThreads) && envThreads > 0 ? envThreads : undefined);
  const print = opts.print ?? true;
  const log = (s: string) => {
    if (print) process.stdout.write(s);
  };
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'onnx-manager-run-bench-'));
  const models: ModelResult[] = [];
  let latency: StoreLatency[] | null = null;
  try {
    log(`run bench: run_all on the embedded store and the local cloud worker, --rep ${rep} --warmup ${warmup}${keepObjects ? ' --keep_objects' : ''}${threads ? ` --threads ${threads}` : ''}, at most ${maxSplits || 'all'} split points per model\n`);
    for (const m of await prepareModels(tmpRoot, only)) models.push(await benchModel(m, tmpRoot, { rep, warmup, maxSplits, keepObjects, ...(threads ? { threads } : {}) }, log));
    if (opts.storeLatency ?? true) {
      log('embedded store latency... ');
      const t = performance.now();
      latency = await storeLatency();
      log(`${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await rm(tmpRoot, { recursive: true, force: true });
  }

  const goalNotes = [
    `glue = median over split points (edge-only split excluded) of median over reps of total_ms / (edge_ms + transfer_ms + cloud_ms); goal < ${GOALS.glue}`,
    `waste = run_all wall time / (sum of rows' total_ms + ${warmup} warm-ups x each split's median total_ms + each split's edge_load_ms + cloud_load_ms); goal < ${GOALS.waste} at rep 10. ` +
      'The goal uses this ratio (model uploads are not work: the issue counts the rows, the warm-up runs and the sessions\' load time); "waste, uploads=work" also counts model_upload_ms as work.',
    'sweep/work = the sweep alone (CSV header to last row) / the same work: without the analysis, store start and reference run before it, and the summary and shut-down after it.',
    'edge CV = median over split points with an edge part of the coefficient of variation (sd/mean) of edge_ms over repetitions.',
  ];
  const result: RunBenchResult = {
    date: new Date().toISOString(),
    durationSeconds: (performance.now() - started) / 1000,
    machine: { ...machineInfo(), loadAverage: { start: loadStart, end: os.loadavg() } },
    settings: { rep, warmup, maxSplits, keepObjects, threads: threads ?? null, backend: 'local (cloud worker process on this machine)', store: 'embedded S3 server' },
    goals: GOALS,
    goalNotes,
    models,
    storeLatency: latency,
  };

  if (print) {
    console.log('');
    console.log(mainTable(models));
    const sub = models.filter((m) => m.subset);
    if (sub.length) {
      console.log(
        `* swept on a subset (--splits: every k-th split point, with the first and the last) to keep the bench short: ${sub
          .map((m) => `${m.name} every ${ordinal(m.subset!.step)} (${m.subset!.splits.length} of ${m.splitPointsInModel})`)
          .join(', ')}. BENCH_RUN_MAX_SPLITS=0 sweeps all.`,
      );
    }
    const failures = models.flatMap((m) => m.splits.flatMap((s) => s.errors.map((e) => `  ${m.name} split ${s.index} (${s.layer}) ${e}`)));
    if (failures.length) {
      console.log(`failed rows (${failures.length}):`);
      for (const f of failures.slice(0, 12)) console.log(f);
      if (failures.length > 12) console.log(`  ... and ${failures.length - 12} more in the JSON`);
    }
    console.log('');
    console.log('Where the wall time goes (s, % of wall):');
    console.log(breakdownTable(models));
    console.log('');
    console.log('Median of each step (median over split points with a cloud part of the median over repetitions):');
    console.log(stepTable(models));
    if (latency) {
      console.log('');
      console.log(`Embedded store (the embedded S3 server via the minio client, this process), median of 25; bare HTTP PUT = the same bytes to a plain node:http server:`);
      console.log(storeTable(latency));
    }
    console.log('');
    console.log('Notes:');
    for (const n of goalNotes) console.log(`  ${n}`);
    console.log('  set-up = runAll start to the CSV header (analysis, embedded store, provider check, full-model reference run); shut-down = last row');
    console.log('  to the end (summary, worker and store stop). rows = sum of total_ms; warm-ups = the estimate above; between reps = time between');
    console.log('  consecutive rows beyond the later row\'s total_ms (object removes after each cycle, CSV append), for the warm-ups and the');
    console.log('  first repetition at the split\'s median; ms/cycle outside = its median;');
    console.log('  split set-up = the rest of the time between split points (parts built, sessions released, first cycles slower than the');
    console.log('  median, and for the first split point starting the cloud worker). Row times come from watching the CSV (fs.watch).');
    console.log('  wait rest = wait_ms - (cloud download + decode + inference + encode): the trigger, the cloud\'s put of the result, the notification.');
    console.log('  warm-ups are the rows\' warmup_ms (their recorded time). Cloud parts are put while the cloud side starts or loads the previous');
    console.log('  split point\'s part: those uploads (in the uploads column) overlap set-up and loads, so split set-up can come out negative.');
  }
  const outFile = opts.outFile === undefined ? defaultOutFile() : opts.outFile;
  if (outFile !== null) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    const tmp = `${outFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(result, null, 2)}\n`);
    renameSync(tmp, outFile);
    if (print) console.log(`\nwrote ${outFile} (${result.durationSeconds.toFixed(0)} s in all)`);
  }
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Goals are reported (table and JSON), not enforced: timings depend on the machine and its load.
  await runRunBench();
}
