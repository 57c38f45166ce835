/**
 * Removes what sweeps leave in the bucket: the payloads and results of a run,
 * `input/<run>/<split>/<rep>.pb` and `output/<run>/<split>/<rep>.pb` (the layout of store.ts), and
 * in the folders where a backend keeps a job's objects flat (an OSCAR service's input and output
 * paths) `<folder>/<run>-<split>-<rep>.pb`, of the runs named or of every run. Only keys of those
 * layouts go: anything else stays, and so do the parts under models/, which runs share by content
 * hash. In the flat folders, which other programs write to as well, "every run" means every run
 * id of this tool's form (run-id.ts: `20260101T120000-1a2b3c4d`).
 */
import { UsageError } from '../errors.js';
import { TOOL_RUN_ID } from './run-id.js';
import type { ObjectStore } from './store.js';

export interface CleanResult {
  /** The run ids whose objects were removed, sorted. */
  runs: string[];
  /** Objects removed under input/ and under output/. */
  input: number;
  output: number;
  /** Objects removed in each flat folder given, in the order given (folders where none went are left out). */
  folders: { folder: string; count: number }[];
  /** Their bytes (as the store's listing gives them). */
  bytes: number;
}

/** A repetition's key: n, a warm-up's w<n>, either with -<codec> (letters first) and a cycle's run again -again<k>, or a profile request's. */
const REP = String.raw`(?:w?\d+(?:-[A-Za-z][A-Za-z0-9_]*)?(?:-again\d+)?|profile)`;
/** A key of a run's payload or result: input|output / run / split / rep .pb (a profile's split is 'profile'). */
const RUN_KEY = new RegExp(String.raw`^(input|output)\/([\w.-]+)\/(?:\d+|profile)\/${REP}\.pb$`);
/** What follows `<run>-` in a flat folder: split - rep .pb. */
const FLAT_REST = new RegExp(String.raw`^\d+-${REP}\.pb$`);
const RUN_ID = /^[\w.-]+$/;
/** Objects per remove request (S3's limit for one multi-object delete). */
const BATCH = 1000;

/** Checks a run id as the run_id column holds it (`20260101T120000-1a2b3c4d`); a UsageError otherwise. */
export function checkRunId(id: string, flag = '--run_id'): string {
  if (!RUN_ID.test(id) || /^\.+$/.test(id)) throw new UsageError(`${flag} '${id}' is not a run id (letters, digits, '.', '_' and '-', as the run_id column of a run_all CSV holds it)`);
  return id;
}

/** The run a flat key (the name after the folder) belongs to, among `runs` or of this tool's form ('all'). */
function flatRun(name: string, runs: readonly string[] | 'all'): string | undefined {
  const candidates = runs === 'all' ? [TOOL_RUN_ID.exec(name)?.[1]].filter((r): r is string => r !== undefined) : runs;
  return candidates.find((run) => name.startsWith(`${run}-`) && FLAT_REST.test(name.slice(run.length + 1)));
}

/** The folder as a key prefix: 'a/b' -> 'a/b/', '' (the bucket's root) -> ''. */
const asPrefix = (folder: string) => folder.replace(/^\/+|\/+$/g, '').replace(/(.)$/, '$1/');

/**
 * Removes the objects of the runs `runs` (run ids), or of every run ('all'), under input/ and
 * output/ and in the flat folders `folders`.
 */
export async function cleanRuns(store: ObjectStore, runs: readonly string[] | 'all', folders: readonly string[] = []): Promise<CleanResult> {
  const ids = runs === 'all' ? 'all' : [...new Set(runs)].map((id) => checkRunId(id));
  const listed = async (prefix: string) => (store.listSized ? store.listSized(prefix) : (await store.list(prefix)).map((key) => ({ key, size: 0 })));
  const doomed: { key: string; size: number; run: string; place: string }[] = [];
  for (const prefix of ids === 'all' ? ['input/', 'output/'] : ids.flatMap((id) => [`input/${id}/`, `output/${id}/`])) {
    for (const o of await listed(prefix)) {
      const m = RUN_KEY.exec(o.key);
      if (m) doomed.push({ ...o, run: m[2]!, place: m[1]! });
    }
  }
  const flat = [...new Set(folders.map(asPrefix))];
  const taken = new Set(doomed.map((o) => o.key));
  for (const prefix of flat) {
    for (const o of await listed(prefix)) {
      const name = o.key.slice(prefix.length);
      const run = name.includes('/') || taken.has(o.key) ? undefined : flatRun(name, ids);
      if (run === undefined) continue;
      taken.add(o.key);
      doomed.push({ ...o, run, place: prefix });
    }
  }
  for (let i = 0; i < doomed.length; i += BATCH) await store.remove(doomed.slice(i, i + BATCH).map((o) => o.key));
  const count = (place: string) => doomed.filter((o) => o.place === place).length;
  return {
    runs: [...new Set(doomed.map((o) => o.run))].sort(),
    input: count('input'),
    output: count('output'),
    folders: flat.map((folder) => ({ folder, count: count(folder) })).filter((f) => f.count > 0),
    bytes: doomed.reduce((s, o) => s + o.size, 0),
  };
}

/** How many objects a clean removed. */
export const removedCount = (r: CleanResult): number => r.input + r.output + r.folders.reduce((s, f) => s + f.count, 0);
