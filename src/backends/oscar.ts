/**
 * The oscar backend: the cloud part runs as an OSCAR service (grycap/oscar), one Kubernetes Job per
 * payload, as the original tool ran it.
 *
 * - Trigger 'upload' (default): the edge puts the payload under the service's MinIO input path;
 *   MinIO's webhook calls POST /job/<service> and OSCAR starts a job. trigger() does nothing.
 *   Trigger 'job': the payload goes outside the input path (no webhook) and trigger() POSTs a
 *   MinIO-style event naming it to /job/<service> with the service's token.
 * - In the job, faas-supervisor downloads the object to $INPUT_FILE_PATH, runs the service script
 *   (cloud/oscar/script.sh: onnx-cloud writes $TMP_OUTPUT_DIR/<input file name>) and uploads every
 *   file of $TMP_OUTPUT_DIR to the output path under the same name: the result of
 *   <input prefix>/<run>-<split>-<rep>.pb is <output prefix>/<run>-<split>-<rep>.pb.
 * - Jobs are found in GET /system/logs/<service> by the payload's file name in their log (the
 *   supervisor logs the object key it downloads); job_queue_s and job_run_s come from the job's own
 *   timestamps (1 s resolution, the cluster's clock, durations only).
 * - failureSignal: while a result is awaited, the job list is polled once a second; a job for our
 *   payload seen Failed, or Succeeded with no result in the store, aborts the wait at once.
 */
import { posix } from 'node:path';
import { DEFAULTS } from '../config/defaults.js';
import { OnnxManagerError, UsageError } from '../errors.js';
import { isLoopbackHost } from '../net.js';
import type { ObjectStore } from '../storage/store.js';
import type { BackendSettings } from '../config/run-config.js';
import type { BackendContext, BackendModule, CloudBackend, CloudJob, JobInfo } from './backend.js';
import { OscarError, parseOscarEndpoint, type OscarClient, type OscarService } from './oscar-client.js';
import { FINISHED, JobTracker, seconds } from './oscar-jobs.js';
import type { OscarRunSettings, OscarTrigger } from './oscar-options.js';
import { runnerService } from './oscar-chain.js';
import { checkServiceConfig, clientFromArgs, clusterStore, jobsFolder, outputKeyFor, payloadFolders, servicePaths, type StoragePath } from './oscar-service.js';
import { checkStoreReach } from './reach.js';
import { sleep } from './timers.js';

export { OscarError };
export { clientFromArgs, clusterStore, outputKeyFor, parseStoragePath, servicePaths, type StoragePath } from './oscar-service.js';

export class OscarBackendError extends OnnxManagerError {}

export interface OscarBackendOptions {
  client: OscarClient;
  service: OscarService;
  store: ObjectStore;
  trigger: OscarTrigger;
  /** How long a result may take (the sweep's --timeout), bounding the failure watch. */
  waitMs: number;
  /** Access key of the store, as MinIO names the uploader in its events ('job' trigger). */
  accessKey?: string;
  /** Delete this run's finished jobs on close(). */
  cleanup?: boolean;
  /** Poll interval of the failure watch (default 1000 ms). */
  pollMs?: number;
  /** How long jobInfo waits for the job to show as finished (default 20 s). */
  infoWaitMs?: number;
  /** The run's store retry budget (ms), carried by each payload to its job (default: the jobs' own, their service's). */
  storeRetryMs?: number;
}

export class OscarBackend implements CloudBackend {
  readonly name = 'oscar';
  readonly input?: StoragePath;
  readonly output: StoragePath;
  private readonly tracker: JobTracker;
  private failure = new AbortController();
  /** Jobs known when the current payload was triggered (for finding its job by creation order). */
  private knownAtTrigger = new Set<string>();
  /** jobInfo calls in a row that found no job by its log (then it stops waiting for one). */
  private misses = 0;
  private watchStop: AbortController | undefined;
  /** Jobs this run used (for --oscar_cleanup). */
  private readonly ours = new Set<string>();
  private readonly token: string | undefined;
  readonly requestStoreRetryMs?: number;

  constructor(private readonly o: OscarBackendOptions) {
    const svc = o.service;
    const paths = servicePaths(svc);
    const where = `OSCAR service '${svc.name}'`;
    if (!paths.output) throw new OscarBackendError(`${where} has no MinIO output path (output: [{storage_provider: minio.default, path: bucket/folder}]), so results cannot come back`);
    if (o.trigger === 'upload' && !paths.input) {
      throw new OscarBackendError(`${where} has no MinIO input path, so an upload cannot start it; give it one or use --oscar_trigger job`);
    }
    const bucket = o.store.bucket;
    for (const [what, p] of [
      ['input', o.trigger === 'upload' ? paths.input : undefined],
      ['output', paths.output],
    ] as const) {
      if (p && p.bucket !== bucket) {
        throw new OscarBackendError(
          `${where} has its ${what} path in bucket '${p.bucket}' but the store uses bucket '${bucket}'; give --minio_bucket ${p.bucket} (models, payloads and results share one bucket)`,
        );
      }
    }
    if (paths.input) this.input = paths.input;
    this.output = paths.output;
    this.tracker = new JobTracker(o.client, svc.name);
    if (o.trigger === 'job') this.token = o.client.invokeToken(svc);
    if (o.storeRetryMs !== undefined) this.requestStoreRetryMs = Math.min(Math.round(o.storeRetryMs), 2 ** 32 - 1);
  }

  /** The service's input and output paths and the job trigger's folder, where a run's leftovers are looked for. */
  get payloadFolders(): readonly string[] {
    return payloadFolders(this.o.service, this.o.store.bucket).folders;
  }

  get failureSignal(): AbortSignal {
    return this.failure.signal;
  }

  /** Notes the service's existing jobs, so that only jobs started from now on are looked into. */
  baseline(): Promise<void> {
    return this.tracker.baseline();
  }

  jobKeys(runId: string, split: number, rep: string): CloudJob {
    const file = `${runId}-${split}-${rep}.pb`;
    // With the 'job' trigger the payload stays out of the input path, so the webhook does not start a second job.
    const inputKey = this.o.trigger === 'upload' ? outputKeyFor(this.input!, file) : `${jobsFolder(this.o.service.name)}/${file}`;
    return { inputKey, outputKey: outputKeyFor(this.output, file) };
  }

  /** Each OSCAR job is a new pod: its cold start shows in job_queue_s and job_run_s, not here. */
  async prepare(): Promise<{ loadMs: number }> {
    return { loadMs: 0 };
  }

  async trigger(job: CloudJob): Promise<void> {
    this.watch(job);
    if (this.o.trigger === 'job') await this.o.client.job(this.o.service.name, JSON.stringify(this.minioEvent(job.inputKey)), this.token!);
  }

  /** The event MinIO's webhook would send for this upload (what the supervisor parses as a MINIO event). */
  minioEvent(key: string): Record<string, unknown> {
    const bucket = this.o.store.bucket;
    const principal = this.o.accessKey ?? '';
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    return {
      EventName: 's3:ObjectCreated:Put',
      Key: `${bucket}/${key}`,
      Records: [
        {
          eventVersion: '2.0',
          eventSource: 'minio:s3',
          awsRegion: '',
          eventTime: new Date().toISOString(),
          eventName: 's3:ObjectCreated:Put',
          userIdentity: { principalId: principal },
          requestParameters: { principalId: principal, region: '', sourceIPAddress: '' },
          responseElements: {},
          s3: {
            s3SchemaVersion: '1.0',
            configurationId: 'Config',
            bucket: { name: bucket, ownerIdentity: { principalId: principal }, arn: `arn:aws:s3:::${bucket}` },
            object: { key: encoded, contentType: 'application/octet-stream', userMetadata: {}, sequencer: '' },
          },
          source: { host: '', port: '', userAgent: 'onnx-manager' },
        },
      ],
    };
  }

  private stopWatch(): void {
    this.watchStop?.abort();
    this.watchStop = undefined;
  }

  /** Polls the job list while the result of `job` is awaited; aborts failureSignal when the job cannot deliver. */
  private watch(job: CloudJob): void {
    this.stopWatch();
    const failure = new AbortController();
    this.failure = failure;
    const stop = new AbortController();
    this.watchStop = stop;
    const stopped = stop.signal;
    const file = posix.basename(job.inputKey);
    const known = this.tracker.known();
    this.knownAtTrigger = known;
    const pollMs = this.o.pollMs ?? 1000;
    const deadline = Date.now() + this.o.waitMs + 5000;
    const fail = (message: string) => {
      if (!stopped.aborted) failure.abort(new OscarBackendError(message));
    };
    void (async () => {
      while (!stopped.aborted && Date.now() < deadline) {
        await sleep(pollMs, stopped);
        if (stopped.aborted) return;
        try {
          await this.tracker.refresh();
          let t = this.tracker.find(file);
          if (!t) {
            // A pod that failed before logging the payload's name: ours if it is the only new one.
            const failed = this.tracker.failedWithoutFile(known);
            if (failed.length !== 1) continue;
            t = failed[0]!;
          }
          this.ours.add(t.name);
          if (t.info.status === 'Failed') {
            const why = await this.tracker.failureDetail(t.name);
            return fail(`OSCAR job ${t.name} failed${why ? `: ${why}` : ''}`);
          }
          if (t.info.status === 'Succeeded') {
            // The supervisor uploads the result before the pod ends; allow the store a moment to show it.
            for (let i = 0; i < 2; i++) {
              if (stopped.aborted || (await this.o.store.exists(job.outputKey))) return;
              await sleep(500, stopped);
            }
            const why = await this.tracker.failureDetail(t.name);
            return fail(`OSCAR job ${t.name} finished without writing ${job.outputKey}${why ? ` (${why})` : ''}`);
          }
        } catch {
          // A failing poll is not a failing job: the wait's own timeout still applies.
        }
      }
    })();
  }

  async jobInfo(job: CloudJob): Promise<JobInfo> {
    this.stopWatch();
    const file = posix.basename(job.inputKey);
    const start = Date.now();
    // Found by its log: wait (up to infoWaitMs) for it to show as finished, since the result is
    // uploaded before the pod ends. Not found: a few seconds at most, none once that keeps happening.
    const notFoundMs = this.misses >= 2 ? 0 : 3000;
    let delay = 100;
    await this.tracker.refresh().catch(() => undefined);
    let t = this.tracker.find(file);
    while (!t || !(t.info.finish_time || FINISHED.has(t.info.status ?? ''))) {
      const waited = Date.now() - start;
      if (waited > (t ? (this.o.infoWaitMs ?? 20_000) : notFoundMs)) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
      await this.tracker.refresh().catch(() => undefined);
      t = this.tracker.find(file);
    }
    if (!t) {
      this.misses++;
      // By creation order: the one job that appeared since the trigger and names no other payload.
      const fresh = this.tracker.unmatchedSince(this.knownAtTrigger);
      if (fresh.length !== 1) return {};
      t = fresh[0]!;
    } else {
      this.misses = 0;
    }
    this.ours.add(t.name);
    const info: JobInfo = { name: t.name };
    const queue = seconds(t.info.creation_time, t.info.start_time);
    const run = seconds(t.info.start_time, t.info.finish_time);
    if (queue !== undefined) info.queueS = queue;
    if (run !== undefined) info.runS = run;
    return info;
  }

  async close(): Promise<void> {
    this.stopWatch();
    if (!this.o.cleanup || this.ours.size === 0) return;
    await this.tracker.refresh().catch(() => undefined);
    for (const name of this.ours) {
      // Only finished jobs: deleting a pending or running one would stop it.
      if (FINISHED.has(this.tracker.status(name) ?? '')) await this.o.client.deleteJob(this.o.service.name, name).catch(() => undefined);
    }
  }
}

function oscarOf(settings: BackendSettings): OscarRunSettings {
  if (settings.name !== 'oscar') throw new UsageError(`the oscar backend was given the settings of --cloud ${settings.name}`);
  return settings.oscar;
}

/** The store retry budget (ms) each input payload of a run through OSCAR carries: the run's --store_retry_s, else the default. */
export function payloadStoreRetryMs(config: { store: { retryBudgetMs?: number } }): number {
  return Math.min(Math.round(config.store.retryBudgetMs ?? DEFAULTS.storeRetryS * 1000), 2 ** 32 - 1);
}

export const oscarModule: BackendModule = {
  // The cluster's MinIO, with the run's --store_retry_s (for the edge; the jobs get it in each payload).
  defaultStore: async (config, env) => {
    const store = await clusterStore(oscarOf(config.backend), env);
    return config.store.retryBudgetMs !== undefined ? { ...store, retryBudgetMs: config.store.retryBudgetMs } : store;
  },

  create: async (ctx: BackendContext) => {
    // The store is open before the cluster is asked anything (a store error comes first).
    const store = await ctx.store;
    const { service: name, trigger, cleanup, endpoint } = oscarOf(ctx.config.backend);
    const client = clientFromArgs({ ...(endpoint !== undefined ? { oscar_endpoint: endpoint } : {}) }, ctx.env);
    checkStoreReach(ctx, { who: `the OSCAR cluster at ${client.url}`, remote: !isLoopbackHost(parseOscarEndpoint(client.url).hostname), hint: 'or none at all to use the cluster’s own MinIO' });
    // A stage of a chain runs only its own part: the chain's last service runs the cloud side.
    const { service } = await runnerService(client, name, ctx.warn);
    // A job starts with its service's environment: the run's store retry budget goes with each payload.
    const storeRetryMs = payloadStoreRetryMs(ctx.config);
    const o: OscarBackendOptions = { client, service, store, trigger, waitMs: ctx.config.timeoutMs, cleanup, storeRetryMs };
    if (ctx.storeAccess.accessKey) o.accessKey = ctx.storeAccess.accessKey;
    const backend = new OscarBackend(o);
    checkServiceConfig(service, ctx.cloud, ctx.warn);
    await backend.baseline();
    return backend;
  },
};
