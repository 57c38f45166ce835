/**
 * The kubernetes backend: the cloud parts run in a Kubernetes cluster, next to a store both sides
 * reach. The only module that imports @kubernetes/client-node.
 *
 *  - job mode (default): one batch/v1 Job per payload, running
 *    `onnx-cloud --input_key K --output_key K` once (backoffLimit 0). While a Job is pending the
 *    backend polls it and its pod (every 500 ms; 100 ms once the result is in), so a Job that fails,
 *    or a pod that cannot start (image pull, missing Secret), aborts the wait at once with the
 *    container's last log line; a pod that is only unschedulable waits until the sweep's timeout.
 *    Afterwards jobInfo() reads the cluster's times and the Job is deleted (propagationPolicy
 *    Background) unless --kube_keep_jobs.
 *  - worker mode: one pod idles with the store Secret in its environment; the backend execs
 *    `onnx-cloud --serve` in it (the API server's exec WebSocket) and speaks the JSON-lines worker
 *    protocol over the exec streams, so sessions stay warm across the sweep.
 *
 * The store's endpoint, keys and bucket go into a Secret (--kube_secret) that the pods reference;
 * they never appear in a pod spec, on a command line or in a message.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, BatchV1Api, CoreV1Api, Exec, KubeConfig, type V1Job, type V1Pod, type V1Secret, type V1Status } from '@kubernetes/client-node';
import { FileError, UsageError } from '../errors.js';
import type { CloudBackend, CloudJob, JobInfo } from './backend.js';
import type { BackendContext, BackendModule } from './index.js';
import {
  APP,
  APP_LABEL,
  CONTAINER,
  endpointHost,
  jobFailure,
  jobManifest,
  jobName,
  jobState,
  jobTimes,
  LABELS,
  lastLogLine,
  podFinished,
  podProblem,
  podRunning,
  secretManifest,
  workerCommand,
  workerPodManifest,
  type CloudSettings,
  type KubeJob,
  type KubePod,
  type StoreCoordinates,
} from './kube-spec.js';
import { kubeArgs, type KubeArgs } from './kubernetes-options.js';
import { BackendError, WorkerBackend, type WorkerStreams } from './worker-client.js';
import { isLoopbackHost } from '../net.js';
import { messageLine } from '../errors.js';

/** A Kubernetes API call failed, or a Job or pod did. `code` is the HTTP status when there was one. */
export class KubernetesError extends BackendError {
  readonly code?: number;
  constructor(message: string, options?: { cause?: unknown; code?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.code !== undefined) this.code = options.code;
  }
}

/** How often a pending Job is polled, and how often once its result has arrived. */
const POLL_MS = 500;
const FAST_POLL_MS = 100;
/** How long jobInfo() waits for a Job whose result arrived to be marked finished. */
const JOBINFO_WAIT_MS = 15_000;
/** How long one API call may take. */
const CALL_TIMEOUT_MS = 30_000;
/** How long the worker pod may take to start (image pull included). */
const WORKER_START_MS = 300_000;
/** Finished Jobs left behind (a crash of onnx-manager) are removed by the cluster after this. */
const JOB_TTL_S = 600;

type Env = NodeJS.ProcessEnv;

/** The status message of an API error body (a Status object, as JSON text or parsed). */
function statusOf(body: unknown): { message?: string; reason?: string } {
  let b = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return { message: body.trim().split('\n')[0] };
    }
  }
  if (b && typeof b === 'object') {
    const s = b as { message?: unknown; reason?: unknown };
    return { message: typeof s.message === 'string' ? s.message : undefined, reason: typeof s.reason === 'string' ? s.reason : undefined };
  }
  return {};
}

/** The system error code (ECONNREFUSED, ENOTFOUND, ...) somewhere in an error's cause chain. */
function systemCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 6; e = e.cause as typeof e, i++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

/** A connection to the API server of the chosen context (through an SSH tunnel when asked). */
class KubeClient {
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;

  private constructor(
    readonly kc: KubeConfig,
    /** The API server as the kubeconfig names it (for messages). */
    readonly server: string,
    readonly contextName: string,
    readonly namespace: string,
    /** True when the API server is on this machine (so is the cluster, e.g. a loopback test server). */
    readonly local: boolean,
    private readonly tunnel?: { close(): Promise<void> },
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
  }

  static load(o: KubeArgs, env: Env): { kc: KubeConfig; source: string; server: URL; local: boolean } {
    const kc = new KubeConfig();
    const listed = (env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
    let source: string;
    const read = (file: string, into: KubeConfig) => {
      try {
        into.loadFromFile(file);
      } catch (err) {
        throw new FileError(`${file}: cannot read the kubeconfig (${String((err as Error).message).split('\n')[0]})`, { cause: err, file });
      }
    };
    if (listed.length > 0) {
      const files = listed.filter((f) => existsSync(f));
      if (files.length === 0) throw new UsageError(`KUBECONFIG names no existing file (${listed.join(path.delimiter)})`);
      read(files[0]!, kc);
      for (const f of files.slice(1)) {
        const more = new KubeConfig();
        read(f, more);
        kc.mergeConfig(more);
      }
      source = files.join(path.delimiter);
    } else {
      const file = path.join(env.HOME || homedir(), '.kube', 'config');
      if (existsSync(file)) {
        read(file, kc);
        source = file;
      } else if (env.KUBERNETES_SERVICE_HOST) {
        kc.loadFromDefault(); // in a pod: the service account
        source = 'the in-cluster service account';
      } else {
        throw new UsageError('no kubeconfig for --cloud kubernetes: set KUBECONFIG or create ~/.kube/config');
      }
    }
    if (o.context !== undefined) {
      if (!kc.getContextObject(o.context)) {
        throw new UsageError(`--kube_context '${o.context}' is not in ${source} (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
      }
      kc.setCurrentContext(o.context);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new UsageError(`${source} has no current context with a cluster; give --kube_context`);
    let server: URL;
    try {
      server = new URL(cluster.server);
    } catch {
      throw new UsageError(`the cluster '${cluster.name}' in ${source} has no valid server URL ('${cluster.server}')`);
    }
    if (server.protocol !== 'https:' && server.protocol !== 'http:') throw new UsageError(`the API server ${cluster.server} is not http(s)`);
    return { kc, source, server, local: !o.sshHost && isLoopbackHost(server.hostname) };
  }

  static async connect(loaded: ReturnType<typeof KubeClient.load>, o: KubeArgs, args: Record<string, unknown>, env: Env): Promise<KubeClient> {
    const { kc, server } = loaded;
    const cluster = kc.getCurrentCluster()!;
    const patch: { server?: string; tlsServerName?: string; skipTLSVerify?: boolean } = {};
    // The client refuses http:// unless TLS checks are off; over plain http there is no TLS to check.
    if (server.protocol === 'http:') patch.skipTLSVerify = true;
    let tunnel: { localPort: number; close(): Promise<void> } | undefined;
    if (o.sshHost) {
      const { openSshTunnel } = await import('./ssh-connect.js');
      const { sshConnectOptions } = await import('./ssh-options.js');
      const host = server.hostname.replace(/^\[|\]$/g, '');
      const port = server.port ? Number(server.port) : server.protocol === 'https:' ? 443 : 80;
      tunnel = await openSshTunnel(o.sshHost, host, port, env, sshConnectOptions(args));
      patch.server = `${server.protocol}//127.0.0.1:${tunnel.localPort}${server.pathname.replace(/\/$/, '')}`;
      // The certificate names the real host, not the tunnel's end.
      if (server.protocol === 'https:') patch.tlsServerName = cluster.tlsServerName ?? host;
    }
    if (Object.keys(patch).length > 0) {
      kc.loadFromOptions({
        clusters: kc.clusters.map((c) => (c.name === cluster.name ? { ...c, ...patch } : c)),
        users: kc.users,
        contexts: kc.contexts,
        currentContext: kc.currentContext,
      });
    }
    const label = `${server.protocol}//${server.host}${o.sshHost ? ` (through ${o.sshHost})` : ''}`;
    return new KubeClient(kc, label, kc.getCurrentContext(), o.namespace, loaded.local, tunnel);
  }

  /** One API call, its failure turned into one line naming what was done and where. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new KubernetesError(`${what}: no answer from the Kubernetes API at ${this.server} within ${CALL_TIMEOUT_MS / 1000} s`)),
        CALL_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      throw this.error(what, err);
    } finally {
      clearTimeout(timer);
    }
  }

  error(what: string, err: unknown): Error {
    if (err instanceof KubernetesError || err instanceof UsageError) return err;
    if (err instanceof ApiException) {
      const code = err.code;
      const s = statusOf(err.body);
      if (code === 401) {
        return new KubernetesError(
          `the Kubernetes API at ${this.server} rejected the credentials of context '${this.contextName}' (401 Unauthorized); check the user's token, client certificate or exec plugin in the kubeconfig`,
          { cause: err, code },
        );
      }
      if (code === 403) {
        return new KubernetesError(`${what}: forbidden (403): ${s.message ?? 'Forbidden'}; the user needs the RBAC permissions in docs/kubernetes.md`, { cause: err, code });
      }
      return new KubernetesError(`${what}: ${s.message ?? 'error'} (${code}${s.reason ? ` ${s.reason}` : ''})`, { cause: err, code });
    }
    const sys = systemCode(err);
    if (sys && /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_SSL_)/.test(sys)) {
      return new KubernetesError(
        `the TLS certificate of the Kubernetes API at ${this.server} does not verify (${sys}); check certificate-authority(-data) and tls-server-name of the cluster in the kubeconfig`,
        { cause: err },
      );
    }
    if (sys) return new KubernetesError(`cannot reach the Kubernetes API at ${this.server} (${sys})`, { cause: err });
    return new KubernetesError(`${what}: ${messageLine(err)}`, { cause: err });
  }

  async checkNamespace(): Promise<void> {
    try {
      await this.call(`read namespace ${this.namespace}`, () => this.core.readNamespace({ name: this.namespace }));
    } catch (err) {
      const code = (err as KubernetesError).code;
      if (code === 404) {
        throw new UsageError(
          `namespace '${this.namespace}' does not exist in the cluster at ${this.server}; create it (kubectl create namespace ${this.namespace}) or choose --kube_namespace`,
        );
      }
      if (code === 403) return; // a namespaced user may not read namespaces; the calls below tell
      throw err;
    }
  }

  /** Creates the store Secret, or replaces its data when it exists. */
  async writeSecret(name: string, store: StoreCoordinates): Promise<void> {
    const body = secretManifest(name, this.namespace, store) as V1Secret;
    let existing: V1Secret | undefined;
    try {
      existing = await this.call(`read Secret ${this.namespace}/${name}`, () => this.core.readNamespacedSecret({ name, namespace: this.namespace }));
    } catch (err) {
      if ((err as KubernetesError).code !== 404) throw err;
    }
    if (existing) {
      body.metadata = { ...body.metadata, labels: { ...existing.metadata?.labels, ...body.metadata?.labels } };
      if (existing.metadata?.resourceVersion) body.metadata.resourceVersion = existing.metadata.resourceVersion;
      await this.call(`replace Secret ${this.namespace}/${name}`, () => this.core.replaceNamespacedSecret({ name, namespace: this.namespace, body }));
    } else {
      await this.call(`create Secret ${this.namespace}/${name}`, () => this.core.createNamespacedSecret({ namespace: this.namespace, body }));
    }
  }

  async readJob(name: string): Promise<V1Job> {
    return this.call(`read Job ${this.namespace}/${name}`, () => this.batch.readNamespacedJob({ name, namespace: this.namespace }));
  }

  /** The Job's newest pod. */
  async podOfJob(name: string): Promise<V1Pod | undefined> {
    const list = await this.call(`list pods of Job ${this.namespace}/${name}`, () =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${name}` }),
    );
    return [...list.items].sort((a, b) => (timeOf(b) ?? 0) - (timeOf(a) ?? 0))[0];
  }

  async readPod(name: string): Promise<V1Pod> {
    return this.call(`read pod ${this.namespace}/${name}`, () => this.core.readNamespacedPod({ name, namespace: this.namespace }));
  }

  /** The last line the pod's cloud container wrote, if it can be read. */
  async lastLogLine(pod: KubePod): Promise<string | undefined> {
    const name = pod.metadata?.name;
    if (!name) return undefined;
    const container = pod.spec?.containers?.find((c) => c.name === CONTAINER)?.name ?? pod.spec?.containers?.[0]?.name;
    try {
      const log = await this.call(`read the log of pod ${this.namespace}/${name}`, () =>
        this.core.readNamespacedPodLog({ name, namespace: this.namespace, tailLines: 20, ...(container ? { container } : {}) }),
      );
      return lastLogLine(typeof log === 'string' ? log : String(log));
    } catch {
      return undefined;
    }
  }

  async deleteJob(name: string): Promise<void> {
    try {
      await this.call(`delete Job ${this.namespace}/${name}`, () =>
        this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' }),
      );
    } catch (err) {
      if ((err as KubernetesError).code !== 404) throw err;
    }
  }

  async deletePod(name: string): Promise<void> {
    try {
      await this.call(`delete pod ${this.namespace}/${name}`, () => this.core.deleteNamespacedPod({ name, namespace: this.namespace }));
    } catch (err) {
      if ((err as KubernetesError).code !== 404) throw err;
    }
  }

  async close(): Promise<void> {
    await this.tunnel?.close();
  }
}

function timeOf(pod: KubePod): number | undefined {
  const t = pod.metadata?.creationTimestamp;
  return t === undefined ? undefined : new Date(t).getTime();
}

function warn(line: string): void {
  process.stderr.write(`onnx-manager: warning: ${line}\n`);
}

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

interface BackendSettings extends CloudSettings {
  args: KubeArgs;
  instance: string;
}

/** job mode: a batch/v1 Job per payload. */
export class KubernetesJobBackend implements CloudBackend {
  readonly name = 'kubernetes';
  private failure = new AbortController();
  private readonly tracked = new Map<string, Tracked>();
  private readonly deletions = new Set<Promise<void>>();

  constructor(
    private readonly kube: KubeClient,
    private readonly s: BackendSettings,
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
        warn(`Kubernetes Job ${t.name} was given up while its pod was ${pod?.status?.phase ?? 'not created'} (${why.trim()})`);
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
      ...(this.s.graphOptimizationLevel ? { graphOptimizationLevel: this.s.graphOptimizationLevel } : {}),
      ...(this.s.threads ? { threads: this.s.threads } : {}),
    });
    await this.kube.call(`create Job ${this.kube.namespace}/${name}`, () =>
      this.kube.batch.createNamespacedJob({ namespace: this.kube.namespace, body: manifest as V1Job }),
    );
    const t: Tracked = { name, failure, stop: new AbortController(), fast: false, deleted: false, terminal: false, end: Promise.resolve({ terminal: false }) };
    t.end = this.watch(t);
    this.tracked.set(job.outputKey, t);
  }

  private async pause(t: Tracked): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        t.stop.signal.removeEventListener('abort', done);
        t.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, t.fast ? FAST_POLL_MS : POLL_MS);
      t.wake = done;
      t.stop.signal.addEventListener('abort', done, { once: true });
    });
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
      .catch((err) => warn(String((err as Error).message)))
      .finally(() => this.deletions.delete(p));
    this.deletions.add(p);
  }

  async jobInfo(job: CloudJob): Promise<JobInfo> {
    const t = this.tracked.get(job.outputKey);
    if (!t) return {};
    // The result is in: the container is about to end; look more often until the Job says so.
    t.fast = true;
    t.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const end = await Promise.race([t.end, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), JOBINFO_WAIT_MS)))]);
    clearTimeout(timer);
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
      warn(`could not remove the Jobs of this run: ${(err as Error).message}`);
    } finally {
      await this.kube.close();
    }
  }
}

/** worker mode: `onnx-cloud --serve` exec'd in one long-running pod. */
export class KubernetesWorkerBackend extends WorkerBackend {
  readonly name = 'kubernetes';
  private pod?: { name: string; container: string; own: boolean };

  constructor(
    private readonly kube: KubeClient,
    private readonly s: BackendSettings & { bucket: string },
  ) {
    super();
  }

  protected get label(): string {
    return `the cloud worker in pod ${this.kube.namespace}/${this.pod?.name ?? '(not started)'}`;
  }

  /** A running worker pod: a Running pod of this image labelled as a worker (e.g. from cloud/k8s/worker.yaml), else one made now. */
  private async ensurePod(): Promise<{ name: string; container: string; own: boolean }> {
    if (this.pod) {
      const p = await this.kube.readPod(this.pod.name).catch(() => undefined);
      if (p && podRunning(p) && !p.metadata?.deletionTimestamp) return this.pod;
      if (this.pod.own && p) await this.kube.deletePod(this.pod.name).catch(() => undefined);
      this.pod = undefined;
    }
    const ns = this.kube.namespace;
    const list = await this.kube.call(`list worker pods in ${ns}`, () =>
      this.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `${APP_LABEL}=${APP},${LABELS.component}=worker` }),
    );
    for (const p of list.items) {
      const c = p.spec?.containers?.find((x) => x.image === this.s.args.image);
      if (c && podRunning(p) && !p.metadata?.deletionTimestamp && p.metadata?.name) {
        this.pod = { name: p.metadata.name, container: c.name, own: false };
        return this.pod;
      }
    }
    const name = `onnx-worker-${this.s.instance}`;
    const body = workerPodManifest({ name, namespace: ns, image: this.s.args.image, secret: this.s.args.secret, instance: this.s.instance });
    await this.kube.call(`create pod ${ns}/${name}`, () => this.kube.core.createNamespacedPod({ namespace: ns, body: body as V1Pod }));
    this.pod = { name, container: CONTAINER, own: true };
    const deadline = Date.now() + WORKER_START_MS;
    for (;;) {
      const p = await this.kube.readPod(name);
      if (podRunning(p)) return this.pod;
      const problem = podProblem(p) ?? (p.status?.phase === 'Succeeded' ? 'the pod ended' : undefined);
      if (problem) {
        const line = podFinished(p) ? await this.kube.lastLogLine(p) : undefined;
        throw new KubernetesError(`worker pod ${ns}/${name} cannot run: ${problem}${line ? `: ${line}` : ''}`);
      }
      if (Date.now() > deadline) {
        const why = p.status?.conditions?.find((c) => c.status === 'False' && c.message)?.message;
        throw new KubernetesError(`worker pod ${ns}/${name} did not start within ${WORKER_START_MS / 1000} s (${p.status?.phase ?? 'unknown'}${why ? `: ${why}` : ''})`);
      }
      await sleep(250);
    }
  }

  protected async spawnWorker(): Promise<WorkerStreams> {
    const pod = await this.ensurePod();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const tail: string[] = [];
    stderr.on('data', (d: Buffer) => {
      for (const l of d.toString('utf8').split('\n')) if (l.trim()) tail.push(l.trim());
      tail.splice(0, Math.max(0, tail.length - 5));
    });
    let status: V1Status | undefined;
    const command = workerCommand(this.s.bucket, this.s);
    let ws: Awaited<ReturnType<Exec['exec']>>;
    try {
      ws = await new Exec(this.kube.kc).exec(this.kube.namespace, pod.name, pod.container, command, stdout, stderr, stdin, false, (st) => {
        status = st;
      });
    } catch (err) {
      const e = err as { message?: string; error?: Error };
      const msg = String(e?.error?.message ?? e?.message ?? err).split('\n')[0];
      throw new KubernetesError(`cannot exec onnx-cloud in pod ${this.kube.namespace}/${pod.name} through ${this.kube.server}: ${msg}`, { cause: err });
    }
    const exited = new Promise<string>((resolve) => {
      const describe = () => {
        const exit = status?.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
        const how = status ? (status.status === 'Success' ? 'code 0' : exit !== undefined ? `code ${exit}` : (status.message ?? 'failed')) : 'exec stream closed';
        return `${how}${tail.length ? `: ${tail.at(-1)}` : ''}`;
      };
      ws.on('close', () => resolve(describe()));
      ws.on('error', (e: Error) => resolve(`exec stream error: ${e.message}`));
    });
    return { stdin, stdout, exited, kill: () => ws.terminate() };
  }

  override async jobInfo(job: CloudJob): Promise<JobInfo> {
    const info = await super.jobInfo(job);
    return this.pod ? { ...info, name: this.pod.name } : info;
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      try {
        if (this.pod?.own && !this.s.args.keepJobs) await this.kube.deletePod(this.pod.name);
      } catch (err) {
        warn(`could not delete the worker pod: ${(err as Error).message}`);
      }
      await this.kube.close();
    }
  }
}

export const kubernetesModule: BackendModule = {
  create: async (args, ctx: BackendContext) => {
    const o = kubeArgs(args);
    const loaded = KubeClient.load(o, ctx.env);
    const access = ctx.storeAccess;
    const podEndpoint = o.storeEndpoint ?? access.endpoint;
    const where = `${loaded.server.protocol}//${loaded.server.host}${o.sshHost ? ` (through ${o.sshHost})` : ''}`;
    if (!loaded.local && !o.storeEndpoint) {
      if (ctx.embeddedStore) {
        throw new UsageError(
          `the embedded store (${access.endpoint}) lives in this process on 127.0.0.1, which the pods of the cluster at ${where} cannot reach; ` +
            'give --minio_endpoint (a MinIO the cluster reaches; keys in MINIO_ACCESS_KEY and MINIO_SECRET_KEY), and --kube_store_endpoint if the pods see it under another address',
        );
      }
      if (isLoopbackHost(endpointHost(podEndpoint))) {
        throw new UsageError(
          `the store endpoint ${podEndpoint} is a loopback address, which the pods of the cluster at ${where} cannot reach; give --kube_store_endpoint with the address the pods use (e.g. http://minio.minio:9000)`,
        );
      }
    }
    if (!podEndpoint) throw new UsageError('--cloud kubernetes needs a store endpoint the pods can reach (--minio_endpoint or --kube_store_endpoint)');
    const kube = await KubeClient.connect(loaded, o, args, ctx.env);
    try {
      await kube.checkNamespace();
      const store: StoreCoordinates = { endpoint: podEndpoint, accessKey: access.accessKey, secretKey: access.secretKey, bucket: access.bucket };
      if (access.region) store.region = access.region;
      await kube.writeSecret(o.secret, store);
      const s: BackendSettings = { args: o, instance: randomBytes(4).toString('hex'), graphOptimizationLevel: ctx.graphOptimizationLevel };
      if (ctx.threads) s.threads = ctx.threads;
      return o.mode === 'worker' ? new KubernetesWorkerBackend(kube, { ...s, bucket: access.bucket }) : new KubernetesJobBackend(kube, s);
    } catch (err) {
      await kube.close();
      throw err;
    }
  },
};
