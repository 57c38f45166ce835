/**
 * Benchmark of the split engine (not a test): `npm run bench`.
 *
 * For each model (the real models from devDependencies, and the full-size MobileNetV2 and
 * ResNet-18 written to a temporary folder first so every model is loaded from disk), one child
 * process (dist/bench/measure-split.js) measures load + analyse, building every split point's
 * parts in memory, split_model_all to disk, a plain-write baseline of the same files, and its
 * peak memory. Then, where Python's onnx is installed, onnx.utils.extract_model (the reference
 * splitter) is timed on a few split points of some models.
 *
 * Prints a table and writes results/bench/split.json with the raw numbers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/onnx/codec.js';
import { fullSizeZoo, projectRoot, realModels } from '../test/models/zoo.js';
import type { BaselineResult, MeasureJob, MeasureResult } from './measure-split.js';
import { INSTALL_HINT, referenceAvailability, runReference, sampleSingleTensorCuts, type ReferenceRun } from './reference.js';
import { machineInfo } from './machine.js';

const GOALS = { writeOverBaseline: 1.5, rssOverModel: 3, speedUp: 60 } as const;
/**
 * Models the reference splitter is timed on, and how many split points each. On the PP-OCR cls
 * model extract_model takes 15-40 s per split point (its weights are Constant nodes, and
 * Extractor._dfs_search_reachable_nodes tests `node in list` with protobuf equality), so one point
 * is enough there to keep the bench within a few minutes.
 */
const REFERENCE_CUTS: Record<string, number> = { ppocr_mobile_v2_cls: 1, mobilenet_v2: 3, resnet18: 3 };
/** split_model_all and its baseline are each run this many times (alternating order); the best of each counts. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2) || 2);

interface BenchModel {
  name: string;
  file: string;
  inputShapes: Record<string, number[]>;
  source: 'real' | 'full-size zoo';
}

interface ReferenceRow {
  cuts: { index: number; cutTensor: string; extractSeconds: number; extractBytes: number; oursWriteMs: number }[];
  extractSecondsPerSplit: number;
  oursMsPerSplit: number;
  speedUp: number;
  importSeconds: number;
  wallSeconds: number;
}

interface ModelRow {
  model: BenchModel;
  result: MeasureResult;
  childWallSeconds: number;
  peakRssAboveImportsKb: number;
  reference?: ReferenceRow;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = projectRoot();
const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const MB = 1e6;

function runChild(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(here, 'measure-split.js'), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`measure-split.js ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function prepareModels(tmpRoot: string): Promise<BenchModel[]> {
  const models: BenchModel[] = realModels.map((r) => ({
    name: r.name,
    file: r.path,
    inputShapes: Object.fromEntries(r.inputs.map((i) => [i.name, i.dims])),
    source: 'real',
  }));
  const dir = path.join(tmpRoot, 'models');
  mkdirSync(dir, { recursive: true });
  for (const z of fullSizeZoo) {
    const file = path.join(dir, `${z.name}.onnx`);
    await writeFile(file, encodeModel(z.build()));
    models.push({ name: z.name, file, inputShapes: Object.fromEntries(z.inputs.map((i) => [i.name, i.dims])), source: 'full-size zoo' });
  }
  return models;
}

// ------------------------------------------------------------------------------------ output

const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function fmt(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** Sum over split points of (writeAllSplits on that point alone) / (plain writes of its files), measured alternately. */
function pairedRatio(m: MeasureResult): number {
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  return sum(m.paired.oursMs) / sum(m.paired.baselineMs);
}

function table(rows: ModelRow[], referenceShown: boolean): string {
  const head = [
    'model',
    'splits',
    'model MB',
    'analyse ms',
    'build ms/split',
    'write ms/split',
    'split_all s',
    'baseline s',
    `ratio (<${GOALS.writeOverBaseline})`,
    'paired wall/cpu',
    'peak RSS MB',
    `RSS/model (<${GOALS.rssOverModel})`,
    'extract s/split',
    `speed-up (>=${GOALS.speedUp})`,
  ];
  const body = rows.map((r) => {
    const m = r.result;
    const n = m.splitPoints.length;
    const ratio = m.write.totalMs / m.baseline.totalMs;
    const peakMb = (r.peakRssAboveImportsKb * 1024) / MB;
    const rssRatio = (r.peakRssAboveImportsKb * 1024) / m.modelBytes;
    const ref = r.reference;
    return [
      m.name,
      String(n),
      fmt(m.modelBytes / MB, 1),
      fmt(m.loadMs + m.analyseMs, 0),
      fmt(m.build.totalMs / n, 2),
      fmt(m.write.totalMs / n, 1),
      fmt(m.write.totalMs / 1000, 2),
      fmt(m.baseline.totalMs / 1000, 2),
      `${fmt(ratio, 2)} ${mark(ratio < GOALS.writeOverBaseline)}`,
      `${fmt(pairedRatio(m), 2)}/${fmt(m.paired.cpu.oursMs / m.paired.cpu.baselineMs, 2)} ${mark(pairedRatio(m) < GOALS.writeOverBaseline)}`,
      fmt(peakMb, 0),
      `${fmt(rssRatio, 1)} ${mark(rssRatio < GOALS.rssOverModel)}`,
      ref ? fmt(ref.extractSecondsPerSplit, 2) : referenceShown ? '-' : 'skipped',
      ref ? `${fmt(ref.speedUp, 0)}x ${mark(ref.speedUp >= GOALS.speedUp)}` : '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function phaseLines(rows: ModelRow[]): string {
  const mb = (kb: number) => ((kb * 1024) / MB).toFixed(0);
  return rows
    .map((r) => {
      const m = r.result.memory;
      const p = (name: string, x: { startKb: number; peakKb: number }) => `${name} ${mb(x.startKb)}->${mb(x.peakKb)}`;
      return `  ${r.result.name.padEnd(24)} RSS MB (phase start->peak): imports ${mb(m.importsKb)}, ${p('load', m.load)}, ${p('analyse', m.analyse)}, ${p('build', m.build)}, ${p('split_all', m.write)}`;
    })
    .join('\n');
}

/** The file system the temporary folders are on (Linux: findmnt), for the record. */
function tmpFs(): string {
  const r = spawnSync('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', '-T', os.tmpdir()], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().replace(/\s+/g, ' ') : 'unknown';
}

// -------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const started = Date.now();
  const loadStart = os.loadavg();
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'onnx-manager-bench-'));
  try {
    const ref = referenceAvailability();
    if (ref.available) console.log(`reference: onnx.utils.extract_model (onnx ${ref.version}, ${ref.python})`);
    else console.log(`reference column skipped: ${ref.why}\n  ${INSTALL_HINT}`);

    const baselineFile = path.join(tmpRoot, 'baseline.json');
    runChild(['--baseline', baselineFile]);
    const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as BaselineResult;

    // BENCH_MODELS=name,name limits the run to those models (for quick looks; the full run is the benchmark).
    const only = (process.env.BENCH_MODELS ?? '').split(',').filter(Boolean);
    const models = (await prepareModels(tmpRoot)).filter((m) => only.length === 0 || only.includes(m.name));
    const rows: ModelRow[] = [];
    for (const model of models) {
      process.stdout.write(`${model.name}: measuring... `);
      const job: MeasureJob = {
        name: model.name,
        file: model.file,
        inputShapes: model.inputShapes,
        tmpRoot,
        resultFile: path.join(tmpRoot, `${model.name}.result.json`),
        rounds: ROUNDS,
      };
      const jobFile = path.join(tmpRoot, `${model.name}.job.json`);
      writeFileSync(jobFile, JSON.stringify(job));
      const childWallSeconds = runChild([jobFile]);
      const result = JSON.parse(readFileSync(job.resultFile, 'utf8')) as MeasureResult;
      const row: ModelRow = { model, result, childWallSeconds, peakRssAboveImportsKb: result.memory.peakKb - baseline.maxRssKb };
      process.stdout.write(`${result.splitPoints.length} split points, ${childWallSeconds.toFixed(1)} s`);

      if (ref.available && REFERENCE_CUTS[model.name]) {
        process.stdout.write('; extract_model... ');
        const sample = sampleSingleTensorCuts(result.splitPoints, REFERENCE_CUTS[model.name]!);
        const t = process.hrtime.bigint();
        const run: ReferenceRun = await runReference({
          python: ref.python,
          script: path.join(root, 'bench', 'extract_model.py'),
          model: model.file,
          inputs: result.modelInputs,
          outputs: result.modelOutputs,
          cuts: sample.map((p) => ({ index: p.index, tensors: p.cutTensors })),
          tmpRoot,
          name: model.name,
        });
        const wallSeconds = Number(process.hrtime.bigint() - t) / 1e9;
        const cuts = run.cuts.map((c) => {
          const at = result.splitPoints.findIndex((p) => p.index === c.index);
          return {
            index: c.index,
            cutTensor: result.splitPoints[at]!.cutTensors[0]!,
            extractSeconds: c.seconds,
            extractBytes: c.bytes,
            oursWriteMs: result.write.minPerSplitMs[at]!,
          };
        });
        const extractSecondsPerSplit = mean(cuts.map((c) => c.extractSeconds));
        const oursMsPerSplit = mean(cuts.map((c) => c.oursWriteMs));
        row.reference = {
          cuts,
          extractSecondsPerSplit,
          oursMsPerSplit,
          speedUp: (extractSecondsPerSplit * 1000) / oursMsPerSplit,
          importSeconds: run.import_s,
          wallSeconds,
        };
        process.stdout.write(`${wallSeconds.toFixed(1)} s`);
      }
      process.stdout.write('\n');
      rows.push(row);
    }

    console.log('');
    console.log(table(rows, ref.available));
    console.log('');
    console.log('Notes:');
    console.log('  analyse ms = loadModel + analyzeModel (graph index, onnxruntime shape run with the bound input shapes, costs, split points).');
    console.log('  build ms/split = buildParts for one split point in memory (one pass over all points, first calls included: JIT warm-up);');
    console.log('  write ms/split = split_model_all total / split points (both parts');
    console.log('  of every split point written, plus manifest and renames). baseline = the same files (count, sizes, folders) written as plain');
    console.log(`  files from a pre-filled buffer with one write each. split_all and baseline: best of ${ROUNDS} runs each, alternating which goes`);
    console.log('  first, after one untimed split_all (warm-up), page cache flushed (sync) before each; ratio = split_all / baseline.');
    console.log(`  Output folders are under ${os.tmpdir()} (${tmpFs()}).`);
    console.log('  paired = the same ratio measured split point by split point, alternating which goes first (writeAllSplits on that split point');
    console.log('  alone, with its own manifest, vs plain writes of its files): both sides see the same machine state, so it is the steadier figure;');
    console.log('  wall = ratio of wall times (the mark), cpu = ratio of process CPU time (user + system, all threads), which other load disturbs less.');
    if (Math.max(loadStart[0]!, ...os.loadavg().slice(0, 1)) > os.cpus().length) {
      console.log(`  load average ${loadStart[0]!.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} now on ${os.cpus().length} CPUs: other work was running, expect the timings to be noisy.`);
    }
    console.log(
      `  peak RSS = highest RSS (VmHWM) of the measuring child over its load, analyse, build and first split_all phases, minus the peak of a child that only imports the modules (${((baseline.maxRssKb * 1024) / MB).toFixed(0)} MB); RSS/model = that / model file size.`,
    );
    console.log(phaseLines(rows));
    if (ref.available) {
      console.log(
        `  extract s/split = onnx.utils.extract_model for both halves of evenly spaced single-tensor split points (${Object.entries(REFERENCE_CUTS).map(([m, n]) => `${m} ${n}`).join(', ')}), written to disk (Python import excluded);`,
      );
      console.log('  speed-up = that / our time for the same split points inside split_model_all (build + write of both parts, best of the rounds).');
      for (const r of rows.filter((x) => x.reference)) {
        const c = r.reference!.cuts.map((x) => `#${x.index} ${x.extractSeconds.toFixed(2)} s vs ${x.oursWriteMs.toFixed(1)} ms`).join(', ');
        console.log(`  ${r.result.name.padEnd(24)} ${c}`);
      }
    } else {
      console.log(`  extract_model column skipped: ${ref.why}; ${INSTALL_HINT}.`);
    }

    const seconds = (Date.now() - started) / 1000;
    const out = {
      date: new Date().toISOString(),
      durationSeconds: seconds,
      loadAverage: { start: loadStart, end: os.loadavg() },
      machine: { ...machineInfo(), tmpdir: os.tmpdir() },
      goals: GOALS,
      rounds: ROUNDS,
      tmpFilesystem: tmpFs(),
      reference: ref.available ? { tool: 'onnx.utils.extract_model', onnxVersion: ref.version, python: ref.python } : { skipped: ref.why, install: INSTALL_HINT },
      importsOnlyChild: baseline,
      models: rows.map((r) => {
        const m = r.result;
        const n = m.splitPoints.length;
        return {
          name: m.name,
          source: r.model.source,
          file: r.model.source === 'real' ? path.relative(root, m.file) : `${m.name}.onnx (written to a temporary folder)`,
          inputShapes: r.model.inputShapes,
          modelBytes: m.modelBytes,
          splitPoints: n,
          loadMs: m.loadMs,
          analyseMs: m.analyseMs,
          build: { ...m.build, msPerSplit: m.build.totalMs / n, medianMs: median(m.build.perSplitMs) },
          write: { ...m.write, msPerSplit: m.write.totalMs / n, medianMs: median(m.write.perSplitMs) },
          baseline: m.baseline,
          writeOverBaseline: m.write.totalMs / m.baseline.totalMs,
          paired: { ...m.paired, oursTotalMs: m.paired.oursMs.reduce((s, x) => s + x, 0), baselineTotalMs: m.paired.baselineMs.reduce((s, x) => s + x, 0), ratio: pairedRatio(m), cpuRatio: m.paired.cpu.oursMs / m.paired.cpu.baselineMs },
          memory: { ...m.memory, peakAboveImportsKb: r.peakRssAboveImportsKb, peakOverModel: (r.peakRssAboveImportsKb * 1024) / m.modelBytes },
          childWallSeconds: r.childWallSeconds,
          reference: r.reference ?? null,
          pass: {
            writeOverBaseline: m.write.totalMs / m.baseline.totalMs < GOALS.writeOverBaseline,
            pairedWriteOverBaseline: pairedRatio(m) < GOALS.writeOverBaseline,
            rssOverModel: (r.peakRssAboveImportsKb * 1024) / m.modelBytes < GOALS.rssOverModel,
            speedUp: r.reference ? r.reference.speedUp >= GOALS.speedUp : null,
          },
          splitPointList: m.splitPoints,
        };
      }),
    };
    const outFile = path.join(root, 'results', 'bench', 'split.json');
    if (only.length > 0) {
      console.log(`\nBENCH_MODELS given: partial run, ${path.relative(process.cwd(), outFile)} left as it was (${seconds.toFixed(0)} s in all)`);
    } else {
      mkdirSync(path.dirname(outFile), { recursive: true });
      writeFileSync(outFile, `${JSON.stringify(out, null, 2)}\n`);
      console.log(`\nwrote ${path.relative(process.cwd(), outFile)} (${seconds.toFixed(0)} s in all)`);
    }
    return 0;
  } finally {
    await rm(tmpRoot, { recursive: true, force: true });
  }
}

process.exitCode = await main();
