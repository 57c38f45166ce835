/**
 * Peak memory of parts, each measured in a process of its own (part-peak.ts) so that one part's
 * allocations never hide another's: a part's figure is its process's peak resident set size
 * minus the baseline, the median of three processes that load the same modules and run nothing.
 * Parts are written to a temporary folder one at a time just before their process starts and
 * removed when it ends; `jobs` processes run at once. A failure, or the caller's abort signal,
 * stops every process started.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxManagerError } from '../errors.js';
import type { SessionOptions } from '../runtime/session.js';
import type { AssembledPart } from '../split/assemble.js';
import { OutputTransaction } from '../split/output.js';
import { MB } from './limits.js';
import type { PeakReply, PeakRequest } from './part-peak.js';

export class MeasureError extends OnnxManagerError {}

const ENTRY = fileURLToPath(new URL('./part-peak.js', import.meta.url));
const BASELINE_RUNS = 3;

export interface PartToMeasure {
  part: AssembledPart;
  /** How errors name it (default: its key). */
  label?: string;
  inputs: PeakRequest['inputs'];
}

export interface PartPeak {
  /** Peak resident set size beyond the baseline, MB. */
  peak_mb: number;
  /** The part failed on its random input: the peak is that of loading it. */
  run_error?: string;
}

export interface Peaks {
  baseline_mb: number;
  /** By the key the part was given under. */
  parts: Map<string, PartPeak>;
  /** Processes started, and the wall time it took. */
  processes: number;
  seconds: number;
  source: PeakReply['source'];
}

export interface MeasureOptions {
  session: SessionOptions;
  seed: number;
  /** Processes at once. */
  jobs: number;
  /** Called after each part. */
  onPart?: (done: number, total: number) => void;
  /** Aborting it stops every process and rejects. */
  signal?: AbortSignal;
}

function runPeak(req: PeakRequest, signal: AbortSignal, what: string): Promise<PeakReply> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.once('error', (e) => reject(signal.aborted ? e : new MeasureError(`measuring ${what}: cannot start a process (${e.message})`, { cause: e })));
    child.once('close', (code, sig) => {
      let reply: (PeakReply & { error?: string }) | undefined;
      try {
        reply = JSON.parse(out.trim().split('\n').at(-1) ?? '') as PeakReply & { error?: string };
      } catch {
        reply = undefined;
      }
      if (code === 0 && reply && typeof reply.peak_kb === 'number') return resolve(reply);
      const why = reply?.error ?? (err.trim().split('\n').at(-1) || (sig ? `killed by ${sig}` : `exit code ${code}`));
      reject(new MeasureError(`measuring ${what}: ${why}`));
    });
  });
}

/** Runs `tasks` with at most `jobs` at once; the first failure aborts the rest and is thrown. */
async function pool<T>(tasks: (() => Promise<T>)[], jobs: number, controller: AbortController): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let first: { err: unknown } | undefined;
  const worker = async () => {
    while (next < tasks.length && !first) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (err) {
        first ??= { err };
        controller.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tasks.length)) }, worker));
  if (first) throw first.err;
  return results;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Measures each part (by key) once; the baseline first. */
export async function measurePeaks(parts: ReadonlyMap<string, PartToMeasure>, o: MeasureOptions): Promise<Peaks> {
  const t0 = performance.now();
  const controller = new AbortController();
  const stop = () => controller.abort();
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop, { once: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'onnx-manager-peaks-'));
  const base: PeakRequest = { inputs: [], seed: o.seed, session: o.session };
  const entries = [...parts];
  let done = 0;
  try {
    const baselines = await pool(Array.from({ length: BASELINE_RUNS }, () => () => runPeak(base, controller.signal, 'the baseline')), o.jobs, controller);
    const baselineKb = median(baselines.map((b) => b.peak_kb));
    const replies = await pool(
      entries.map(([key, p], i) => async () => {
        const sub = `p${i}`;
        const file = `${sub}/part.onnx`;
        await OutputTransaction.run(dir, (tx) => tx.writePart(file, p.part));
        const req: PeakRequest = { ...base, model: path.join(dir, file), inputs: p.inputs };
        if (p.part.external) req.external = { location: p.part.external.location, file: path.join(dir, sub, p.part.external.location) };
        try {
          const reply = await runPeak(req, controller.signal, p.label ?? `part ${key}`);
          o.onPart?.(++done, entries.length);
          return reply;
        } finally {
          await rm(path.join(dir, sub), { recursive: true, force: true });
        }
      }),
      o.jobs,
      controller,
    );
    const out = new Map<string, PartPeak>();
    entries.forEach(([key], i) => {
      const r = replies[i]!;
      const peak: PartPeak = { peak_mb: Math.max(0, r.peak_kb - baselineKb) / (MB / 1024) };
      if (r.run_error) peak.run_error = r.run_error;
      out.set(key, peak);
    });
    return {
      baseline_mb: baselineKb / (MB / 1024),
      parts: out,
      processes: BASELINE_RUNS + entries.length,
      seconds: (performance.now() - t0) / 1000,
      source: baselines[0]!.source,
    };
  } finally {
    o.signal?.removeEventListener('abort', stop);
    controller.abort();
    await rm(dir, { recursive: true, force: true });
  }
}
