/**
 * Where the remaining parts run. A backend is told when a payload is in the store; the cloud
 * side puts the result under the output key, which the edge waits for through the store.
 * The types every backend shares live here; the registry (index.ts) only finds a backend by name.
 */
import type { CloudConfig } from '../config/cloud-config.js';
import type { RunConfig } from '../config/run-config.js';
import type { ObjectStore, StoreConfig } from '../storage/store.js';

export interface CloudJob {
  inputKey: string;
  outputKey: string;
}

/** What a backend knows about a finished job, from the cluster's own clock (durations only). */
export interface JobInfo {
  /** The job's name in the cluster (OSCAR job, Kubernetes Job). */
  name?: string;
  /** Seconds from the job's creation to its start (queueing, scheduling, image pull, cold start). */
  queueS?: number;
  /** Seconds from the job's start to its finish. */
  runS?: number;
  /** Milliseconds the cloud side spent putting the result in the store, on its clock. */
  uploadMs?: number;
  /** Retries of the store the cloud side made during the job (the store unavailable to it). */
  storeRetries?: number;
}

export interface PrepareOptions {
  /** Load the parts cold even when they are warm, so that the load is timed again. */
  fresh?: boolean;
}

export interface Prepared {
  loadMs: number;
  /** Retries the cloud side made of the store while it loaded (the store unavailable to it); absent: none. */
  storeRetries?: number;
}

/** The store as a cloud worker sees it: gone (it waits for it), or back after `downMs`. */
export type CloudStoreOutage = { kind: 'down'; reason: string } | { kind: 'up'; downMs: number };

export interface CloudBackend {
  /** 'local', 'oscar', 'kubernetes' or 'ssh', as the CSV's backend column shows it. */
  readonly name: string;
  /** Makes the cloud side ready to run these parts (by sha256); returns the cold-start time it measured. */
  prepare(models: readonly string[], options?: PrepareOptions): Promise<Prepared>;
  /** For backends with a long-lived worker: tells `listener` when the worker's store goes away and comes back. */
  onStoreOutage?(listener: (event: CloudStoreOutage) => void): () => void;
  /** Triggers the cloud side for a payload that is already in the store. */
  trigger(job: CloudJob): Promise<void>;
  /**
   * Where a job's payloads go in the store, when the backend decides (OSCAR: the service's
   * input and output paths). Default: input/<run>/<split>/<rep>.pb and output/<run>/<split>/<rep>.pb.
   */
  jobKeys?(runId: string, split: number, rep: string): CloudJob;
  /**
   * Folders of the store where the backend keeps a job's payloads and results flat, as
   * <folder>/<run>-<split>-<rep>.pb (OSCAR: the service's input and output paths), besides the
   * input/ and output/ layout: where the leftovers of a run are looked for (storage/clean.ts).
   */
  readonly payloadFolders?: readonly string[];
  /** After the result arrived: what the backend knows about the job. */
  jobInfo?(job: CloudJob): Promise<JobInfo>;
  /** Starts whatever the backend keeps running (a worker), so that the first split point does not pay for it. */
  warmUp?(): Promise<void>;
  /**
   * How many times the backend's long-lived cloud process (a worker) ended without being asked to
   * (crashed, killed, or killed by the backend after missing a deadline) and is started again for
   * the next request; undefined for backends that start a process per job.
   */
  readonly restarts?: number;
  /** The edge stopped waiting for this job (--timeout): a backend whose worker is still on it ends that worker. */
  abandon?(job: CloudJob): void;
  /**
   * The store retry budget (ms) every input payload carries to the process that serves it, for
   * backends whose processes start without the run's settings (an OSCAR job starts with its
   * service's environment); undefined: the cloud process has the run's budget already.
   */
  readonly requestStoreRetryMs?: number;
  /** Aborts when the backend learns that results will not come (a crashed worker, a failed job). */
  readonly failureSignal: AbortSignal;
  close(): Promise<void>;
}

/** How the cloud side reaches the store the edge uses; handed to workers as secrets, never on a command line. */
export interface StoreAccess {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
}

/** What a backend is given to start: the run's configuration, the store, and where warnings go. */
export interface BackendContext {
  /** The run's configuration (the backend's own flags in config.backendFlags). */
  config: RunConfig;
  /** The cloud process's part of it, as every backend hands it over (cloudConfigArgs). */
  cloud: CloudConfig;
  /**
   * The store the edge uses, still opening when the backend is created (its worker starts
   * meanwhile): a backend that keeps it awaits it (a rejection is the run's store error).
   */
  store: Promise<ObjectStore>;
  storeAccess: StoreAccess;
  /** True when the store is the embedded server on 127.0.0.1 (unreachable from a real cluster). */
  embeddedStore: boolean;
  env: NodeJS.ProcessEnv;
  /** Warnings for the user (one line each, without a prefix). */
  warn(line: string): void;
}

export interface BackendModule {
  /** The store to use when the user named none (OSCAR: the cluster's own MinIO). */
  defaultStore?(config: RunConfig, env: NodeJS.ProcessEnv): Promise<StoreConfig | undefined>;
  create(ctx: BackendContext): Promise<CloudBackend>;
}
