/**
 * Runs a corpus (mutated models or payloads) through worker processes, each item under a
 * deadline: an item that takes longer is a hang, one whose worker dies is a crash; the worker is
 * replaced and the next item goes on.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Finding, ItemResult } from './outcome.js';

const CHILD = fileURLToPath(new URL('./corpus-child.js', import.meta.url));

export interface CorpusTotals {
  items: number;
  operations: number;
  refused: number;
  accepted: number;
  findings: Finding[];
}

export interface CorpusOptions {
  kind: 'models' | 'payloads';
  seed: number;
  /** Item numbers to run. */
  items: readonly number[];
  work: string;
  deadlineMs: number;
  workers: number;
  /** 'spawn': every command as its own process (the real executables), else in the worker's process. */
  how?: 'in-process' | 'spawn';
  /** Describes an item for a finding the worker could not report (hang, crash). */
  describe: (i: number) => string;
  progress?: (done: number, total: number) => void;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
}

function startWorker(o: CorpusOptions): Worker {
  const child = fork(CHILD, [o.kind, String(o.seed), o.work, o.how ?? 'in-process', String(o.deadlineMs)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  // The worker's own stderr (onnxruntime's native warnings) is no finding; drain it.
  child.stderr!.on('data', () => {});
  const ready = new Promise<void>((resolve) => child.once('message', () => resolve()));
  return { child, ready };
}

/** Runs one item on the worker: its result, or undefined with the worker gone (hang or death). */
function runItem(w: Worker, i: number, deadlineMs: number): Promise<{ result?: ItemResult; error?: string; lost?: 'hang' | 'crash'; how?: string }> {
  return new Promise((resolve) => {
    const onMessage = (m: { i?: number; result?: ItemResult; error?: string }) => {
      if (m.i !== i) return;
      cleanup();
      resolve(m.result ? { result: m.result } : { error: m.error ?? 'no result' });
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      resolve({ lost: 'crash', how: `the process died (${signal ?? `exit ${code}`})` });
    };
    const timer = setTimeout(() => {
      cleanup();
      w.child.kill('SIGKILL');
      resolve({ lost: 'hang', how: `no answer within ${deadlineMs / 1000} s` });
    }, deadlineMs);
    const cleanup = () => {
      clearTimeout(timer);
      w.child.off('message', onMessage);
      w.child.off('exit', onExit);
    };
    w.child.on('message', onMessage);
    w.child.on('exit', onExit);
    w.child.send({ i });
  });
}

export async function runCorpus(o: CorpusOptions): Promise<CorpusTotals> {
  const totals: CorpusTotals = { items: 0, operations: 0, refused: 0, accepted: 0, findings: [] };
  const queue = [...o.items];
  let done = 0;
  const lane = async () => {
    let w = startWorker(o);
    await w.ready;
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const r = await runItem(w, i, o.deadlineMs);
      totals.items++;
      if (r.result) {
        totals.operations += r.result.operations;
        totals.refused += r.result.refused;
        totals.accepted += r.result.accepted;
        totals.findings.push(...r.result.findings);
      } else {
        totals.findings.push({ input: `${o.kind} #${i}`, what: o.describe(i), operation: 'the checks themselves', kind: r.lost ?? 'crash', detail: r.how ?? r.error ?? '' });
        if (r.lost) {
          w = startWorker(o);
          await w.ready;
        }
      }
      o.progress?.(++done, o.items.length);
    }
    w.child.kill('SIGKILL');
  };
  await Promise.all(Array.from({ length: Math.max(1, o.workers) }, lane));
  return totals;
}
