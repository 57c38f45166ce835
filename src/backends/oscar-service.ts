/**
 * An OSCAR service as the oscar backend and deploy see it: its MinIO input and output paths, the
 * client for --oscar_endpoint, the cluster's own store, and the cloud settings it was deployed with.
 */
import { CLOUD_CONFIG_VARIABLE, cloudConfigDifferences, decodeCloudConfig, encodeCloudConfig, type CloudConfig } from '../config/cloud-config.js';
import { UsageError } from '../errors.js';
import { DEFAULT_BUCKET, parseEndpoint, type StoreConfig } from '../storage/store.js';
import { oscarAuthFromEnv, OscarClient, OscarError, type OscarService, type OscarStorageIO } from './oscar-client.js';
import type { OscarArgs } from './oscar-options.js';

type Env = Record<string, string | undefined>;

/** A bucket and a folder (no leading or trailing slash; '' for the bucket's root). */
export interface StoragePath {
  bucket: string;
  prefix: string;
}

/** Splits an OSCAR storage path `bucket/folder/...` as OSCAR does (trimmed of spaces and slashes, split once). */
export function parseStoragePath(path: string): StoragePath {
  const p = path.trim().replace(/^\/+|\/+$/g, '');
  const at = p.indexOf('/');
  return at < 0 ? { bucket: p, prefix: '' } : { bucket: p.slice(0, at), prefix: p.slice(at + 1).replace(/\/+$/, '') };
}

/** The key of a file uploaded to an output path, as faas-supervisor builds it (get_file_key). */
export function outputKeyFor(path: StoragePath, fileName: string): string {
  return path.prefix ? `${path.prefix}/${fileName}` : fileName;
}

function isDefaultMinio(io: OscarStorageIO): boolean {
  const p = (io.storage_provider ?? '').trim().toLowerCase();
  return p === 'minio' || p === 'minio.default';
}

/** The service's MinIO input and output paths (the default MinIO provider only). */
export function servicePaths(svc: OscarService): { input?: StoragePath; output?: StoragePath } {
  const input = (svc.input ?? []).find((io) => isDefaultMinio(io) && io.path);
  const output = (svc.output ?? []).find((io) => isDefaultMinio(io) && io.path);
  const out: { input?: StoragePath; output?: StoragePath } = {};
  if (input) out.input = parseStoragePath(input.path!);
  if (output) out.output = parseStoragePath(output.path!);
  return out;
}

/** Where payloads go with --oscar_trigger job: outside the input path, so that no webhook starts a second job. */
export const jobsFolder = (service: string): string => `onnx-manager-jobs/${service}`;

/**
 * The folders where the oscar backend keeps a service's payloads and results flat
 * (<folder>/<run>-<split>-<rep>.pb): its MinIO input and output paths in `bucket` and the job
 * trigger's folder; `elsewhere`: its paths in other buckets, as bucket/folder.
 */
export function payloadFolders(svc: OscarService, bucket: string): { folders: string[]; elsewhere: string[] } {
  const paths = Object.values(servicePaths(svc));
  return {
    folders: [...paths.filter((p) => p.bucket === bucket).map((p) => p.prefix), jobsFolder(svc.name)],
    elsewhere: paths.filter((p) => p.bucket !== bucket).map((p) => `${p.bucket}/${p.prefix}`),
  };
}

/** The OSCAR client for --oscar_endpoint (or OSCAR_ENDPOINT) with the credentials of the environment. */
export function clientFromArgs(args: Pick<OscarArgs, 'oscar_endpoint'>, env: Env, timeoutMs?: number): OscarClient {
  const endpoint = (args.oscar_endpoint ?? env.OSCAR_ENDPOINT ?? '').trim();
  if (!endpoint) throw new UsageError('--cloud oscar needs --oscar_endpoint (or OSCAR_ENDPOINT), the URL of the OSCAR cluster');
  const auth = oscarAuthFromEnv(env);
  return new OscarClient({ endpoint, ...(auth ? { auth } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
}

/** The service, or a one-line error saying it does not exist and how to create it. */
export async function readService(client: OscarClient, name: string): Promise<OscarService> {
  try {
    return await client.getService(name);
  } catch (err) {
    if (err instanceof OscarError && err.status === 404) {
      throw new OscarError(`OSCAR at ${client.url}: service '${name}' does not exist (create it with --operation deploy --apply)`, { cause: err, status: 404 });
    }
    throw err;
  }
}

/** The variable that makes a service a stage of a chain that runs only its own part(s) (deploy --split_layers). */
export const STAGE_PARTS_VARIABLE = 'ONNX_MANAGER_STAGE_PARTS';

export const isStage = (svc: OscarService): boolean => Boolean(svc.environment?.variables?.[STAGE_PARTS_VARIABLE]);

/**
 * The service `name`; a name that is no service but whose `<name>-1` is a stage of a chain names
 * that stage (deploy names the stages of a chain `<name>-1` .. `<name>-k`). Else readService's error.
 */
export async function namedService(client: OscarClient, name: string): Promise<OscarService> {
  const svc = await client.findService(name);
  if (svc) return svc;
  const stage = await client.findService(`${name}-1`);
  return stage && isStage(stage) ? stage : readService(client, name);
}

/**
 * The store OSCAR's own MinIO provides (GET /system/config): used when the user names no store. The
 * bucket is --minio_bucket, else the bucket of the service's input path.
 */
export async function clusterStore(args: { endpoint?: string; service?: string; bucket?: string }, env: Env): Promise<StoreConfig> {
  const client = clientFromArgs(args.endpoint !== undefined ? { oscar_endpoint: args.endpoint } : {}, env);
  const config = await client.config();
  const mp = config.minio_provider;
  if (!mp?.endpoint) throw new OscarError(`OSCAR at ${client.url}: /system/config names no MinIO endpoint; give --minio_endpoint`);
  if (!mp.access_key || !mp.secret_key) throw new OscarError(`OSCAR at ${client.url}: /system/config gives no MinIO keys for this user; set MINIO_ENDPOINT, MINIO_ACCESS_KEY and MINIO_SECRET_KEY`);
  let bucket = args.bucket;
  if (!bucket && args.service) {
    const svc = await namedService(client, args.service);
    const paths = servicePaths(svc);
    bucket = (paths.input ?? paths.output)?.bucket;
  }
  const ep = parseEndpoint(mp.endpoint);
  const out: StoreConfig = {
    endpoint: ep.url,
    useSSL: ep.useSSL,
    accessKey: mp.access_key,
    secretKey: mp.secret_key,
    bucket: bucket || DEFAULT_BUCKET,
    createBucket: false,
  };
  if (mp.region) out.region = mp.region;
  return out;
}

/**
 * Refuses a service deployed with other cloud settings than the run's (its jobs would run with
 * those, and the CSV would name the wrong ones); warns when the service names none.
 */
export function checkServiceConfig(service: OscarService, run: CloudConfig, warn: (line: string) => void): void {
  const text = service.environment?.variables?.[CLOUD_CONFIG_VARIABLE];
  const where = `OSCAR service '${service.name}'`;
  if (!text) {
    warn(`${where} has no ${CLOUD_CONFIG_VARIABLE} variable (deployed by hand or by an older onnx-manager): its jobs run with onnx-cloud's defaults; deploy it again with --operation deploy --apply`);
    return;
  }
  const deployed = decodeCloudConfig(text, `${where}: ${CLOUD_CONFIG_VARIABLE}`);
  // The region is the service's own MinIO's business (OSCAR's /system/config may name one the FDL does
  // not); the store retry budget changes no number, and the run's own travels with each payload
  // (the service's is what a job waits when its payload names none).
  const differ = cloudConfigDifferences(deployed, run).filter((f) => f !== 'region' && f !== 'storeRetryS');
  if (differ.length) {
    throw new UsageError(
      `${where} is deployed with other cloud settings than this run asks for (${differ.join(', ')}: ${encodeCloudConfig(deployed)} against ${encodeCloudConfig(run)}); deploy it again with the run's --exec_type, --device_type, --graph_opt, --threads and --minio_bucket, or run with the service's`,
    );
  }
}
