/**
 * Removes what sweeps leave in the bucket: the payloads and results of a run,
 * `input/<run>/<split>/<rep>.pb` and `output/<run>/<split>/<rep>.pb` (the layout of store.ts), of
 * the runs named or of every run. Only keys of that layout go: anything else under input/ and
 * output/ stays, and so do the parts under models/, which runs share by content hash.
 */
import { UsageError } from '../errors.js';
import type { ObjectStore } from './store.js';

export interface CleanResult {
  /** The run ids whose objects were removed, sorted. */
  runs: string[];
  /** Objects removed under input/ and under output/. */
  input: number;
  output: number;
  /** Their bytes (as the store's listing gives them). */
  bytes: number;
}

/** A key of a run's payload or result: input|output / run / split / rep[-codec] .pb (a warm-up's rep is w<n>). */
const RUN_KEY = /^(input|output)\/([\w.-]+)\/\d+\/w?\d+(?:-[a-z0-9]+)?\.pb$/;
const RUN_ID = /^[\w.-]+$/;
/** Objects per remove request (S3's limit for one multi-object delete). */
const BATCH = 1000;

/** Checks a run id as the run_id column holds it (`20260101T120000-1a2b3c4d`); a UsageError otherwise. */
export function checkRunId(id: string, flag = '--run_id'): string {
  if (!RUN_ID.test(id) || /^\.+$/.test(id)) throw new UsageError(`${flag} '${id}' is not a run id (letters, digits, '.', '_' and '-', as the run_id column of a run_all CSV holds it)`);
  return id;
}

/** Removes the objects of the runs `runs` (run ids), or of every run ('all'). */
export async function cleanRuns(store: ObjectStore, runs: readonly string[] | 'all'): Promise<CleanResult> {
  const prefixes = runs === 'all' ? ['input/', 'output/'] : [...new Set(runs)].flatMap((id) => [`input/${checkRunId(id)}/`, `output/${id}/`]);
  const doomed: { key: string; size: number }[] = [];
  for (const prefix of prefixes) {
    const listed = store.listSized ? await store.listSized(prefix) : (await store.list(prefix)).map((key) => ({ key, size: 0 }));
    doomed.push(...listed.filter((o) => RUN_KEY.test(o.key)));
  }
  for (let i = 0; i < doomed.length; i += BATCH) await store.remove(doomed.slice(i, i + BATCH).map((o) => o.key));
  const result: CleanResult = { runs: [], input: 0, output: 0, bytes: 0 };
  const ids = new Set<string>();
  for (const o of doomed) {
    const [, side, run] = RUN_KEY.exec(o.key)!;
    ids.add(run!);
    result[side as 'input' | 'output']++;
    result.bytes += o.size;
  }
  result.runs = [...ids].sort();
  return result;
}
