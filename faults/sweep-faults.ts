/**
 * Faults during run_all, as a user runs it (the real command line, its own cloud worker) against
 * a store the suite can kill: the store killed and started again mid-sweep, the cloud worker
 * killed, the cloud worker stopped (SIGSTOP), and run_all itself killed (SIGKILL) at seeded
 * moments and resumed until it finishes. Afterwards every (split point, repetition) must have
 * exactly one ok row whose outputs match the full model and whose timings carry no outage, the
 * exit codes must say what happened, nothing may print a stack trace, and no process may be left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { alive, childrenOf, processesWith } from './processes.js';
import { Rng } from './rng.js';
import { exited, type FaultStore } from './stores.js';
import type { TableRow } from './table.js';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SweepTally extends TableRow {
  notes: string[];
}

export interface SweepSetup {
  model: string;
  /** Split points of the model (run_all runs them all). */
  splits: number;
  rep: number;
  work: string;
  seed: number;
}

interface Running {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null }>;
  stderr: () => string;
}

function runAll(store: FaultStore, bucket: string, csv: string, s: SweepSetup, extra: string[]): Running {
  const env = { ...process.env, MINIO_ENDPOINT: store.endpoint, MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey };
  const args = [BIN, 'run_all', '--onnx_file', s.model, '--rep', String(s.rep), '--warmup', '1', '--threads', '1', '--minio_bucket', bucket, '--results_file', csv, ...extra];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, done, stderr: () => err };
}

type CsvRow = Record<string, string>;

function rows(csv: string): CsvRow[] {
  if (!existsSync(csv)) return [];
  try {
    return parse(readFileSync(csv, 'utf8'), { columns: true, relax_column_count: true, skip_records_with_error: true }) as CsvRow[];
  } catch {
    return [];
  }
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 50) {
    if (ok()) return true;
    await sleep(50);
  }
  return ok();
}

/** Counts what the final CSV got wrong, against splits x rep rows. */
function judgeRows(csv: string, s: SweepSetup, tally: SweepTally): void {
  const all = rows(csv);
  const ok = all.filter((r) => r.status === 'ok');
  const seen = new Map<string, number>();
  for (const r of ok) seen.set(`${r.split_index}/${r.rep}`, (seen.get(`${r.split_index}/${r.rep}`) ?? 0) + 1);
  for (let split = 0; split < s.splits; split++) {
    for (let rep = 0; rep < s.rep; rep++) {
      const n = seen.get(`${split}/${rep}`) ?? 0;
      if (n === 0) tally.rowsLost++;
      if (n > 1) tally.rowsDuplicated += n - 1;
    }
  }
  // An ok row is wrong when its outputs differ from the full model's, or its timings carry a fault (far above the median).
  const totals = ok.map((r) => Number(r.total_ms)).sort((a, b) => a - b);
  const median = totals[Math.floor(totals.length / 2)] ?? 0;
  const limit = Math.max(750, 20 * median);
  for (const r of ok) {
    const diff = Number(r.max_abs_diff);
    const bad = !(diff <= 1e-4) ? `max_abs_diff ${r.max_abs_diff}` : Number(r.total_ms) > limit ? `total_ms ${r.total_ms} (median ${median.toFixed(1)})` : undefined;
    if (bad) {
      tally.rowsWronglyOk++;
      if (tally.rowsWronglyOk <= 3) tally.notes.push(`split ${r.split_index} rep ${r.rep} ok with ${bad}`);
    }
  }
}

/** Exit code and stderr of a finished run_all: a stack trace, or an exit code that contradicts the rows, is mishandled. */
function judgeExit(r: { code: number | null }, stderr: string, csv: string, tally: SweepTally, what: string): void {
  if (/\n\s+at .+:\d+|unexpected error/.test(stderr)) {
    tally.mishandled++;
    tally.notes.push(`${what}: stderr has a stack trace or an unexpected error: ${stderr.split('\n').find((l) => /at |unexpected/.test(l))}`);
  }
  const failed = rows(csv).filter((x) => x.status !== 'ok').length;
  if (r.code === 0 && failed > 0 && !/--resume/.test(what)) {
    tally.mishandled++;
    tally.notes.push(`${what}: exit 0 with ${failed} failed rows`);
  }
}

/** Runs --resume until run_all exits 0 (at most `tries` times); each run judged. */
async function resumeToEnd(store: FaultStore, bucket: string, csv: string, s: SweepSetup, tally: SweepTally, tries = 3): Promise<void> {
  for (let k = 0; k < tries; k++) {
    const r = runAll(store, bucket, csv, s, ['--resume']);
    const end = await Promise.race([r.done, sleep(240_000).then(() => undefined)]);
    if (!end) {
      r.child.kill('SIGKILL');
      tally.mishandled++;
      tally.notes.push('--resume hung for 240 s');
      return;
    }
    judgeExit(end, r.stderr(), csv, tally, '--resume');
    if (end.code === 0) return;
  }
  tally.notes.push(`--resume did not finish with exit 0 in ${tries} runs`);
}

/** Processes of this scenario still running (its worker, by the bucket in its command line). */
async function leftovers(bucket: string, tally: SweepTally): Promise<void> {
  // A killed run's worker ends when it sees its parent gone: seconds on a loaded machine.
  await until(() => processesWith(bucket).length === 0, 30_000);
  const left = processesWith(bucket);
  if (left.length) {
    tally.mishandled++;
    tally.notes.push(`${left.length} process(es) left running (${left.join(', ')})`);
    for (const pid of left) process.kill(pid, 'SIGKILL');
  }
}

/** A short tag of the store, so that each store's sweeps have buckets and files of their own. */
function storeTag(store: FaultStore): string {
  return store.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 12);
}

/** One scenario's empty tally, seeded generator, bucket and CSV of its own for this store. */
function scenario(name: string, tag: string, salt: number, store: FaultStore, s: SweepSetup): { t: SweepTally; rng: Rng; bucket: string; csv: string } {
  const t = { scenario: name, store: store.name, faults: 0, rowsLost: 0, rowsDuplicated: 0, rowsWronglyOk: 0, mishandled: 0, notes: [] };
  const bucket = `faults-${tag}-${storeTag(store)}-${s.seed}`;
  return { t, rng: new Rng(s.seed ^ salt), bucket, csv: join(s.work, `${bucket}.csv`) };
}

/** The store killed (SIGKILL) and started again, twice, mid-sweep: run_all waits and finishes with every row ok. */
export async function storeKilled(store: FaultStore, s: SweepSetup): Promise<SweepTally> {
  const { t, rng, bucket, csv } = scenario('store killed and restarted', 'store', 0x51, store, s);
  const r = runAll(store, bucket, csv, s, []);
  const total = s.splits * s.rep;
  for (const share of [0.25, 0.6]) {
    if (!(await until(() => rows(csv).length >= share * total, 120_000))) break;
    await store.kill();
    t.faults++;
    await sleep(1000 + rng.int(3000));
    await store.start();
  }
  return finish(r, store, bucket, csv, s, t);
}

/** Waits for the faulted run_all (a hang if it does not end in 300 s), resumes it until it ends well, and judges the rows. */
async function finish(r: Running, store: FaultStore, bucket: string, csv: string, s: SweepSetup, t: SweepTally): Promise<SweepTally> {
  const end = await Promise.race([r.done, sleep(300_000).then(() => undefined)]);
  if (!end) {
    r.child.kill('SIGKILL');
    t.mishandled++;
    t.notes.push('run_all hung for 300 s after the fault');
  } else {
    judgeExit(end, r.stderr(), csv, t, 'run_all');
    if (end.code !== 0) {
      t.notes.push(`run_all exited ${end.code} (${r.stderr().trim().split('\n').at(-1)}); resumed`);
      await resumeToEnd(store, bucket, csv, s, t);
    }
  }
  await leftovers(bucket, t);
  judgeRows(csv, s, t);
  return t;
}

async function workerOf(r: Running): Promise<number | undefined> {
  let pid: number | undefined;
  await until(() => (pid = childrenOf(r.child.pid!, 'cloud/worker.js')[0]) !== undefined, 30_000);
  return pid;
}

/** The cloud worker killed (SIGKILL) at three seeded moments; failed rows are run again by --resume. */
export async function workerKilled(store: FaultStore, s: SweepSetup): Promise<SweepTally> {
  const { t, rng, bucket, csv } = scenario('cloud worker killed', 'worker', 0x77, store, s);
  const r = runAll(store, bucket, csv, s, []);
  const total = s.splits * s.rep;
  for (const share of [0.2, 0.45, 0.7]) {
    if (!(await until(() => rows(csv).length >= share * total, 120_000))) break;
    await sleep(rng.int(200));
    const pid = await workerOf(r);
    if (pid === undefined || !alive(pid)) break;
    process.kill(pid, 'SIGKILL');
    t.faults++;
  }
  return finish(r, store, bucket, csv, s, t);
}

/**
 * The cloud worker stopped (SIGSTOP) for 30 s mid-sweep with --timeout 5: the sweep must not wait
 * for it (a row times out or the worker is replaced within 20 s); then it is let go (SIGCONT).
 */
export async function workerStopped(store: FaultStore, s: SweepSetup): Promise<SweepTally> {
  const { t, bucket, csv } = scenario('cloud worker stopped (SIGSTOP)', 'stopped', 0, store, s);
  const r = runAll(store, bucket, csv, s, ['--timeout', '5']);
  const total = s.splits * s.rep;
  if (await until(() => rows(csv).length >= 0.3 * total, 120_000)) {
    const pid = await workerOf(r);
    if (pid !== undefined && alive(pid)) {
      process.kill(pid, 'SIGSTOP');
      t.faults++;
      const before = rows(csv).length;
      const moved = await until(() => rows(csv).length > before || r.child.exitCode !== null, 20_000);
      if (!moved) {
        t.mishandled++;
        t.notes.push('the sweep waited for the stopped worker: no row for 20 s (--timeout 5)');
      }
      await sleep(Math.max(0, 30_000 - 20_000));
      if (alive(pid)) process.kill(pid, 'SIGCONT');
    }
  }
  return finish(r, store, bucket, csv, s, t);
}

/**
 * The seeded moments of `kills` kills of a sweep of `total` rows, as row counts: kill k happens once
 * the CSV holds moments[k] rows. One moment in each of `kills` equal stretches of the first 90% of
 * the rows, so they rise, and each run has rows left to write when it is killed.
 */
export function killMoments(rng: Rng, total: number, kills: number): number[] {
  const span = Math.floor(total * 0.9) - 1;
  if (kills < 0 || span < kills) throw new Error(`${kills} kills do not fit in a sweep of ${total} rows`);
  return Array.from({ length: kills }, (_, k) => {
    const lo = 1 + Math.floor((k * span) / kills);
    const hi = Math.floor(((k + 1) * span) / kills);
    return lo + rng.int(hi - lo + 1);
  });
}

/**
 * run_all killed (SIGKILL) `kills` times, each time resumed, until a run ends by itself. The kill
 * moments follow the sweep's progress (after a seeded number of rows, see killMoments), so every
 * kill lands mid-sweep however fast the machine is; a run that ends before its moment is noted.
 */
export async function runAllKilled(store: FaultStore, s: SweepSetup, kills: number): Promise<SweepTally> {
  const { t, rng, bucket, csv } = scenario('run_all killed and resumed', 'killed', 0x99, store, s);
  const moments = killMoments(rng, s.splits * s.rep, kills);
  for (let k = 0; ; k++) {
    const r = runAll(store, bucket, csv, s, existsSync(csv) ? ['--resume'] : []);
    if (k < kills) {
      const moment = moments[k]!;
      let ended = false;
      void r.done.then(() => (ended = true));
      const moved = await until(() => ended || rows(csv).length >= moment, 240_000);
      if (!ended) {
        r.child.kill('SIGKILL');
        await exited(r.child);
        if (moved) t.faults++;
        else {
          t.mishandled++;
          t.notes.push(`run ${k} hung for 240 s before row ${moment}`);
        }
        await leftovers(bucket, t);
        continue;
      }
      const end = await r.done;
      t.notes.push(`run ${k} ended before its kill at row ${moment}`);
      judgeExit(end, r.stderr(), csv, t, 'run_all --resume');
      if (end.code === 0) break;
      t.notes.push(`run ${k} exited ${end.code}: ${r.stderr().trim().split('\n').at(-1)}`);
      continue;
    }
    const end = await Promise.race([r.done, sleep(300_000).then(() => undefined)]);
    if (!end) {
      r.child.kill('SIGKILL');
      t.mishandled++;
      t.notes.push('the last --resume hung for 300 s');
    } else {
      judgeExit(end, r.stderr(), csv, t, 'run_all --resume');
      if (end.code !== 0) t.notes.push(`the last --resume exited ${end.code}: ${r.stderr().trim().split('\n').at(-1)}`);
    }
    break;
  }
  await leftovers(bucket, t);
  judgeRows(csv, s, t);
  return t;
}
