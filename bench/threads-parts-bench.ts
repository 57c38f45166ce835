/**
 * Where the parts' time goes against the whole model's (not a test): `node dist/bench/threads-parts-bench.js
 * [squeezenet_like|resnet18] [pause ms]`. threads-bench measures the sweep; this measures the
 * same parts in one process, so what the sweep adds (store, worker, encoding) is left out and
 * what is left is the parts' own cost and the pauses of a cycle.
 *
 * For each model and each middle split point of threads-bench, both parts and the whole model
 * are loaded with the same settings, then in every round, one after the other (so that every
 * figure sees the same load of a shared machine):
 *  - back to back: each session run twice in a row, the second timed (F for the whole model, P1
 *    and P2 for the parts);
 *  - after a pause: each session timed on its first run after `pause` ms idle (Fg, P1g, P2g),
 *    as every part runs in a sweep's cycle (the other side runs, or the payload moves, meanwhile);
 *  - idle CPU: what the process burns in the pause after a run (spinning onnxruntime threads).
 * Ratios are taken per round, then the median over the rounds:
 *    split = (P1 + P2) / F         the parts' own cost (cut tensors in the standard layout, two runs)
 *    cycle = (P1g + P2g) / F       what a sweep's cycle sees, against the model back to back
 *    paused = (P1g + P2g) / Fg     the same against the model run after the same pause
 * and the same two in CPU time (of every thread of the process, onnxruntime's included: the
 * work the parts do, which the machine's load does not change, where wall time waits for a core
 * as long as other programs keep it):
 *    cpu split, cpu paused
 * Settings: the sweep's (every core, spinning off), onnxruntime's defaults (spinning on), and every
 * core with spinning during a run only (session.force_spinning_stop = 1).
 */
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { buildRunConfig, edgeSessionOptions } from '../src/config/run-config.js';
import { encodeModel } from '../src/onnx/codec.js';
import { modelFromBytes } from '../src/onnx/model.js';
import { median } from '../src/profile/stats.js';
import { createSession } from '../src/runtime/ort.js';
import type { HostTensor, Session, SessionOptions } from '../src/runtime/session.js';
import { analyzeModel } from '../src/split/analysis.js';
import { buildPointParts } from '../src/split/split.js';
import { machineInfo, writeBenchJson } from './machine.js';
import { THREADS_BENCH_MODELS } from './threads-bench.js';

const ROUNDS = 15;

export interface PartsFigures {
  model: string;
  settings: string;
  split: number;
  fullMs: number;
  fullPausedMs: number;
  splitRatio: number;
  cycleRatio: number;
  pausedRatio: number;
  idleCpuMs: number;
  /** The whole model's CPU time per run after a pause (every thread of the process). */
  fullPausedCpuMs: number;
  cpuSplitRatio: number;
  cpuPausedRatio: number;
}

interface Timing {
  wall: number;
  cpu: number;
}

async function timed(s: Session, feeds: Record<string, HostTensor>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await s.run(feeds);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** (a + b) / c in wall and in CPU time. */
function ratios(a: Timing, b: Timing, c: Timing): Timing {
  return { wall: (a.wall + b.wall) / c.wall, cpu: (a.cpu + b.cpu) / c.cpu };
}

export async function runThreadsPartsBench(opts: { models?: string[]; pauseMs?: number; outFile?: string | null; print?: boolean } = {}): Promise<{ rows: PartsFigures[] }> {
  const print = opts.print ?? true;
  const pause = opts.pauseMs ?? 10;
  const settings: [string, SessionOptions][] = [
    ['every core, spinning off', edgeSessionOptions(buildRunConfig({}, {}))],
    ["onnxruntime's defaults", {}],
    // Spinning between a run's operators, stopped when the run ends (the side that waits spins not).
    ['every core, spin in runs', { ...edgeSessionOptions(buildRunConfig({ spinning: 'on' }, {})), stopSpinningAfterRun: true }],
  ];
  const rows: PartsFigures[] = [];
  const loadStart = os.loadavg();
  for (const m of THREADS_BENCH_MODELS.filter((x) => !opts.models || opts.models.includes(x.name))) {
    const bytes = encodeModel(m.build());
    const n = m.dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.sin(i);
    const feeds: Record<string, HostTensor> = { [m.input]: { type: 'float32', dims: m.dims, data } };
    const a = await analyzeModel(modelFromBytes(bytes), { createSession, inputShapes: { [m.input]: m.dims } });
    const middle = m.splits.slice(1, -1);
    for (const [label, options] of settings) {
      const full = await createSession(bytes, options);
      for (const index of middle) {
        const point = a.splitPoints.find((p) => p.index === index)!;
        const [s1, s2] = await Promise.all(buildPointParts(a, point).map((p) => createSession(p.part.model.concat(), options)));
        const mid = await s1!.run(feeds);
        const feeds2 = Object.fromEntries(s2!.inputNames.map((name) => [name, mid[name] ?? feeds[name]!]));
        const r = { F: [] as number[], Fg: [] as number[], FgCpu: [] as number[], split: [] as Timing[], cycle: [] as number[], paused: [] as Timing[], idle: [] as number[] };
        for (let round = -2; round < ROUNDS; round++) {
          await full.run(feeds);
          const F = await timed(full, feeds);
          await s1!.run(feeds);
          const P1 = await timed(s1!, feeds);
          await s2!.run(feeds2);
          const P2 = await timed(s2!, feeds2);
          const c0 = process.cpuUsage();
          await sleep(pause);
          const c = process.cpuUsage(c0);
          const Fg = await timed(full, feeds);
          await sleep(pause);
          const P1g = await timed(s1!, feeds);
          await sleep(pause);
          const P2g = await timed(s2!, feeds2);
          if (round < 0) continue;
          r.F.push(F.wall);
          r.Fg.push(Fg.wall);
          r.FgCpu.push(Fg.cpu);
          r.split.push(ratios(P1, P2, F));
          r.cycle.push((P1g.wall + P2g.wall) / F.wall);
          r.paused.push(ratios(P1g, P2g, Fg));
          r.idle.push((c.user + c.system) / 1000);
        }
        await s1!.release();
        await s2!.release();
        const wall = (x: Timing[]) => median(x.map((t) => t.wall));
        const cpu = (x: Timing[]) => median(x.map((t) => t.cpu));
        rows.push({
          model: m.name,
          settings: label,
          split: index,
          fullMs: median(r.F),
          fullPausedMs: median(r.Fg),
          splitRatio: wall(r.split),
          cycleRatio: median(r.cycle),
          pausedRatio: wall(r.paused),
          idleCpuMs: median(r.idle),
          fullPausedCpuMs: median(r.FgCpu),
          cpuSplitRatio: cpu(r.split),
          cpuPausedRatio: cpu(r.paused),
        });
      }
      await full.release();
    }
  }
  if (print) {
    console.log(`parts in one process, median of ${ROUNDS} rounds, pause ${pause} ms; ${os.availableParallelism()} cores, load ${loadStart.map((l) => l.toFixed(1)).join(' ')} -> ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('model            settings                   split  full ms  paused ms  split  cycle  paused  idle CPU ms  paused CPU ms  cpu split  cpu paused');
    for (const x of rows) {
      console.log(
        `${x.model.padEnd(16)} ${x.settings.padEnd(25)} ${String(x.split).padStart(6)}  ${x.fullMs.toFixed(2).padStart(7)}  ${x.fullPausedMs.toFixed(2).padStart(9)}  ${x.splitRatio.toFixed(2).padStart(5)}  ${x.cycleRatio.toFixed(2).padStart(5)}  ${x.pausedRatio.toFixed(2).padStart(6)}  ${x.idleCpuMs.toFixed(1).padStart(11)}  ${x.fullPausedCpuMs.toFixed(2).padStart(13)}  ${x.cpuSplitRatio.toFixed(2).padStart(9)}  ${x.cpuPausedRatio.toFixed(2).padStart(10)}`,
      );
    }
  }
  const result = { date: new Date().toISOString(), machine: { ...machineInfo(), loadAverage: { start: loadStart, end: os.loadavg() } }, pauseMs: pause, rounds: ROUNDS, rows };
  writeBenchJson('threads-parts', result, opts.outFile, print);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [model, pause] = process.argv.slice(2);
  await runThreadsPartsBench({ ...(model ? { models: [model] } : {}), ...(pause ? { pauseMs: Number(pause) } : {}) });
}
