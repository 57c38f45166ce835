/**
 * clean: removes the objects of a run (or of every run) from the bucket and says what went.
 */
import { storeConfigFromFlags } from '../../config/run-config.js';
import { UsageError } from '../../errors.js';
import { checkRunId, cleanRuns, type CleanResult } from '../../storage/clean.js';
import { openMinioStore } from '../../storage/minio-store.js';
import { humanBytes } from '../format.js';

export interface CleanArgs {
  run_id?: string;
  all?: boolean;
  minio_endpoint?: string;
  minio_bucket?: string;
  minio_region?: string;
  minio_secure?: boolean;
  store_retry_s?: number;
}

/** One line: what was removed, from where. */
export function cleanedLine(r: CleanResult, which: string, where: string): string {
  const objects = r.input + r.output;
  if (objects === 0) return `nothing to remove: no objects of ${which} in ${where}`;
  const runs = which.startsWith('run ') ? which : `${r.runs.length} run${r.runs.length === 1 ? '' : 's'} (${r.runs.join(', ')})`;
  return `removed ${objects} object${objects === 1 ? '' : 's'} (${humanBytes(r.bytes)}) of ${runs} from ${where}: ${r.input} under input/, ${r.output} under output/`;
}

export async function clean(args: CleanArgs, out: (s: string) => void): Promise<void> {
  if (args.run_id !== undefined) checkRunId(args.run_id);
  const config = storeConfigFromFlags(args);
  if (!config.endpoint) throw new UsageError('clean needs the store to clean: give --minio_endpoint (or MINIO_ENDPOINT); the embedded store keeps nothing after a run');
  const store = await openMinioStore({ ...config, createBucket: false });
  try {
    const r = await cleanRuns(store, args.all ? 'all' : [args.run_id!]);
    out(cleanedLine(r, args.all ? 'any run' : `run ${args.run_id}`, store.description));
  } finally {
    await store.close();
  }
}
