/**
 * deploy: the OSCAR service(s) that run the cloud side, as an FDL file for oscar-cli
 * (<onnx_path>/fdl.yaml, with script.sh beside it) and, with --apply, created or updated through
 * the OSCAR API (POST/PUT /system/services) with the cloud part(s) uploaded to models/<sha256>.onnx.
 *
 * - No --split_layer(s): one service that runs whatever parts each payload names (what run and
 *   run_all need).
 * - --split_layer L: one service for the cloud part of that split.
 * - --split_layers L1 .. Lk: a chain of k services, one per cloud part; the output path of service i
 *   is the input path of service i+1, and every service but the last writes the payload for the next.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { clientFromArgs, clusterStore, parseStoragePath, STAGE_PARTS_VARIABLE } from '../../backends/oscar-service.js';
import type { OscarService } from '../../backends/oscar-client.js';
import type { OscarArgs } from '../../backends/oscar-options.js';
import { UsageError } from '../../errors.js';
import { checkOutputFolder } from '../../files.js';
import { partHash } from '../../onnx/part-hash.js';
import { STAGE_FORWARD_VARIABLE } from '../../runner/cloud.js';
import { orderedSplitPositions, pointAtPosition, splitLayerNamed } from '../../split/points.js';
import { OutputTransaction } from '../../split/output.js';
import { buildParts } from '../../split/split.js';
import { openMinioStore } from '../../storage/minio-store.js';
import { DEFAULT_BUCKET, storeConfigFromEnv, storeKeys, type StoreConfig } from '../../storage/store.js';
import { CLOUD_CONFIG_VARIABLE, encodeCloudConfig } from '../../config/cloud-config.js';
import { cloudConfigFromFlags } from '../../config/run-config.js';
import { DEFAULTS } from '../../config/defaults.js';
import { humanBytes } from '../format.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';

export interface DeployArgs extends ModelArgs, OscarArgs {
  onnx_path?: string;
  /** The cloud settings the service's jobs run with (ONNX_MANAGER_CLOUD_CONFIG). */
  exec_type?: string;
  device_type?: string;
  graph_opt?: string;
  threads?: number;
  split_layer?: string;
  split_layers?: string[];
  minio_endpoint?: string;
  minio_bucket?: string;
  minio_region?: string;
  minio_secure?: boolean;
  /** Seconds the service's jobs retry the store (its ONNX_MANAGER_CLOUD_CONFIG; the default is left out). */
  store_retry_s?: number;
}

const OSCAR_DIR = fileURLToPath(new URL('../../../../cloud/oscar/', import.meta.url));
export const SCRIPT_FILE = path.join(OSCAR_DIR, 'script.sh');
export const TEMPLATE_FILE = path.join(OSCAR_DIR, 'fdl-template.yaml');
/** OSCAR's own in-cluster MinIO, when nothing better is known. */
const CLUSTER_MINIO = 'http://minio.minio:9000';
/** types.Service.name: maxLength 39; Kubernetes names: lower-case alphanumerics and '-'. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MAX = 39;

/** One service of the FDL (script: the file name, as oscar-cli expects it). */
export interface PlannedService {
  name: string;
  input: string;
  output: string;
  variables: Record<string, string>;
}

interface Template {
  cluster: string;
  service: Record<string, unknown>;
}

async function loadTemplate(): Promise<Template> {
  const doc = parseYaml(await readFile(TEMPLATE_FILE, 'utf8')) as { functions?: { oscar?: Record<string, Record<string, unknown>>[] } };
  const first = doc?.functions?.oscar?.[0];
  const cluster = first ? Object.keys(first)[0] : undefined;
  if (!first || !cluster) throw new UsageError(`${TEMPLATE_FILE} is not an FDL file (functions.oscar[0].<cluster>)`);
  return { cluster, service: first[cluster]! };
}

function checkName(name: string, what: string): void {
  if (!NAME.test(name) || name.length > NAME_MAX) {
    throw new UsageError(`${what} '${name}' is not a valid OSCAR service name (lower-case letters, digits and '-', at most ${NAME_MAX} characters)`);
  }
}

function checkPath(p: string, flag: string, bucket: string): void {
  const sp = parseStoragePath(p);
  if (!sp.bucket || !sp.prefix) throw new UsageError(`--${flag} '${p}' must be bucket/folder (OSCAR watches a folder)`);
  if (sp.bucket !== bucket) throw new UsageError(`--${flag} '${p}' is not in bucket '${bucket}' (models, payloads and results share one bucket; see --minio_bucket)`);
}

/** Folder `a` is `b` or inside it (an output there would start the service again). */
function within(a: string, b: string): boolean {
  const x = parseStoragePath(a);
  const y = parseStoragePath(b);
  return x.bucket === y.bucket && (x.prefix === y.prefix || x.prefix.startsWith(`${y.prefix}/`));
}

/** The services for a chain of `stages` (sha256 lists, one per service; [[]] for one generic service). */
export function planServices(
  name: string,
  bucket: string,
  stages: string[][],
  opts: { input?: string; output?: string; minioEndpoint: string; cloudConfig: string; forwarded?: string[][] },
): PlannedService[] {
  const k = stages.length;
  const first = opts.input ?? `${bucket}/${name}-in`;
  const last = opts.output ?? `${bucket}/${name}-out`;
  const services: PlannedService[] = [];
  for (let i = 0; i < k; i++) {
    const svc = k === 1 ? name : `${name}-${i + 1}`;
    checkName(svc, 'service name');
    const variables: Record<string, string> = { MINIO_ENDPOINT: opts.minioEndpoint, [CLOUD_CONFIG_VARIABLE]: opts.cloudConfig };
    if (stages[i]!.length) variables.ONNX_MANAGER_PARTS = stages[i]!.join(',');
    if (i < k - 1) variables[STAGE_PARTS_VARIABLE] = stages[i]!.join(',');
    if (i < k - 1 && opts.forwarded) variables[STAGE_FORWARD_VARIABLE] = JSON.stringify(opts.forwarded[i] ?? []);
    services.push({
      name: svc,
      input: i === 0 ? first : services[i - 1]!.output,
      output: i === k - 1 ? last : `${bucket}/${name}-${i + 1}-out`,
      variables,
    });
  }
  for (const s of services) {
    if (within(s.output, s.input) || within(s.input, s.output)) {
      throw new UsageError(`service ${s.name}: input ${s.input} and output ${s.output} overlap, so each result would start the service again`);
    }
  }
  return services;
}

/** The FDL document oscar-cli reads: functions.oscar[{<cluster>: service}]. */
export function fdlDocument(cluster: string, base: Record<string, unknown>, services: PlannedService[]): Record<string, unknown> {
  return {
    functions: {
      oscar: services.map((s) => ({
        [cluster]: {
          name: s.name,
          image: base.image,
          script: 'script.sh',
          cpu: String(base.cpu),
          memory: String(base.memory),
          log_level: String(base.log_level),
          environment: { variables: s.variables },
          input: [{ storage_provider: 'minio.default', path: s.input }],
          output: [{ storage_provider: 'minio.default', path: s.output }],
        },
      })),
    },
  };
}

export async function deploy(args: DeployArgs, io: { out: (s: string) => void }): Promise<void> {
  const out = io.out;
  const env = process.env;
  const template = await loadTemplate();
  const name = (args.oscar_service ?? String(template.service.name ?? 'onnx-cloud')).trim();
  checkName(name, '--oscar_service');
  const cluster = args.oscar_cluster ?? template.cluster;
  if (!/^[\w.-]+$/.test(cluster)) throw new UsageError(`--oscar_cluster '${cluster}' is not a cluster id`);
  const bucket = args.minio_bucket ?? (args.oscar_input ? parseStoragePath(args.oscar_input).bucket : DEFAULT_BUCKET);
  if (args.oscar_input) checkPath(args.oscar_input, 'oscar_input', bucket);
  if (args.oscar_output) checkPath(args.oscar_output, 'oscar_output', bucket);

  // The cloud parts, by hash, one service each (or one service for any split).
  let stages: string[][] = [[]];
  let forwarded: string[][] | undefined;
  const parts = new Map<string, Uint8Array>();
  if (args.split_layer && args.split_layers?.length) throw new UsageError('give --split_layer or --split_layers, not both');
  const layers = args.split_layers?.length ? args.split_layers : args.split_layer ? [args.split_layer] : [];
  if (layers.length) {
    if (!args.onnx_file) throw new UsageError('--split_layer(s) need --onnx_file');
    const a = await analyzeFromArgs(args);
    const positions = orderedSplitPositions(a.splitPoints, a.index, layers, a.model.label);
    const cloud = buildParts(a, positions).filter((p) => p.plan.number !== 1);
    if (cloud.length === 0) {
      const last = pointAtPosition(a.splitPoints, a.index, positions.at(-1)!);
      throw new UsageError(`a cut after '${splitLayerNamed(a.splitPoints, layers.at(-1)!)}' (split ${last.index}) leaves nothing to run in the cloud`);
    }
    const external = cloud.find((p) => p.part.external);
    if (external) throw new UsageError(`${external.file} keeps its weights in an external data file, which cannot be sent to OSCAR yet`);
    stages = cloud.map((p) => {
      const bytes = p.part.model.concat();
      const h = partHash(bytes);
      parts.set(h, bytes);
      return [h];
    });
    // What each stage hands on: every tensor a later stage's part reads.
    forwarded = cloud.map((_, i) => [...new Set(cloud.slice(i + 1).flatMap((p) => p.plan.inputs))]);
  }

  // The store the service reads parts from: the flags or MINIO_*, else (with --apply) OSCAR's own MinIO.
  const flags: Parameters<typeof storeConfigFromEnv>[0] = { minio_bucket: bucket };
  if (args.minio_endpoint) flags.minio_endpoint = args.minio_endpoint;
  if (args.minio_region) flags.minio_region = args.minio_region;
  if (args.minio_secure !== undefined) flags.minio_secure = args.minio_secure;
  let store: StoreConfig = storeConfigFromEnv(flags);
  const client = args.apply ? clientFromArgs(args, env) : undefined;
  if (client && !store.endpoint) {
    store = await clusterStore({ ...(args.oscar_endpoint !== undefined ? { endpoint: args.oscar_endpoint } : {}), bucket }, env);
  }
  const minioEndpoint = store.endpoint ?? CLUSTER_MINIO;
  const cloud = cloudConfigFromFlags({ ...args, minio_bucket: bucket, ...(store.region ? { minio_region: store.region } : {}) }, {});
  // OSCAR starts every job with the service's environment: the jobs' store retry budget is set here.
  if (args.store_retry_s !== undefined && args.store_retry_s !== DEFAULTS.storeRetryS) cloud.storeRetryS = args.store_retry_s;
  const opts: Parameters<typeof planServices>[3] = { minioEndpoint, cloudConfig: encodeCloudConfig(cloud) };
  if (forwarded) opts.forwarded = forwarded;
  if (args.oscar_input) opts.input = args.oscar_input;
  if (args.oscar_output) opts.output = args.oscar_output;
  const services = planServices(name, bucket, stages, opts);

  const base: Record<string, unknown> = {
    ...template.service,
    ...(args.oscar_image ? { image: args.oscar_image } : {}),
    ...(args.oscar_cpu ? { cpu: args.oscar_cpu } : {}),
    ...(args.oscar_memory ? { memory: args.oscar_memory } : {}),
    ...(args.oscar_log_level ? { log_level: args.oscar_log_level.toUpperCase() } : {}),
  };
  const doc = fdlDocument(cluster, base, services);
  // Default: cloud/oscar/ under the current folder (in this repository, beside script.sh).
  if (args.onnx_path) checkOutputFolder(args.onnx_path, 'onnx_path');
  const dir = path.resolve(args.onnx_path ?? path.join('cloud', 'oscar'));
  const fdlFile = path.join(dir, 'fdl.yaml');
  const script = await readFile(SCRIPT_FILE, 'utf8');
  const header = `# OSCAR service(s) for onnx-manager, written by --operation deploy. Apply with: oscar-cli apply ${path.basename(fdlFile)}\n`;
  await OutputTransaction.run(dir, async (tx) => {
    await tx.write('fdl.yaml', header + stringify(doc, { lineWidth: 0 }));
    if (path.resolve(dir, 'script.sh') !== path.resolve(SCRIPT_FILE)) await tx.write('script.sh', script);
  });
  out(`wrote ${fdlFile} (${services.length} service${services.length > 1 ? 's' : ''}: ${services.map((s) => `${s.name} ${s.input} -> ${s.output}`).join('; ')})`);
  if (!store.endpoint) out(`MINIO_ENDPOINT in the services is ${CLUSTER_MINIO} (OSCAR's in-cluster MinIO); give --minio_endpoint to change it`);
  if (!args.oscar_image) out(`image ${String(base.image)} (the template's; give --oscar_image)`);
  if (!client) {
    out(`apply it with oscar-cli apply ${fdlFile}, or run deploy again with --apply${parts.size ? ' (which also uploads the cloud parts)' : ''}`);
    return;
  }

  const fdlServices = (doc.functions as { oscar: Record<string, Record<string, unknown>>[] }).oscar.map((e) => e[cluster]!);
  for (const s of fdlServices) {
    const environment = s.environment as { variables: Record<string, string>; secrets?: Record<string, string> };
    const body: OscarService = { ...(s as unknown as OscarService), script, cluster_id: cluster, environment: { ...environment } };
    if (store.accessKey && store.secretKey) body.environment!.secrets = { MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey };
    const existing = await client.findService(body.name);
    if (existing) await client.updateService(body);
    else await client.createService(body);
    out(`${existing ? 'updated' : 'created'} OSCAR service ${body.name} at ${client.url}`);
  }
  if (parts.size) {
    // After the services: creating a service makes its bucket.
    const opened = await openMinioStore({ ...store, createBucket: false });
    try {
      for (const [h, bytes] of parts) {
        const key = storeKeys.model(h);
        if (await opened.exists(key)) {
          out(`part ${h.slice(0, 12)}… already in ${opened.description}`);
        } else {
          await opened.put(key, bytes);
          out(`uploaded part ${h.slice(0, 12)}… (${humanBytes(bytes.length)}) to ${key} in ${opened.description}`);
        }
      }
    } finally {
      await opened.close();
    }
  }
}
