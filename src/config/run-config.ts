/**
 * One typed configuration of a run (model, provider, device, threads, graph optimisation, store,
 * bucket, timeouts, backend settings), built once from plain flag values (the command line's
 * names: exec_type, device_type, threads, graph_opt, minio_*, timeout, warmup, cloud, ...) and
 * handed to the sweep and the backend. The cloud side's part of it (cloudConfigOf) travels to
 * every cloud process in one encoding (see cloud-config.ts).
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import { integerAtLeast } from './checks.js';
import { providerFor, type ProviderChoice } from '../runtime/providers.js';
import type { GraphOptimizationLevel, SessionOptions } from '../runtime/session.js';
import { checkLinkShape, type LinkShape } from '../storage/shaping-proxy.js';
import { storeConfigFromEnv, storeLocationFromEnv, type StoreConfig } from '../storage/store.js';
import { kubeSettings, type KubeArgs } from '../backends/kube/options.js';
import { oscarRunSettings, type OscarRunSettings } from '../backends/oscar-options.js';
import { sshSettings, type SshConnectOptions, type SshSettings } from '../backends/ssh-options.js';
import { checkCloudConfig, cloudSessionOptions, type CloudConfig } from './cloud-config.js';
import { DEFAULTS, GRAPH_OPT_LEVELS } from './defaults.js';

export const BACKENDS = ['local', 'oscar', 'kubernetes', 'ssh'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The chosen backend's own settings, parsed from its flags (kube_*, ssh_*, oscar_*). */
export type BackendSettings =
  | { name: 'local' }
  | { name: 'oscar'; oscar: OscarRunSettings }
  | { name: 'kubernetes'; kube: KubeArgs; ssh: SshConnectOptions }
  | ({ name: 'ssh' } & SshSettings);

function backendSettings(cloud: BackendName, flags: RunFlags): BackendSettings {
  switch (cloud) {
    case 'oscar':
      return { name: 'oscar', oscar: oscarRunSettings(flags) };
    case 'kubernetes':
      return { name: 'kubernetes', ...kubeSettings(flags) };
    case 'ssh':
      return { name: 'ssh', ...sshSettings(flags) };
    default:
      return { name: 'local' };
  }
}

/** The flag values a run is built from (names as on the command line); other keys are backend flags. */
export interface RunFlags {
  onnx_file?: string;
  exec_type?: string;
  device_type?: string | number;
  threads?: number;
  /** Intra-op threads of the edge's sessions (default --threads). */
  edge_threads?: number;
  /** on | off: whether idle onnxruntime threads spin (default: off with --cloud local, else onnxruntime's own, on). */
  spinning?: string;
  /** Intra-op threads of the cloud's sessions (default --threads). */
  cloud_threads?: number;
  graph_opt?: string;
  minio_endpoint?: string;
  minio_bucket?: string;
  minio_region?: string;
  minio_secure?: boolean;
  /** Seconds the store may stay unavailable while calls retry (0: no retries). */
  store_retry_s?: number;
  timeout?: number;
  warmup?: number;
  cloud?: string;
  keep_objects?: boolean;
  /** Link rate between the edge and the store, Mbit/s (each direction). */
  bandwidth?: number;
  /** Round-trip time of that link, ms. */
  rtt?: number;
  [flag: string]: unknown;
}

export interface RunConfig {
  /** The model file (--onnx_file), when there is one. */
  model?: string;
  cloud: BackendName;
  /** --exec_type as given (the CSV's exec_type column). */
  execType: string;
  provider: ProviderChoice;
  graphOptimizationLevel: GraphOptimizationLevel;
  /**
   * Intra-op threads of the edge's sessions (and of the reference run of the whole model). With the
   * local cloud, every core of this machine unless given: the edge and the cloud never run at the
   * same time in a cycle. Undefined: onnxruntime's choice.
   */
  edgeThreads?: number;
  /** Intra-op threads of the cloud's sessions (local cloud: every core unless given; undefined: onnxruntime's choice). */
  cloudThreads?: number;
  /**
   * Whether idle onnxruntime threads spin (intra-op and inter-op pools). Off (false) with the local
   * cloud, where an idle side's spinning threads would take the cores from the side that runs;
   * undefined: onnxruntime's default (on).
   */
  spinning?: boolean;
  /** The store (keys from the environment, never from flags). */
  store: StoreConfig;
  /** How long to wait for each cloud result. */
  timeoutMs: number;
  /** Unrecorded warm-up cycles per split point. */
  warmup: number;
  keepObjects: boolean;
  /**
   * The link between the edge and the store (--bandwidth, --rtt): the edge's store connections go
   * through a shaping proxy; the cloud side reaches the store directly. None: no shaping.
   */
  link?: LinkShape;
  /** The chosen backend's own settings. */
  backend: BackendSettings;
}

function integer(v: unknown, flag: string, min: number): number | undefined {
  return v === undefined || v === null ? undefined : integerAtLeast(v, flag, min);
}

function graphOpt(v: unknown): GraphOptimizationLevel {
  const level = (v ?? DEFAULTS.graphOpt) as GraphOptimizationLevel;
  if (!GRAPH_OPT_LEVELS.includes(level)) throw new UsageError(`--graph_opt must be one of ${GRAPH_OPT_LEVELS.join(', ')}, got '${String(v)}'`);
  return level;
}

function storeFlags(f: Pick<RunFlags, 'minio_endpoint' | 'minio_bucket' | 'minio_region' | 'minio_secure'>): Parameters<typeof storeConfigFromEnv>[0] {
  const flags: Parameters<typeof storeConfigFromEnv>[0] = {};
  if (f.minio_endpoint) flags.minio_endpoint = f.minio_endpoint;
  if (f.minio_bucket) flags.minio_bucket = f.minio_bucket;
  if (f.minio_region) flags.minio_region = f.minio_region;
  if (f.minio_secure !== undefined) flags.minio_secure = f.minio_secure;
  return flags;
}

function storeRetryMs(v: unknown): number {
  const s = v ?? DEFAULTS.storeRetryS;
  if (typeof s !== 'number' || !(s >= 0) || !Number.isFinite(s)) throw new UsageError(`--store_retry_s must be a number of seconds, 0 or more, got ${String(v)}`);
  return s * 1000;
}

/** The store the flags and the environment name, with its retry budget (--store_retry_s). */
export function storeConfigFromFlags(flags: Pick<RunFlags, 'minio_endpoint' | 'minio_bucket' | 'minio_region' | 'minio_secure' | 'store_retry_s'>, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  return { ...storeConfigFromEnv(storeFlags(flags), env), retryBudgetMs: storeRetryMs(flags.store_retry_s) };
}

/** The run's configuration from flag values and the environment (store keys, MINIO_*); throws a UsageError naming the bad flag. */
export function buildRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const cloud = (flags.cloud ?? DEFAULTS.cloud) as BackendName;
  if (!BACKENDS.includes(cloud)) throw new UsageError(`--cloud ${String(flags.cloud)} is not a backend (one of: ${BACKENDS.join(', ')})`);
  const timeout = flags.timeout ?? DEFAULTS.timeoutS;
  if (typeof timeout !== 'number' || !(timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${String(flags.timeout)}`);
  // With the local cloud both sides are on this machine but never run at the same time in a
  // cycle: each gets every core unless told, and idle threads sleep instead of spinning.
  const local = cloud === 'local';
  const threads = integer(flags.threads, 'threads', 1) ?? (local ? availableParallelism() : undefined);
  const edgeThreads = integer(flags.edge_threads, 'edge_threads', 1) ?? threads;
  const cloudThreads = integer(flags.cloud_threads, 'cloud_threads', 1) ?? threads;
  const config: RunConfig = {
    cloud,
    execType: flags.exec_type ?? DEFAULTS.execType,
    provider: providerFor(flags.exec_type, flags.device_type),
    graphOptimizationLevel: graphOpt(flags.graph_opt),
    store: storeConfigFromFlags(flags, env),
    timeoutMs: timeout * 1000,
    warmup: integer(flags.warmup, 'warmup', 0) ?? DEFAULTS.warmup,
    keepObjects: flags.keep_objects === true,
    backend: backendSettings(cloud, flags),
  };
  if (flags.onnx_file) config.model = flags.onnx_file;
  if (edgeThreads !== undefined) config.edgeThreads = edgeThreads;
  if (cloudThreads !== undefined) config.cloudThreads = cloudThreads;
  if (flags.spinning !== undefined && flags.spinning !== 'on' && flags.spinning !== 'off') throw new UsageError(`--spinning must be on or off, got ${String(flags.spinning)}`);
  // Spinning on is onnxruntime's default: left unset, so a remote cloud's configuration is unchanged.
  if (flags.spinning === 'off' || (local && flags.spinning === undefined)) config.spinning = false;
  if (flags.bandwidth !== undefined || flags.rtt !== undefined) {
    config.link = checkLinkShape({ ...(flags.bandwidth !== undefined ? { bandwidthMbit: flags.bandwidth } : {}), rttMs: flags.rtt ?? 0 });
  }
  return config;
}

/** What the cloud process of this run needs to know (no secret). */
export function cloudConfigOf(run: Pick<RunConfig, 'provider' | 'graphOptimizationLevel' | 'cloudThreads' | 'spinning' | 'store'>): CloudConfig {
  const c: CloudConfig = { provider: run.provider, graphOptimizationLevel: run.graphOptimizationLevel, bucket: run.store.bucket };
  if (run.cloudThreads !== undefined) c.threads = run.cloudThreads;
  if (run.spinning !== undefined) c.spinning = run.spinning;
  if (run.store.region) c.region = run.store.region;
  // The cloud processes retry the store as long as the edge does (the default needs no field).
  const retryMs = run.store.retryBudgetMs;
  if (retryMs !== undefined && retryMs !== DEFAULTS.storeRetryS * 1000) c.storeRetryS = retryMs / 1000;
  return checkCloudConfig(c, 'the cloud configuration');
}

/**
 * The cloud configuration of a cloud process started by hand, from its own flags (exec_type,
 * device_type, graph_opt, threads, minio_bucket, minio_region) and MINIO_BUCKET / MINIO_REGION.
 */
export function cloudConfigFromFlags(flags: Pick<RunFlags, 'exec_type' | 'device_type' | 'graph_opt' | 'threads' | 'minio_bucket' | 'minio_region'>, env: NodeJS.ProcessEnv = process.env): CloudConfig {
  const threads = integer(flags.threads, 'threads', 1);
  const store = storeLocationFromEnv(storeFlags(flags), env);
  return cloudConfigOf({ provider: providerFor(flags.exec_type, flags.device_type), graphOptimizationLevel: graphOpt(flags.graph_opt), ...(threads ? { cloudThreads: threads } : {}), store });
}

/** The session options of the edge's sessions (and of the reference run of the whole model). */
export function edgeSessionOptions(run: RunConfig): SessionOptions {
  // The same settings as the cloud's, with the edge's threads.
  const { edgeThreads, cloudThreads: _cloud, ...rest } = run;
  return cloudSessionOptions(cloudConfigOf({ ...rest, ...(edgeThreads !== undefined ? { cloudThreads: edgeThreads } : {}) }));
}

/** Below this --timeout a part's load alone often misses it: said, not refused. */
const SHORT_TIMEOUT_MS = 1000;

/**
 * Settings that are valid but likely a mistake, one line each: more intra-op threads than this
 * machine has cores for a side that runs here (onnxruntime then oversubscribes the cores and every
 * part runs slower), and a --timeout shorter than a part's load usually takes.
 */
export function runConfigWarnings(run: Pick<RunConfig, 'cloud' | 'edgeThreads' | 'cloudThreads' | 'timeoutMs'>, cores = availableParallelism()): string[] {
  const out: string[] = [];
  const here = [['edge', run.edgeThreads], ...(run.cloud === 'local' ? [['cloud', run.cloudThreads] as const] : [])] as const;
  for (const [side, n] of here) {
    if (n !== undefined && n > cores) out.push(`${n} intra-op threads for the ${side} (--${side}_threads or --threads) is more than this machine's ${cores} cores: onnxruntime's threads then share cores and the ${side}'s parts run slower than they would at ${cores}`);
  }
  if (run.timeoutMs < SHORT_TIMEOUT_MS) out.push(`--timeout ${run.timeoutMs / 1000} s is shorter than loading a part usually takes: cycles that miss it are recorded as failed rows (the flag is in seconds)`);
  return out;
}

/** The effective thread settings of a run, as its rows record them (edge_threads, cloud_threads, spinning). */
export function threadColumns(run: Pick<RunConfig, 'edgeThreads' | 'cloudThreads' | 'spinning'>): { edge_threads: number | ''; cloud_threads: number | ''; spinning: 'on' | 'off' } {
  return { edge_threads: run.edgeThreads ?? '', cloud_threads: run.cloudThreads ?? '', spinning: run.spinning === false ? 'off' : 'on' };
}
