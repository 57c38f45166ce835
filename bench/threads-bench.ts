/**
 * Benchmark of the sweep's threads (not a test): `node dist/bench/threads-bench.js [rounds] [pause ms]`
 * (also part of `npm run bench`).
 *
 * On one machine with `--cloud local` the edge and the cloud part never run at the same time in a
 * cycle, so each side gets every core with onnxruntime's thread spinning off (the default). The
 * question is whether the parts then run as fast as the model does: for each model, run_all on the
 * embedded defaults (embedded store, local worker, CPU) over a few split points, and the ratio
 *
 *     median over split points of (median edge_ms + median cloud_ms) / full-model time
 *
 * where the full-model time is the whole model as a deployment runs it: in this process, with the
 * sweep's edge settings (every core, spinning off), each run timed after a pause like a cycle's
 * (`pause`, 10 ms by default: in a cycle each part waits for the other side's part and the
 * transfer), the median of 15 runs. Each part in a cycle runs after such a wait too, so both see
 * the same cold start (threads asleep, caches taken by others). Shown beside it, from the same
 * timings: the whole model's runs back to back with the same settings, and back to back at
 * onnxruntime's defaults (its threads, spinning on), what this bench compared with before.
 *
 * The machine is shared: each model is swept in `rounds` rounds, the whole model timed before the
 * first and after each, and each round's ratios taken against the baselines just before and after
 * it (threads-figures.ts). Goal: <= 1.15 with the defaults. For comparison the same sweep with
 * half the cores per side (`--edge_threads N/2 --cloud_threads N/2`, what the sweep gave each side
 * before), in the same rounds.
 *
 * Models: squeezenet_like (SqueezeNet 1.1's fire modules, 224x224, built here) and resnet18
 * (the test model builder's real ResNet-18 architecture), random weights.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { runAll, type RunArgs } from '../src/cli/ops/run.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { readRows } from '../src/profile/csv.js';
import { median } from '../src/profile/stats.js';
import { buildRunConfig, edgeSessionOptions } from '../src/config/run-config.js';
import { createSession } from '../src/runtime/ort.js';
import type { HostTensor, SessionOptions } from '../src/runtime/session.js';
import { GraphBuilder, type Value } from '../test/models/builder.js';
import { resnet18Full } from '../test/models/zoo.js';
import { machineInfo, writeBenchJson } from './machine.js';
import { summariseSweeps, type Baseline, type SweepSummary } from './threads-figures.js';

export const THREADS_GOAL = 1.15;

/** SqueezeNet 1.1 (fire modules: 1x1 squeeze, 1x1 and 3x3 expand, concatenated), 224x224, 1000 classes. */
export function squeezenetLike(): ModelProto {
  const g = new GraphBuilder('squeezenet_like', 5);
  const fire = (x: Value, s: number, e: number) => {
    const sq = g.relu(g.conv(x, s, 1));
    return g.concat([g.relu(g.conv(sq, e, 1)), g.relu(g.conv(sq, e, 3))], 1);
  };
  let x = g.input('input', [1, 3, 224, 224]);
  x = g.maxPool(g.relu(g.conv(x, 64, 3, { stride: 2, pad: 0 })), 3, { stride: 2 });
  x = g.maxPool(fire(fire(x, 16, 64), 16, 64), 3, { stride: 2 });
  x = g.maxPool(fire(fire(x, 32, 128), 32, 128), 3, { stride: 2 });
  x = fire(fire(fire(fire(x, 48, 192), 48, 192), 64, 256), 64, 256);
  x = g.flatten(g.globalAvgPool(g.relu(g.conv(x, 1000, 1))));
  g.output(x, 'logits');
  return g.build();
}

export interface BenchModel {
  name: string;
  build: () => ModelProto;
  input: string;
  dims: number[];
  /** Split points swept (a spread over the model; the edge-only and cloud-only ends included). */
  splits: number[];
}

export const THREADS_BENCH_MODELS: BenchModel[] = [
  { name: 'squeezenet_like', build: squeezenetLike, input: 'input', dims: [1, 3, 224, 224], splits: [0, 10, 20, 30, 40, 50, 65] },
  { name: 'resnet18', build: resnet18Full, input: 'input', dims: [1, 3, 224, 224], splits: [0, 12, 24, 36, 48, 60, 69] },
];

export interface SweepFigures extends SweepSummary {
  label: string;
  edgeThreads: string;
  cloudThreads: string;
  spinning: string;
  /** Median over the middle split points' rows of a cycle's total_ms. */
  cycleMs: number;
  wallS: number;
}

export interface ThreadsModelResult {
  name: string;
  /** The whole model before the first sweep and after each (medians of their runs), in order. */
  baselines: Baseline[];
  sweeps: SweepFigures[];
  /** The larger of the middle split points' ratios against the paused whole model and against the sweeps' own ends. */
  figure: number;
  pass: boolean;
}

interface OneSweep {
  splits: { index: number; partsMs: number }[];
  edgeThreads: string;
  cloudThreads: string;
  spinning: string;
  cycleMs: number[];
  wallS: number;
}

type Feeds = Record<string, HostTensor>;

/** The median of `runs` timed runs of the whole model, after 5 untimed; with `pauseMs`, each timed run comes after that long idle. */
async function wholeModelMs(bytes: Uint8Array, feeds: Feeds, options: SessionOptions, runs: number, pauseMs = 0): Promise<number> {
  const s = await createSession(bytes, options);
  try {
    for (let i = 0; i < 5; i++) await s.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      if (pauseMs > 0) await sleep(pauseMs);
      const t0 = performance.now();
      await s.run(feeds);
      times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    await s.release();
  }
}

async function baseline(bytes: Uint8Array, feeds: Feeds, sweepSettings: SessionOptions, pauseMs: number): Promise<Baseline> {
  return {
    pausedMs: await wholeModelMs(bytes, feeds, sweepSettings, 15, pauseMs),
    busyMs: await wholeModelMs(bytes, feeds, sweepSettings, 30),
    defaultsMs: await wholeModelMs(bytes, feeds, {}, 30),
  };
}

async function sweep(m: BenchModel, file: string, dir: string, splits: number[], extra: Partial<RunArgs>): Promise<OneSweep> {
  const csv = path.join(dir, `${m.name}.csv`);
  await rm(csv, { force: true });
  const args: RunArgs = { onnx_file: file, input_shape: [`${m.input}:${m.dims.join('x')}`], rep: 5, warmup: 2, splits: splits.map(String), results_file: csv, ...extra };
  const t0 = performance.now();
  const out: string[] = [];
  const code = await runAll(args, { out: (s) => out.push(s), err: (s) => !s.startsWith('progress:') && out.push(s), isTTY: false });
  const wallS = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`run_all --splits ${splits.join(',')} on ${m.name} exited ${code}: ${out.join(' | ')}`);
  const rows = (await readRows(csv)).filter((r) => r.status === 'ok');
  const at = (index: number) => rows.filter((r) => Number(r.split_index) === index);
  const first = rows[0]!;
  return {
    splits: splits.map((index) => ({ index, partsMs: median(at(index).map((r) => Number(r.edge_ms))) + median(at(index).map((r) => Number(r.cloud_ms))) })),
    edgeThreads: String(first.edge_threads),
    cloudThreads: String(first.cloud_threads),
    spinning: String(first.spinning),
    cycleMs: splits.slice(1, -1).flatMap((index) => at(index).map((r) => Number(r.total_ms))),
    wallS,
  };
}

function summary(label: string, sweeps: OneSweep[], baselines: Baseline[], at: number[]): SweepFigures {
  const r = sweeps[0]!;
  return {
    label,
    edgeThreads: r.edgeThreads,
    cloudThreads: r.cloudThreads,
    spinning: r.spinning,
    ...summariseSweeps(sweeps.map((x, i) => ({ splits: x.splits, before: baselines[at[i]!]!, after: baselines[at[i]! + 1]! }))),
    cycleMs: median(sweeps.flatMap((x) => x.cycleMs)),
    wallS: sweeps.reduce((a, x) => a + x.wallS, 0),
  };
}

const f2 = (x: number) => x.toFixed(2);

export interface ThreadsBenchOptions {
  outFile?: string | null;
  print?: boolean;
  /** Sweeps of each middle split point (default 2). */
  rounds?: number;
  /** Idle before each timed run of the paused whole model (default 10 ms). */
  pauseMs?: number;
  /** Also sweep with half the cores per side, in the same rounds (default true). */
  half?: boolean;
  /** Only these models (default: both). */
  models?: string[];
}

export async function runThreadsBench(opts: ThreadsBenchOptions = {}): Promise<{ models: ThreadsModelResult[] }> {
  const print = opts.print ?? true;
  const rounds = opts.rounds ?? 2;
  const pauseMs = opts.pauseMs ?? 10;
  const cores = os.availableParallelism();
  const half = Math.max(1, Math.floor(cores / 2));
  const sweepSettings = edgeSessionOptions(buildRunConfig({}, {}));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onnx-manager-threads-bench-'));
  const models: ThreadsModelResult[] = [];
  const loadStart = os.loadavg();
  try {
    for (const m of THREADS_BENCH_MODELS.filter((x) => !opts.models || opts.models.includes(x.name))) {
      const bytes = encodeModel(m.build());
      const file = path.join(dir, `${m.name}.onnx`);
      await writeFile(file, bytes);
      const n = m.dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.sin(i);
      const feeds: Feeds = { [m.input]: { type: 'float32', dims: m.dims, data } };
      if (print) process.stdout.write(`${m.name}: ${rounds} rounds... `);
      const ends = [m.splits[0]!, m.splits.at(-1)!];
      const kinds: { label: string; extra: Partial<RunArgs>; sweeps: OneSweep[]; at: number[] }[] = [{ label: 'default', extra: {}, sweeps: [], at: [] }];
      if (opts.half ?? true) kinds.push({ label: 'half the cores each', extra: { edge_threads: half, cloud_threads: half }, sweeps: [], at: [] });
      const baselines = [await baseline(bytes, feeds, sweepSettings, pauseMs)];
      for (let r = 0; r < rounds; r++) {
        // Every other round goes through the split points backwards, and the kinds take turns at going first.
        const middle = m.splits.slice(1, -1);
        for (const index of r % 2 === 0 ? middle : middle.reverse()) {
          for (const k of r % 2 === 0 ? kinds : [...kinds].reverse()) {
            k.sweeps.push(await sweep(m, file, dir, [ends[0]!, index, ends[1]!], k.extra));
            k.at.push(baselines.length - 1);
            baselines.push(await baseline(bytes, feeds, sweepSettings, pauseMs));
          }
        }
      }
      const sweeps = kinds.map((k) => summary(k.label, k.sweeps, baselines, k.at));
      const figure = Math.max(sweeps[0]!.middleRatio.pausedMs, sweeps[0]!.endsRatio);
      if (print) process.stdout.write(`done (whole model, paused: ${f2(median(baselines.map((b) => b.pausedMs)))} ms; back to back: ${f2(median(baselines.map((b) => b.busyMs)))} ms; onnxruntime's defaults: ${f2(median(baselines.map((b) => b.defaultsMs)))} ms, medians of ${baselines.length})\n`);
      models.push({ name: m.name, baselines, sweeps, figure, pass: figure <= THREADS_GOAL });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const loadEnd = os.loadavg();
  if (print) {
    console.log('');
    console.log(`(edge_ms + cloud_ms) / whole model, median over the middle split points of the median over ${rounds} sweeps each; ${cores} cores, load ${loadStart.map(f2).join(' ')} -> ${loadEnd.map(f2).join(' ')}`);
    console.log(`paused = the whole model in this process with the sweep's settings, each run after ${pauseMs} ms idle, timed before and after each sweep; ends = against the same sweep's ends (the whole model in the cloud alone and on the edge alone)`);
    console.log(`goal: the larger of paused and ends <= ${THREADS_GOAL} with the defaults; shown beside: busy = the paused baseline's settings back to back, defaults = onnxruntime's defaults back to back (spinning on), all = every split point, the ends included`);
    console.log('model            sweep                edge thr  cloud thr  spinning  paused  ends       busy  defaults  all   cycle ms  per split point (paused/ends)');
    for (const m of models) {
      for (const s of m.sweeps) {
        const per = s.splits.map((x) => `${x.index}:${f2(x.ratio.pausedMs)}/${f2(x.endsRatio)}`).join(' ');
        const mark = s.label === 'default' ? (m.pass ? ' PASS' : ' FAIL') : '     ';
        console.log(
          `${m.name.padEnd(16)} ${s.label.padEnd(20)} ${s.edgeThreads.padStart(8)}  ${s.cloudThreads.padStart(9)}  ${s.spinning.padStart(8)}  ${f2(s.middleRatio.pausedMs).padStart(6)}  ${f2(s.endsRatio).padStart(4)}${mark}  ${f2(s.middleRatio.busyMs).padStart(4)}  ${f2(s.middleRatio.defaultsMs).padStart(8)}  ${f2(s.allRatio.pausedMs).padStart(4)}  ${f2(s.cycleMs).padStart(8)}  ${per}`,
        );
      }
    }
  }
  const result = { date: new Date().toISOString(), machine: { ...machineInfo(), loadAverage: { start: loadStart, end: loadEnd } }, goal: THREADS_GOAL, rounds, pauseMs, models };
  writeBenchJson('threads', result, opts.outFile, print);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [rounds, pause, model] = process.argv.slice(2);
  await runThreadsBench({ ...(rounds ? { rounds: Number(rounds) } : {}), ...(pause ? { pauseMs: Number(pause) } : {}), ...(model ? { models: [model] } : {}) });
}
