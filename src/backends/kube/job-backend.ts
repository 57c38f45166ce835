/**
 * job mode of the kubernetes backend: one batch/v1 Job per payload, running
 * `onnx-cloud --input_key K --output_key K --cloud_config C` once (backoffLimit 0). While a Job is
 * pending the backend polls it and its pod (every 500 ms; 100 ms once the result is in), so a Job
 * that fails, or a pod that cannot start (image pull, missing Secret), aborts the wait at once with
 * the container's last log line; a pod that is only unschedulable waits until the sweep's timeout.
 * Afterwards jobInfo() reads the cluster's times and the Job is deleted (propagationPolicy
 * Background) unless --kube_keep_jobs.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { CloudBackend, CloudJob, JobInfo } from '../backend.js';
import { sleep, within } from '../timers.js';
import { KubernetesError, type KubeClient } from './client.js';
import type { KubeSettings } from './options.js';
import { APP, APP_LABEL, jobFailure, jobManifest, jobName, jobState, jobTimes, LABELS, podFinished, podProblem, type KubeJob, type KubePod } from './spec.js';

/** How often a pending Job is polled, and how often once its result has arrived. */
const POLL_MS = 500;
const FAST_POLL_MS = 100;
/** How long jobInfo() waits for a Job whose result arrived to be marked finished. */
const JOBINFO_WAIT_MS = 15_000;
/** Finished Jobs left behind (a crash of onnx-manager) are removed by the cluster after this. */
const JOB_TTL_S = 600;

/** A Job the backend created, and the poll loop watching it. */
interface Tracked {
  name: string;
  /** Aborted (with the reason) when the Job fails: the sweep's wait for this result ends. */
  failure: AbortController;
  /** Ends the poll loop. */
  stop: AbortController;
  fast: boolean;
  wake?: () => void;
  /** The Job and pod as last seen when the loop ended (terminal, or stopped). */
  end: Promise<{ job?: KubeJob; pod?: KubePod; terminal: boolean }>;
  /** The pod as the loop last saw it. */
  lastPod?: KubePod;
  /** Set when the loop saw the Job end. */
  terminal: boolean;
  deleted: boolean;
}

/** job mode: a batch/v1 Job per payload. */
export class KubernetesJobBackend implements CloudBackend {
  readonly name = 'kubernetes';
  private failure = new AbortController();
  private readonly tracked = new Map<string, Tracked>();
  private readonly deletions = new Set<Promise<void>>();

  constructor(
    private readonly kube: KubeClient,
    private readonly s: KubeSettings,
  ) {}

  get failureSignal(): AbortSignal {
    return this.failure.signal;
  }

  /** Each Job loads its parts cold (its cloud_load_ms is inside wait_ms); nothing to warm here. */
  async prepare(): Promise<{ loadMs: number }> {
    return { loadMs: 0 };
  }

  async trigger(job: CloudJob): Promise<void> {
    // The sweep runs one job at a time: anything still tracked was given up (timeout, failure).
    for (const t of [...this.tracked.values()]) {
      if (!t.terminal) {
        const pod = t.lastPod;
        const unscheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
        const waiting = pod?.status?.containerStatuses?.[0]?.state?.waiting;
        const why = !pod
          ? 'the Job controller made no pod yet; see kubectl describe job'
          : unscheduled
            ? `${unscheduled.reason ?? 'unscheduled'}: ${unscheduled.message ?? ''}`
            : waiting
              ? `${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}`
              : 'no result in time';
        this.s.warn(`Kubernetes Job ${t.name} was given up while its pod was ${pod?.status?.phase ?? 'not created'} (${why.trim()})`);
      }
      this.finish(t);
    }
    const failure = new AbortController();
    this.failure = failure;
    const name = jobName(job.inputKey);
    const manifest = jobManifest({
      name,
      namespace: this.kube.namespace,
      image: this.s.args.image,
      secret: this.s.args.secret,
      instance: this.s.instance,
      inputKey: job.inputKey,
      outputKey: job.outputKey,
      ...(this.s.args.keepJobs ? {} : { ttlSecondsAfterFinished: JOB_TTL_S }),
      cloud: this.s.cloud,
    });
    await this.kube.call(`create Job ${this.kube.namespace}/${name}`, () =>
      this.kube.batch.createNamespacedJob({ namespace: this.kube.namespace, body: manifest as V1Job }),
    );
    const t: Tracked = { name, failure, stop: new AbortController(), fast: false, deleted: false, terminal: false, end: Promise.resolve({ terminal: false }) };
    t.end = this.watch(t);
    this.tracked.set(job.outputKey, t);
  }

  private async pause(t: Tracked): Promise<void> {
    const wake = new AbortController();
    t.wake = () => wake.abort();
    await sleep(t.fast ? FAST_POLL_MS : POLL_MS, t.stop.signal, wake.signal);
    t.wake = undefined;
  }

  /** Polls the Job and its pod until the Job ends (or the loop is stopped). */
  private async watch(t: Tracked): Promise<{ job?: KubeJob; pod?: KubePod; terminal: boolean }> {
    let job: KubeJob | undefined;
    let pod: KubePod | undefined;
    let errors = 0;
    while (!t.stop.signal.aborted) {
      await this.pause(t);
      if (t.stop.signal.aborted) break;
      try {
        job = await this.kube.readJob(t.name);
        pod = await this.kube.podOfJob(t.name);
        t.lastPod = pod;
        errors = 0;
        const state = jobState(job);
        if (state === 'complete') {
          t.terminal = true;
          return { job, pod, terminal: true };
        }
        const problem = (pod && podProblem(pod)) ?? (state === 'failed' ? (jobFailure(job) ?? 'failed') : undefined);
        if (problem) {
          t.terminal = true;
          const line = pod && podFinished(pod) ? await this.kube.lastLogLine(pod) : undefined;
          t.failure.abort(new KubernetesError(`Kubernetes Job ${t.name} failed: ${problem}${line ? `: ${line}` : ''}`));
          this.finish(t);
          return { job, pod, terminal: true };
        }
      } catch (err) {
        if ((err as KubernetesError).code === 404) {
          t.failure.abort(new KubernetesError(`Kubernetes Job ${t.name} was deleted before it finished`));
          t.deleted = true;
          t.terminal = true;
          return { terminal: true };
        }
        // A few failed polls in a row: the API is gone; the sweep's wait ends with this error.
        if (++errors >= 5) {
          t.failure.abort(err);
          return { job, pod, terminal: false };
        }
      }
    }
    return { job, pod, terminal: false };
  }

  /** Stops watching a Job and deletes it (unless --kube_keep_jobs). */
  private finish(t: Tracked): void {
    t.stop.abort();
    for (const [k, v] of this.tracked) if (v === t) this.tracked.delete(k);
    if (this.s.args.keepJobs || t.deleted) return;
    t.deleted = true;
    const p = this.kube
      .deleteJob(t.name)
      .catch((err) => this.s.warn(String((err as Error).message)))
      .finally(() => this.deletions.delete(p));
    this.deletions.add(p);
  }

  async jobInfo(job: CloudJob): Promise<JobInfo> {
    const t = this.tracked.get(job.outputKey);
    if (!t) return {};
    // The result is in: the container is about to end; look more often until the Job says so.
    t.fast = true;
    t.wake?.();
    const end = await within(t.end, JOBINFO_WAIT_MS);
    let info: JobInfo = { name: t.name };
    if (end?.terminal) {
      info = { ...jobTimes(end.job, end.pod), name: t.name };
    } else {
      // Not marked finished in time: the queue time is still known from what the loop saw last.
      t.stop.abort();
      const last = await t.end;
      info = { ...jobTimes(last.job, last.pod), name: t.name };
      delete info.runS;
    }
    this.finish(t);
    return info;
  }

  async close(): Promise<void> {
    for (const t of [...this.tracked.values()]) this.finish(t);
    await Promise.allSettled([...this.deletions]);
    try {
      if (!this.s.args.keepJobs) {
        // Whatever this backend created and still exists (a trigger interrupted half-way).
        const list = await this.kube.call(`list Jobs in ${this.kube.namespace}`, () =>
          this.kube.batch.listNamespacedJob({ namespace: this.kube.namespace, labelSelector: `${APP_LABEL}=${APP},${LABELS.instance}=${this.s.instance}` }),
        );
        for (const j of list.items) if (j.metadata?.name) await this.kube.deleteJob(j.metadata.name);
      }
    } catch (err) {
      this.s.warn(`could not remove the Jobs of this run: ${(err as Error).message}`);
    } finally {
      await this.kube.close();
    }
  }
}

