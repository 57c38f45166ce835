/**
 * Benchmark of the sweep's threads (not a test): `node dist/bench/threads-bench.js` (also part of
 * `npm run bench`).
 *
 * On one machine with `--cloud local` the edge and the cloud part never run at the same time in a
 * cycle, so each side gets every core with onnxruntime's thread spinning off (the default). The
 * question is whether the parts then run as fast as the model does: for each model, run_all on the
 * embedded defaults (embedded store, local worker, CPU) over a few split points, and the ratio
 *
 *     median over split points of (median edge_ms + median cloud_ms) / full-model time
 *
 * where the full-model time is the whole model in this process at onnxruntime's defaults (no
 * thread settings): the median of 30 warm runs, measured before, between and after the sweeps of
 * the model, and the median of those three taken (the machine is shared: one measurement alone
 * can land in someone else's busy second).
 * Goal: <= 1.15 with the defaults. For comparison the same sweep with half the cores per side
 * (`--edge_threads N/2 --cloud_threads N/2`, what the sweep gave each side before).
 *
 * Models: squeezenet_like (SqueezeNet 1.1's fire modules, 224x224, built here) and resnet18
 * (the test model builder's real ResNet-18 architecture), random weights.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { runAll, type RunArgs } from '../src/cli/ops/run.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { readRows } from '../src/profile/csv.js';
import { median } from '../src/profile/stats.js';
import { buildRunConfig, edgeSessionOptions } from '../src/config/run-config.js';
import { createSession } from '../src/runtime/ort.js';
import type { SessionOptions } from '../src/runtime/session.js';
import { GraphBuilder, type Value } from '../test/models/builder.js';
import { resnet18Full } from '../test/models/zoo.js';
import { machineInfo, writeBenchJson } from './machine.js';

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

export interface SweepFigures {
  label: string;
  edgeThreads: string;
  cloudThreads: string;
  spinning: string;
  /** Per split point: median edge_ms + median cloud_ms, and that over the full-model time. */
  splits: { index: number; partsMs: number; ratio: number; ratioSame: number }[];
  /** Against the full model at onnxruntime's defaults. */
  medianRatio: number;
  /** Against the full model with the sweep's edge settings (every core, spinning off). */
  medianRatioSame: number;
  /**
   * The middle split points against the sweep's own ends (the whole model on the edge alone and in
   * the cloud alone, the mean of the two): run the same way and in the same minutes as the parts,
   * so the machine's load changes less between them. Not the goal's measure; shown beside it.
   */
  medianRatioEnds: number;
  wallS: number;
}

export interface ThreadsModelResult {
  name: string;
  fullModelMs: number;
  /** The full model with the sweep's edge settings (every core, spinning off). */
  sameSettingsMs: number;
  sweeps: SweepFigures[];
  pass: boolean;
}

async function fullModelMs(bytes: Uint8Array, feeds: Record<string, { type: string; dims: number[]; data: Float32Array }>, options: SessionOptions): Promise<number> {
  const s = await createSession(bytes, options);
  try {
    for (let i = 0; i < 5; i++) await s.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await s.run(feeds);
      times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    await s.release();
  }
}

function withRatios(s: SweepFigures, fullMs: number, sameMs: number): SweepFigures {
  const splits = s.splits.map((x) => ({ ...x, ratio: x.partsMs / fullMs, ratioSame: x.partsMs / sameMs }));
  const ends = (splits[0]!.partsMs + splits.at(-1)!.partsMs) / 2;
  const middle = splits.slice(1, -1);
  return { ...s, splits, medianRatio: median(splits.map((x) => x.ratio)), medianRatioSame: median(splits.map((x) => x.ratioSame)), medianRatioEnds: median(middle.map((x) => x.partsMs / ends)) };
}

async function sweep(m: BenchModel, file: string, dir: string, label: string, extra: Partial<RunArgs>): Promise<SweepFigures> {
  const csv = path.join(dir, `${m.name}-${label.replace(/\W+/g, '_')}.csv`);
  const args: RunArgs = { onnx_file: file, input_shape: [`${m.input}:${m.dims.join('x')}`], rep: 5, warmup: 2, splits: m.splits, results_file: csv, ...extra };
  const t0 = performance.now();
  const out: string[] = [];
  const code = await runAll(args, { out: (s) => out.push(s), err: (s) => !s.startsWith('progress:') && out.push(s), isTTY: false });
  const wallS = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`run_all ${label} on ${m.name} exited ${code}: ${out.join(' | ')}`);
  const rows = (await readRows(csv)).filter((r) => r.status === 'ok');
  const splits = m.splits.map((index) => {
    const mine = rows.filter((r) => Number(r.split_index) === index);
    const partsMs = median(mine.map((r) => Number(r.edge_ms))) + median(mine.map((r) => Number(r.cloud_ms)));
    return { index, partsMs, ratio: 0, ratioSame: 0 };
  });
  const first = rows[0]!;
  return {
    label,
    edgeThreads: String(first.edge_threads),
    cloudThreads: String(first.cloud_threads),
    spinning: String(first.spinning),
    splits,
    medianRatio: 0,
    medianRatioSame: 0,
    medianRatioEnds: 0,
    wallS,
  };
}

export async function runThreadsBench(opts: { outFile?: string | null; print?: boolean } = {}): Promise<{ models: ThreadsModelResult[] }> {
  const print = opts.print ?? true;
  const cores = os.availableParallelism();
  const half = Math.max(1, Math.floor(cores / 2));
  const sweepSettings = edgeSessionOptions(buildRunConfig({}, {}));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onnx-manager-threads-bench-'));
  const models: ThreadsModelResult[] = [];
  const loadStart = os.loadavg();
  try {
    for (const m of THREADS_BENCH_MODELS) {
      const bytes = encodeModel(m.build());
      const file = path.join(dir, `${m.name}.onnx`);
      await writeFile(file, bytes);
      const n = m.dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.sin(i);
      const feeds = { [m.input]: { type: 'float32', dims: m.dims, data } };
      if (print) process.stdout.write(`${m.name}: sweeping... `);
      const full: number[] = [];
      const same: number[] = [];
      const baselines = async () => {
        full.push(await fullModelMs(bytes, feeds, {}));
        same.push(await fullModelMs(bytes, feeds, sweepSettings));
      };
      await baselines();
      const byDefault = await sweep(m, file, dir, 'default', {});
      await baselines();
      const halved = await sweep(m, file, dir, `half the cores each`, { edge_threads: half, cloud_threads: half });
      await baselines();
      const fullMs = median(full);
      const sameMs = median(same);
      const sweeps = [byDefault, halved].map((x) => withRatios(x, fullMs, sameMs));
      if (print) process.stdout.write(`done (full model at onnxruntime's defaults ${full.map((f) => f.toFixed(2)).join(', ')} ms; with the sweep's settings ${same.map((f) => f.toFixed(2)).join(', ')} ms)\n`);
      // Judged against both baselines: the larger ratio counts.
      models.push({ name: m.name, fullModelMs: fullMs, sameSettingsMs: sameMs, sweeps, pass: Math.max(sweeps[0]!.medianRatio, sweeps[0]!.medianRatioSame) <= THREADS_GOAL });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (print) {
    console.log('');
    console.log(`(edge_ms + cloud_ms) / full-model time, median over split points (goal <= ${THREADS_GOAL} with the defaults, against both baselines); ${cores} cores`);
    console.log("full A = the whole model at onnxruntime's defaults, full B = with the sweep's settings (every core, spinning off); ratio A / B against each");
    console.log("ends = the middle split points against the sweep's own ends (the whole model on the edge alone and in the cloud alone), not the goal's measure");
    console.log('model            full A ms  full B ms  sweep                 edge thr  cloud thr  spinning  ratio A  ratio B  ends  per split point (against B)');
    for (const m of models) {
      for (const s of m.sweeps) {
        const per = s.splits.map((x) => `${x.index}:${x.ratioSame.toFixed(2)}`).join(' ');
        const mark = s.label === 'default' ? (m.pass ? ' PASS' : ' FAIL') : '     ';
        console.log(
          `${m.name.padEnd(16)} ${m.fullModelMs.toFixed(2).padStart(9)}  ${m.sameSettingsMs.toFixed(2).padStart(9)}  ${s.label.padEnd(20)}  ${s.edgeThreads.padStart(8)}  ${s.cloudThreads.padStart(9)}  ${s.spinning.padStart(8)}  ${s.medianRatio.toFixed(2).padStart(7)}  ${s.medianRatioSame.toFixed(2).padStart(7)}${mark}  ${s.medianRatioEnds.toFixed(2).padStart(4)}  ${per}`,
        );
      }
    }
  }
  const result = { date: new Date().toISOString(), machine: { ...machineInfo(), loadAverage: { start: loadStart, end: os.loadavg() } }, goal: THREADS_GOAL, models };
  writeBenchJson('threads', result, opts.outFile, print);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runThreadsBench();
}
