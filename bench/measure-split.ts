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
import { analyzeModel } from '../src/split/analysis.js';
import { buildParts, writeAllSplits } from '../src/split/split.js';
import { listFiles, syncDisks } from './fs-walk.js';
import { currentRssKb, maxRssKb, peakResettable, phase, type PhaseMemory } from './memory.js';

export interface MeasureJob {
  name: string;
  /** The .onnx file. */
  file: string;
  inputShapes: Record<string, number[]>;
  /** Folder under which this process makes (and removes) its temporary output folders. */
  tmpRoot: string;
  resultFile: string;
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
  /** writeAllSplits into an empty folder: per split point (build + write of its parts), and the total with manifest and renames. */
  write: { totalMs: number; perSplitMs: number[]; files: number; bytes: number };
  /** The same files (count and sizes, same folders) written as plain files from a pre-filled buffer. */
  baseline: { totalMs: number; files: number; bytes: number };
  memory: {
    peakResettable: boolean;
    importsKb: number;
    load: PhaseMemory;
    analyse: PhaseMemory;
    build: PhaseMemory;
    write: PhaseMemory;
    /** Largest of the load, analyse, build and write peaks (the baseline write is left out). */
    peakKb: number;
  };
}

export interface BaselineResult {
  importsKb: number;
  maxRssKb: number;
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

  // split_model_all into a fresh folder.
  syncDisks();
  const outDir = await mkdtemp(path.join(job.tmpRoot, `${job.name}-split-`));
  const write = await phase(async () => {
    const perSplitMs: number[] = [];
    const t0 = performance.now();
    let last = t0;
    await writeAllSplits(a, path.join(outDir, 'out'), {
      onSplit: () => {
        const now = performance.now();
        perSplitMs.push(now - last);
        last = now;
      },
    });
    return { totalMs: performance.now() - t0, perSplitMs };
  });
  const files = await listFiles(path.join(outDir, 'out'));
  await rm(outDir, { recursive: true, force: true });
  syncDisks();

  // Baseline: the same files as plain writes of a pre-filled buffer, into a fresh folder.
  const maxBytes = files.reduce((m, f) => Math.max(m, f.bytes), 0);
  const fill = Buffer.alloc(maxBytes, 0x5a);
  const baseDir = await mkdtemp(path.join(job.tmpRoot, `${job.name}-baseline-`));
  const t0 = performance.now();
  const made = new Set<string>();
  for (const f of files) {
    const target = path.join(baseDir, 'out', f.rel);
    const dir = path.dirname(target);
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    const h = await open(target, 'w');
    try {
      await h.write(fill, 0, f.bytes, 0);
    } finally {
      await h.close();
    }
  }
  const baselineMs = performance.now() - t0;
  const baselineFiles = await listFiles(path.join(baseDir, 'out'));
  await rm(baseDir, { recursive: true, force: true });
  syncDisks();
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  const baselineBytes = baselineFiles.reduce((s, f) => s + f.bytes, 0);
  if (baselineBytes !== bytes || baselineFiles.length !== files.length) throw new Error('baseline did not write the same files');

  const phases = [load.memory, analyse.memory, build.memory, write.memory];
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
    write: { ...write.value, files: files.length, bytes },
    baseline: { totalMs: baselineMs, files: baselineFiles.length, bytes: baselineBytes },
    memory: {
      peakResettable: resettable,
      importsKb,
      load: load.memory,
      analyse: analyse.memory,
      build: build.memory,
      write: write.memory,
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
