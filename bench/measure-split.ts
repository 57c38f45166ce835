/**
 * One model's split-engine measurement, run in its own process so that its peak memory is its own:
 *
 *   node dist/bench/measure-split.js <job.json>      (job: see MeasureJob; the result goes to job.resultFile)
 *   node dist/bench/measure-split.js --baseline <result.json>
 *
 * --baseline only imports the same modules and reports the process's memory: the fixed cost
 * that the model measurements are compared against.
 */
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../src/onnx/model.js';
import { createSession } from '../src/runtime/ort.js';
import { analyzeModel, type ModelAnalysis } from '../src/split/analysis.js';
import { buildParts, splitFolder, writeAllSplits } from '../src/split/split.js';
import { listFiles, syncDisks, type FileEntry } from './fs-walk.js';
import { currentRssKb, maxRssKb, peakResettable, phase, type PhaseMemory } from './memory.js';

export interface MeasureJob {
  name: string;
  /** The .onnx file. */
  file: string;
  inputShapes: Record<string, number[]>;
  /** Folder under which this process makes (and removes) its temporary output folders. */
  tmpRoot: string;
  resultFile: string;
  /** split_model_all and the baseline are each run this many times, alternating which goes first; the best counts. */
  rounds: number;
}

export interface SplitPointInfo {
  index: number;
  position: number;
  splitLayer: string;
  cutTensors: string[];
  transferBytes: number;
}

export interface MeasureResult {
  name: string;
  file: string;
  modelBytes: number;
  modelInputs: string[];
  modelOutputs: string[];
  splitPoints: SplitPointInfo[];
  /** loadModel, and analyzeModel (graph index, shape run with onnxruntime, costs, split points). */
  loadMs: number;
  analyseMs: number;
  /** buildParts for every split point, in memory. */
  build: { totalMs: number; perSplitMs: number[]; partBytes: number };
  /**
   * writeAllSplits into an empty folder, best of the rounds: the total (with manifest and renames)
   * and that round's time per split point (build + write of its parts); minPerSplitMs is each
   * split point's best over all rounds. firstRunMs: the untimed first run (cold; not in the ratios).
   */
  write: { totalMs: number; perSplitMs: number[]; minPerSplitMs: number[]; roundsMs: number[]; firstRunMs: number; files: number; bytes: number };
  /** The same files (count, sizes, folders) written as plain files from a pre-filled buffer, best of the rounds. */
  baseline: { totalMs: number; roundsMs: number[]; files: number; bytes: number };
  /** Per split point, alternating: writeAllSplits on that split point alone vs plain writes of its files (see pairedRun). */
  paired: PairedResult;
  memory: {
    peakResettable: boolean;
    importsKb: number;
    load: PhaseMemory;
    analyse: PhaseMemory;
    build: PhaseMemory;
    write: PhaseMemory;
    /** Largest of the load, analyse, build and first split_all peaks (the baselines are left out). */
    peakKb: number;
  };
}

export interface BaselineResult {
  importsKb: number;
  maxRssKb: number;
}

export interface PairedResult {
  /** Wall time per split point. */
  oursMs: number[];
  baselineMs: number[];
  /** Process CPU time (user + system, all threads) summed over the split points of each side. */
  cpu: { oursMs: number; baselineMs: number };
}

interface SplitAllRun {
  totalMs: number;
  perSplitMs: number[];
  files: FileEntry[];
  memory: PhaseMemory;
}

/** split_model_all into a fresh folder, timed per split point; the folder is removed afterwards. */
async function splitAllOnce(a: ModelAnalysis, job: MeasureJob): Promise<SplitAllRun> {
  syncDisks();
  const dir = await mkdtemp(path.join(job.tmpRoot, `${job.name}-split-`));
  try {
    const run = await phase(async () => {
      const perSplitMs: number[] = [];
      const t0 = performance.now();
      let last = t0;
      await writeAllSplits(a, path.join(dir, 'out'), {
        onSplit: () => {
          const now = performance.now();
          perSplitMs.push(now - last);
          last = now;
        },
      });
      return { totalMs: performance.now() - t0, perSplitMs };
    });
    return { ...run.value, files: await listFiles(path.join(dir, 'out')), memory: run.memory };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes the same files (paths and sizes) as plain files, one write of a pre-filled buffer each, into a fresh folder. */
async function baselineOnce(files: FileEntry[], job: MeasureJob): Promise<number> {
  syncDisks();
  const fill = Buffer.alloc(files.reduce((m, f) => Math.max(m, f.bytes), 0), 0x5a);
  const dir = await mkdtemp(path.join(job.tmpRoot, `${job.name}-baseline-`));
  try {
    const t0 = performance.now();
    const made = new Set<string>();
    for (const f of files) {
      const target = path.join(dir, 'out', f.rel);
      const parent = path.dirname(target);
      if (!made.has(parent)) {
        await mkdir(parent, { recursive: true });
        made.add(parent);
      }
      const h = await open(target, 'w');
      try {
        await h.write(fill, 0, f.bytes, 0);
      } finally {
        await h.close();
      }
    }
    const ms = performance.now() - t0;
    const written = await listFiles(path.join(dir, 'out'));
    if (written.length !== files.length || written.some((w, i) => w.rel !== files[i]!.rel || w.bytes !== files[i]!.bytes)) {
      throw new Error('the baseline did not write the same files');
    }
    return ms;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The same comparison split point by split point, alternating which goes first, so that both
 * sides see the same machine state (the whole-run totals swing with the page cache and with other
 * load): writeAllSplits on an analysis holding only that split point (its folder plus a one-split
 * manifest), against plain writes of the same folder's files plus one file of the average
 * per-split manifest size.
 */
async function pairedRun(a: ModelAnalysis, files: FileEntry[], job: MeasureJob): Promise<PairedResult> {
  const byFolder = new Map<string, FileEntry[]>();
  for (const f of files) {
    const slash = f.rel.indexOf('/');
    if (slash < 0) continue;
    const folder = f.rel.slice(0, slash);
    if (!byFolder.has(folder)) byFolder.set(folder, []);
    byFolder.get(folder)!.push(f);
  }
  const manifestBytes = Math.round((files.find((f) => f.rel === 'manifest.json')?.bytes ?? 0) / Math.max(1, a.splitPoints.length));
  const fill = Buffer.alloc(files.reduce((m, f) => Math.max(m, f.bytes), manifestBytes), 0x5a);
  syncDisks();
  const root = await mkdtemp(path.join(job.tmpRoot, `${job.name}-paired-`));
  const oursMs: number[] = [];
  const baselineMs: number[] = [];
  const cpu = { oursMs: 0, baselineMs: 0 };
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  try {
    for (const [i, point] of a.splitPoints.entries()) {
      const folder = splitFolder(point.index);
      const mine = byFolder.get(folder) ?? [];
      const ours = async () => {
        const dir = path.join(root, `ours-${i}`);
        const c = process.cpuUsage();
        const t = performance.now();
        await writeAllSplits({ ...a, splitPoints: [point] }, dir);
        oursMs.push(performance.now() - t);
        cpu.oursMs += cpuMs(process.cpuUsage(c));
        await rm(dir, { recursive: true, force: true });
      };
      const plain = async () => {
        const dir = path.join(root, `plain-${i}`);
        const c = process.cpuUsage();
        const t = performance.now();
        await mkdir(path.join(dir, folder), { recursive: true });
        for (const f of [...mine, { rel: 'manifest.json', bytes: manifestBytes }]) {
          const h = await open(path.join(dir, f.rel), 'w');
          try {
            await h.write(fill, 0, f.bytes, 0);
          } finally {
            await h.close();
          }
        }
        baselineMs.push(performance.now() - t);
        cpu.baselineMs += cpuMs(process.cpuUsage(c));
        await rm(dir, { recursive: true, force: true });
      };
      if (i % 2 === 0) {
        await ours();
        await plain();
      } else {
        await plain();
        await ours();
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return { oursMs, baselineMs, cpu };
}

async function measure(job: MeasureJob): Promise<MeasureResult> {
  const resettable = peakResettable();
  const importsKb = currentRssKb();

  let t = performance.now();
  const load = await phase(() => loadModel(job.file));
  const loadMs = performance.now() - t;
  const model = load.value;

  t = performance.now();
  const analyse = await phase(() => analyzeModel(model, { createSession, inputShapes: job.inputShapes }));
  const analyseMs = performance.now() - t;
  const a = analyse.value;

  // Every split point's parts in memory; each is dropped before the next.
  const build = await phase(() => {
    const perSplitMs: number[] = [];
    let partBytes = 0;
    const t0 = performance.now();
    for (const point of a.splitPoints) {
      const s = performance.now();
      const parts = buildParts(a, [point.position]);
      perSplitMs.push(performance.now() - s);
      for (const p of parts) partBytes += p.part.model.byteLength + (p.part.external?.byteLength ?? 0);
    }
    return { totalMs: performance.now() - t0, perSplitMs, partBytes };
  });

  // A first split_model_all: its memory is the split_all phase's (no baseline buffer exists yet), its
  // files are what the baselines write, and it warms the page cache and the code up. Not in the ratios.
  const first = await splitAllOnce(a, job);
  const files = first.files;
  const paired = await pairedRun(a, files, job);
  // split_model_all and the plain-write baseline, alternating which goes first, best of `rounds`.
  const rounds = Math.max(1, job.rounds);
  const writes: SplitAllRun[] = [];
  const baselines: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 1) baselines.push(await baselineOnce(files, job));
    writes.push(await splitAllOnce(a, job));
    if (r % 2 === 0) baselines.push(await baselineOnce(files, job));
  }
  const best = writes.reduce((x, y) => (y.totalMs < x.totalMs ? y : x));
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  const writeMemory = first.memory;

  const phases = [load.memory, analyse.memory, build.memory, writeMemory];
  return {
    name: job.name,
    file: job.file,
    modelBytes: model.bytes.byteLength,
    modelInputs: a.index.inputs,
    modelOutputs: a.index.outputs,
    splitPoints: a.splitPoints.map((p) => ({
      index: p.index,
      position: p.position,
      splitLayer: p.splitLayer,
      cutTensors: p.cutTensors.map((c) => c.name),
      transferBytes: p.transferBytes,
    })),
    loadMs,
    analyseMs,
    build: build.value,
    write: {
      totalMs: best.totalMs,
      perSplitMs: best.perSplitMs,
      minPerSplitMs: best.perSplitMs.map((_, i) => Math.min(...writes.map((w) => w.perSplitMs[i]!))),
      roundsMs: writes.map((w) => w.totalMs),
      firstRunMs: first.totalMs,
      files: files.length,
      bytes,
    },
    baseline: { totalMs: Math.min(...baselines), roundsMs: baselines, files: files.length, bytes },
    paired,
    memory: {
      peakResettable: resettable,
      importsKb,
      load: load.memory,
      analyse: analyse.memory,
      build: build.memory,
      write: writeMemory,
      peakKb: Math.max(...phases.map((p) => p.peakKb)),
    },
  };
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--baseline' && argv.length === 2) {
    const r: BaselineResult = { importsKb: currentRssKb(), maxRssKb: maxRssKb() };
    await writeFile(argv[1]!, JSON.stringify(r));
    return 0;
  }
  if (argv.length !== 1) {
    console.error('usage: node dist/bench/measure-split.js <job.json> | --baseline <result.json>');
    return 2;
  }
  const job = JSON.parse(await readFile(argv[0]!, 'utf8')) as MeasureJob;
  const result = await measure(job);
  await writeFile(job.resultFile, JSON.stringify(result));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
