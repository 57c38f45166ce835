/**
 * What the kubernetes backend sends to and reads from the API server, as plain objects (no SDK
 * here: the client lives in client.ts). Manifests of the store Secret, the per-payload Job and
 * the worker pod; reading times and failure reasons back from Job and Pod status.
 *
 * The store's endpoint and keys reach the containers only through the Secret (env
 * valueFrom.secretKeyRef), so no pod spec carries them; the run's cloud configuration (provider,
 * threads, graph optimisation, bucket: no secret) is onnx-cloud's --cloud_config.
 */
import { cloudConfigArgs, type CloudConfig } from '../../config/cloud-config.js';
import type { JobInfo } from '../backend.js';

export const APP_LABEL = 'app';
export const APP = 'onnx-manager';
/** Labels the backend puts on what it creates (besides app=onnx-manager). */
export const LABELS = {
  instance: 'onnx-manager/instance',
  run: 'onnx-manager/run',
  split: 'onnx-manager/split',
  rep: 'onnx-manager/rep',
  component: 'onnx-manager/component',
} as const;
/** The container name in Job and worker pods. */
export const CONTAINER = 'onnx-cloud';

/** Keys of the store Secret, each becoming the environment variable of the same name. */
export const SECRET_KEYS = ['MINIO_ENDPOINT', 'MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY'] as const;

export interface StoreCoordinates {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

/** The subset of Kubernetes object shapes read here (the SDK's classes fit them). */
type Time = Date | string | undefined;
export interface KubeMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  creationTimestamp?: Time;
  labels?: Record<string, string>;
  resourceVersion?: string;
}
export interface KubeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: Time;
}
export interface KubeJob {
  metadata?: KubeMeta;
  status?: { active?: number; succeeded?: number; failed?: number; startTime?: Time; completionTime?: Time; conditions?: KubeCondition[] };
}
export interface KubeContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: Time };
  terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: Time; finishedAt?: Time };
}
export interface KubePod {
  metadata?: KubeMeta;
  spec?: { containers?: { name: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    startTime?: Time;
    conditions?: KubeCondition[];
    containerStatuses?: { name: string; state?: KubeContainerState }[];
  };
}


/** A valid label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function labelValue(s: string): string {
  const v = s.replace(/[^A-Za-z0-9._-]/g, '-').slice(-63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v || 'x';
}

/** A DNS-1123 label (lower case, digits, '-'), at most `max` characters, keeping the end of `s`. */
export function dnsLabel(s: string, max = 63): string {
  const v = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-');
  const tail = v.slice(-max).replace(/^-+|-+$/g, '');
  return tail || 'x';
}

/** Run, split and rep from input/<run>/<split>/<rep>.pb (or any key ending in three segments). */
export function idsFromKey(key: string): { run: string; split: string; rep: string } {
  const parts = key.replace(/\.pb$/, '').split('/');
  const [run = 'run', split = '0', rep = '0'] = parts.slice(-3);
  return { run, split, rep };
}

/**
 * The Job's name: onnx-<run>-s<split>-r<rep> as a DNS label of at most 52 characters (the Job
 * controller appends a 5-character suffix for the pod, and names stay readable in kubectl).
 */
export function jobName(inputKey: string): string {
  const { run, split, rep } = idsFromKey(inputKey);
  const tail = `-s${dnsLabel(split, 8)}-r${dnsLabel(rep, 8)}`;
  return `onnx-${dnsLabel(run, 52 - 5 - tail.length)}${tail}`.replace(/-+/g, '-');
}

export function secretManifest(name: string, namespace: string, store: StoreCoordinates): Record<string, unknown> {
  const values: Record<(typeof SECRET_KEYS)[number], string | undefined> = {
    MINIO_ENDPOINT: store.endpoint,
    MINIO_ACCESS_KEY: store.accessKey,
    MINIO_SECRET_KEY: store.secretKey,
  };
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== '') data[k] = Buffer.from(v, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { [APP_LABEL]: APP } },
    type: 'Opaque',
    data,
  };
}

/** Environment entries of the cloud container: every store coordinate by reference to the Secret. */
export function secretEnv(secret: string): Record<string, unknown>[] {
  return SECRET_KEYS.map((key) => ({
    name: key,
    valueFrom: { secretKeyRef: { name: secret, key } },
  }));
}

export interface JobSpecOptions {
  /** The run's cloud configuration, onnx-cloud's --cloud_config. */
  cloud: CloudConfig;
  name: string;
  namespace: string;
  image: string;
  secret: string;
  instance: string;
  inputKey: string;
  outputKey: string;
  /** Seconds a finished Job stays before the cluster removes it (omitted: it stays). */
  ttlSecondsAfterFinished?: number;
  imagePullPolicy?: string;
}

/** A batch/v1 Job running `onnx-cloud --input_key K --output_key K` once (no retries). */
export function jobManifest(o: JobSpecOptions): Record<string, unknown> {
  const { run, split, rep } = idsFromKey(o.inputKey);
  const labels = {
    [APP_LABEL]: APP,
    [LABELS.instance]: labelValue(o.instance),
    [LABELS.run]: labelValue(run),
    [LABELS.split]: labelValue(split),
    [LABELS.rep]: labelValue(rep),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, namespace: o.namespace, labels },
    spec: {
      backoffLimit: 0,
      ...(o.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: o.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          containers: [
            {
              name: CONTAINER,
              image: o.image,
              imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
              command: ['onnx-cloud'],
              args: ['--input_key', o.inputKey, '--output_key', o.outputKey, ...cloudConfigArgs(o.cloud)],
              env: secretEnv(o.secret),
            },
          ],
        },
      },
    },
  };
}

export interface WorkerPodOptions {
  name: string;
  namespace: string;
  image: string;
  secret: string;
  instance: string;
  imagePullPolicy?: string;
}

/**
 * The worker pod: a container that idles (`sleep infinity`) with the store's Secret in its
 * environment; the backend execs `onnx-cloud --serve` in it and talks JSON lines over the exec
 * stream, so sessions stay warm for the whole sweep.
 */
export function workerPodManifest(o: WorkerPodOptions): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { [APP_LABEL]: APP, [LABELS.component]: 'worker', [LABELS.instance]: labelValue(o.instance) },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: CONTAINER,
          image: o.image,
          imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
          command: ['sleep', 'infinity'],
          env: secretEnv(o.secret),
        },
      ],
    },
  };
}

/** The command exec'd in the worker pod. */
export function workerCommand(cloud: CloudConfig): string[] {
  return ['onnx-cloud', '--serve', ...cloudConfigArgs(cloud)];
}

/** Milliseconds since the epoch of an API timestamp (Date from the SDK, or RFC 3339 text). */
export function timeMs(t: Time): number | undefined {
  if (t === undefined || t === null) return undefined;
  const v = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isFinite(v) ? v : undefined;
}

function condition(conds: KubeCondition[] | undefined, type: string): KubeCondition | undefined {
  return conds?.find((c) => c.type === type && c.status === 'True');
}

export type JobState = 'pending' | 'complete' | 'failed';

export function jobState(job: KubeJob): JobState {
  const c = job.status?.conditions;
  if (condition(c, 'Complete') || condition(c, 'SuccessCriteriaMet')) return 'complete';
  if (condition(c, 'Failed') || condition(c, 'FailureTarget')) return 'failed';
  if ((job.status?.succeeded ?? 0) > 0) return 'complete';
  if ((job.status?.failed ?? 0) > 0) return 'failed';
  return 'pending';
}

/** The Job's failure condition as 'Reason: message', when it has one. */
export function jobFailure(job: KubeJob): string | undefined {
  const c = condition(job.status?.conditions, 'Failed') ?? condition(job.status?.conditions, 'FailureTarget');
  if (!c) return undefined;
  return [c.reason, c.message].filter(Boolean).join(': ') || 'Failed';
}

function cloudContainer(pod: KubePod): KubeContainerState | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  return (statuses.find((s) => s.name === CONTAINER) ?? statuses[0])?.state;
}

/** Waiting reasons that do not resolve by themselves: the pod will never run. */
const FATAL_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** Why a pod cannot run or has stopped, or undefined while it may still run (or ran fine). */
export function podProblem(pod: KubePod): string | undefined {
  const state = cloudContainer(pod);
  const w = state?.waiting;
  if (w?.reason && FATAL_WAITING.has(w.reason)) return `${w.reason}${w.message ? `: ${w.message}` : ''}`;
  const t = state?.terminated;
  if (t && t.exitCode !== 0) return `container exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`;
  if (pod.status?.phase === 'Failed') return [pod.status.reason ?? 'pod failed', pod.status.message].filter(Boolean).join(': ');
  return undefined;
}

/** True when the cloud container has ended (either way). */
export function podFinished(pod: KubePod): boolean {
  return cloudContainer(pod)?.terminated !== undefined || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** True when the pod runs (the worker can be exec'd). */
export function podRunning(pod: KubePod): boolean {
  return pod.status?.phase === 'Running' && cloudContainer(pod)?.running !== undefined;
}

/**
 * What the cluster's clock says about a job: queueS from the Job's creation (the API server
 * accepting it) to the container's start, runS from the container's start to its end. The API
 * gives these times to the second, so both are whole seconds.
 */
export function jobTimes(job: KubeJob | undefined, pod: KubePod | undefined): JobInfo {
  const info: JobInfo = {};
  const name = job?.metadata?.name;
  if (name) info.name = name;
  const created = timeMs(job?.metadata?.creationTimestamp) ?? timeMs(pod?.metadata?.creationTimestamp);
  const t = pod ? cloudContainer(pod)?.terminated : undefined;
  const started = timeMs(t?.startedAt) ?? timeMs(pod ? cloudContainer(pod)?.running?.startedAt : undefined);
  const finished = timeMs(t?.finishedAt);
  if (created !== undefined && started !== undefined) info.queueS = Math.max(0, (started - created) / 1000);
  if (started !== undefined && finished !== undefined) info.runS = Math.max(0, (finished - started) / 1000);
  return info;
}

/** The last non-empty line of a log, shortened for a one-line error. */
export function lastLogLine(log: string | undefined): string | undefined {
  const line = String(log ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  if (!line) return undefined;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
