/**
 * clean: removes the objects of a run (or of every run) from the bucket and says what went. With
 * the OSCAR flags (--oscar_endpoint, --oscar_service), also under the service's own paths (a chain's
 * services all; without --oscar_service, every service of the cluster), in the cluster's MinIO when
 * no store is named.
 */
import { storeConfigFromFlags } from '../../config/run-config.js';
import { UsageError } from '../../errors.js';
import { checkRunId, cleanRuns, removedCount, type CleanResult } from '../../storage/clean.js';
import { openMinioStore } from '../../storage/minio-store.js';
import type { StoreConfig } from '../../storage/store.js';
import { humanBytes } from '../format.js';

export interface CleanArgs {
  run_id?: string;
  all?: boolean;
  minio_endpoint?: string;
  minio_bucket?: string;
  minio_region?: string;
  minio_secure?: boolean;
  store_retry_s?: number;
  oscar_endpoint?: string;
  oscar_service?: string;
}

/** One line: what was removed, from where. */
export function cleanedLine(r: CleanResult, which: string, where: string): string {
  const objects = removedCount(r);
  if (objects === 0) return `nothing to remove: no objects of ${which} in ${where}`;
  const runs = which.startsWith('run ') ? which : `${r.runs.length} run${r.runs.length === 1 ? '' : 's'} (${r.runs.join(', ')})`;
  const places = [`${r.input} under input/`, `${r.output} under output/`, ...r.folders.map((f) => `${f.count} under ${f.folder}`)];
  return `removed ${objects} object${objects === 1 ? '' : 's'} (${humanBytes(r.bytes)}) of ${runs} from ${where}: ${places.join(', ')}`;
}

/** The store and the OSCAR services' folders to clean (none without the OSCAR flags). */
async function target(args: CleanArgs, out: (s: string) => void): Promise<{ config: StoreConfig; folders: string[] }> {
  const config = storeConfigFromFlags(args);
  if (args.oscar_endpoint === undefined && args.oscar_service === undefined) {
    if (!config.endpoint) throw new UsageError('clean needs the store to clean: give --minio_endpoint (or MINIO_ENDPOINT), or the OSCAR cluster (--oscar_endpoint) whose MinIO to clean; the embedded store keeps nothing after a run');
    return { config, folders: [] };
  }
  const { clientFromArgs, clusterStore, payloadFolders, servicePaths } = await import('../../backends/oscar-service.js');
  const { serviceChain } = await import('../../backends/oscar-chain.js');
  const client = clientFromArgs(args, process.env);
  const services = args.oscar_service ? await serviceChain(client, args.oscar_service) : await client.listServices();
  let bucket = args.minio_bucket;
  if (!bucket && !args.oscar_service) {
    // Every service: the one bucket their paths are in.
    const buckets = [...new Set(services.flatMap((s) => Object.values(servicePaths(s)).map((p) => p.bucket)))];
    if (buckets.length > 1) throw new UsageError(`the OSCAR services at ${client.url} keep payloads in several buckets (${buckets.join(', ')}): give --minio_bucket`);
    bucket = buckets[0];
  }
  const store: StoreConfig = config.endpoint
    ? config
    : { ...(await clusterStore({ ...(args.oscar_endpoint !== undefined ? { endpoint: args.oscar_endpoint } : {}), ...(args.oscar_service ? { service: args.oscar_service } : {}), ...(bucket ? { bucket } : {}) }, process.env)), retryBudgetMs: config.retryBudgetMs! };
  const folders: string[] = [];
  for (const s of services) {
    const p = payloadFolders(s, store.bucket);
    folders.push(...p.folders);
    if (p.elsewhere.length) out(`OSCAR service '${s.name}' keeps payloads in ${p.elsewhere.join(', ')}, not in bucket '${store.bucket}': not cleaned (give --minio_bucket to clean there)`);
  }
  return { config: store, folders };
}

export async function clean(args: CleanArgs, out: (s: string) => void): Promise<void> {
  if (args.run_id !== undefined) checkRunId(args.run_id);
  const { config, folders } = await target(args, out);
  const store = await openMinioStore({ ...config, createBucket: false });
  try {
    const r = await cleanRuns(store, args.all ? 'all' : [args.run_id!], folders);
    out(cleanedLine(r, args.all ? 'any run' : `run ${args.run_id}`, store.description));
  } finally {
    await store.close();
  }
}
