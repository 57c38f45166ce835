/**
 * worker mode of the kubernetes backend: one pod idles with the store Secret in its environment;
 * the backend execs `onnx-cloud --serve --cloud_config C` in it (the API server's exec WebSocket)
 * and speaks the JSON-lines worker protocol over the exec streams, so sessions stay warm across
 * the sweep.
 *
 * Ending a worker: closing the exec stream does not end the process in the container (it only
 * loses its stdin, and a stopped one stays stopped), so a worker the backend kills (it missed a
 * deadline) is ended with its pod, deleted at once. The next worker runs in a new pod: one this
 * backend makes when the deleted pod was its own; when the deleted pod belonged to a controller
 * (the ReplicaSet of the user's worker Deployment, cloud/k8s/worker.yaml), the replacement that
 * controller makes, waited for until it is Ready, so that no pod of this backend competes with it;
 * another Ready worker pod of the user's, when there is one, at once.
 */
import { PassThrough } from 'node:stream';
import { Exec, type V1Pod, type V1Status } from '@kubernetes/client-node';
import type { CloudJob, JobInfo } from '../backend.js';
import { sleep } from '../timers.js';
import { WorkerBackend, type WorkerStreams } from '../worker-client.js';
import { KubernetesError, type KubeClient } from './client.js';
import type { KubeSettings } from './options.js';
import { APP, APP_LABEL, CONTAINER, LABELS, podFinished, podProblem, podRunning, workerCommand, workerPodManifest } from './spec.js';

/** How long the worker pod may take to start (image pull included). */
const WORKER_START_MS = 300_000;

/** A worker pod in use: made by this backend (own), or one of the user's, perhaps a controller's (a Deployment's ReplicaSet). */
interface WorkerPod {
  name: string;
  /** The pod's uid: a controller may make a replacement under the same name (a StatefulSet). */
  uid: string;
  container: string;
  own: boolean;
  /** The pod's controller (ownerReferences, controller: true), which replaces it when it is deleted. */
  controller?: { kind: string; name: string; uid: string };
}

/** The controller of a pod (its ownerReference with controller: true). */
function controllerOf(p: V1Pod): WorkerPod['controller'] {
  const o = p.metadata?.ownerReferences?.find((x) => x.controller === true);
  return o ? { kind: o.kind, name: o.name, uid: o.uid } : undefined;
}

const podReady = (p: V1Pod): boolean => podRunning(p) && !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** worker mode: `onnx-cloud --serve` exec'd in one long-running pod. */
export class KubernetesWorkerBackend extends WorkerBackend {
  readonly name = 'kubernetes';
  private pod?: WorkerPod;
  /** Worker pods this backend made (each restart after a kill makes another name). */
  private made = 0;
  /** Uids of the pods deleted because their worker was killed (never used again). */
  private readonly deleted = new Set<string>();
  /** The deletion of a killed worker's pod, which the next worker waits for. */
  private ending?: Promise<void>;
  /** The controller whose pod was deleted with its killed worker: the next worker runs in its replacement. */
  private replacing?: NonNullable<WorkerPod['controller']>;

  constructor(
    private readonly kube: KubeClient,
    private readonly s: KubeSettings,
  ) {
    super();
  }

  protected get label(): string {
    return `the cloud worker in pod ${this.kube.namespace}/${this.pod?.name ?? '(not started)'}`;
  }

  /** A Ready worker pod of this image labelled as a worker (e.g. from cloud/k8s/worker.yaml), not one deleted after a kill. */
  private async readyWorkerPod(): Promise<WorkerPod | undefined> {
    const ns = this.kube.namespace;
    const list = await this.kube.call(`list worker pods in ${ns}`, () =>
      this.kube.core.listNamespacedPod({ namespace: ns, labelSelector: `${APP_LABEL}=${APP},${LABELS.component}=worker` }),
    );
    for (const p of list.items) {
      const c = p.spec?.containers?.find((x) => x.image === this.s.args.image);
      const { name, uid } = p.metadata ?? {};
      if (c && name && uid && podReady(p) && !this.deleted.has(uid)) {
        const controller = controllerOf(p);
        return { name, uid, container: c.name, own: false, ...(controller ? { controller } : {}) };
      }
    }
    return undefined;
  }

  /**
   * The pod the next worker runs in: the current one while it runs; else a Ready worker pod of the
   * user's; else, when a killed worker's pod belonged to a controller, the replacement the
   * controller makes (waited for, never competed with by a pod of this backend); else one made now.
   */
  private async ensurePod(): Promise<WorkerPod> {
    if (this.pod && this.deleted.has(this.pod.uid)) this.pod = undefined;
    if (this.pod) {
      const p = await this.kube.readPod(this.pod.name).catch(() => undefined);
      if (p && p.metadata?.uid === this.pod.uid && podRunning(p) && !p.metadata?.deletionTimestamp) return this.pod;
      if (this.pod.own && p) await this.kube.deletePod(this.pod.name).catch(() => undefined);
      // A controller's pod that went away is replaced by the controller.
      if (this.pod.controller) this.replacing = this.pod.controller;
      this.pod = undefined;
    }
    const found = await this.readyWorkerPod();
    if (found) {
      this.replacing = undefined;
      return (this.pod = found);
    }
    if (this.replacing) return (this.pod = await this.replacement(this.replacing));
    return (this.pod = await this.makePod());
  }

  /** Waits for a Ready worker pod after `controller`'s pod was deleted (its replacement, or another worker pod). */
  private async replacement(controller: NonNullable<WorkerPod['controller']>): Promise<WorkerPod> {
    const deadline = Date.now() + WORKER_START_MS;
    for (;;) {
      await sleep(250);
      const found = await this.readyWorkerPod();
      if (found) {
        this.replacing = undefined;
        return found;
      }
      if (Date.now() > deadline) {
        throw new KubernetesError(
          `the worker pod deleted after its worker was killed belonged to ${controller.kind} ${this.kube.namespace}/${controller.name}, which made no Ready replacement within ${WORKER_START_MS / 1000} s`,
        );
      }
    }
  }

  /** A worker pod of this backend's own, once it runs. */
  private async makePod(): Promise<WorkerPod> {
    const ns = this.kube.namespace;
    // A pod deleted a moment ago may still be terminating under its name.
    const name = `onnx-worker-${this.s.instance}${this.made++ === 0 ? '' : `-${this.made}`}`;
    const body = workerPodManifest({ name, namespace: ns, image: this.s.args.image, secret: this.s.args.secret, instance: this.s.instance });
    const created = await this.kube.call(`create pod ${ns}/${name}`, () => this.kube.core.createNamespacedPod({ namespace: ns, body: body as V1Pod }));
    const pod: WorkerPod = { name, uid: created.metadata?.uid ?? name, container: CONTAINER, own: true };
    // Noted at once, so that close() deletes it even if it never runs.
    this.pod = pod;
    const deadline = Date.now() + WORKER_START_MS;
    for (;;) {
      const p = await this.kube.readPod(name);
      if (podRunning(p)) return pod;
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

  /**
   * Ends a killed worker with its pod, deleted at once; a failure is a warning. A pod of a
   * controller is replaced by it: the next worker waits for that replacement.
   */
  private endPod(pod: WorkerPod): void {
    this.deleted.add(pod.uid);
    if (pod.controller) this.replacing = pod.controller;
    const before = this.ending;
    this.ending = (async () => {
      await before;
      await this.kube.deletePod(pod.name, 0).catch((err: Error) => this.s.warn(`could not delete worker pod ${this.kube.namespace}/${pod.name}, whose worker was killed: ${err.message}`));
    })();
  }

  protected async spawnWorker(): Promise<WorkerStreams> {
    // A worker killed after a deadline is ended with its pod before its successor starts.
    await this.ending;
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
    const command = workerCommand(this.s.cloud);
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
    let killed = false;
    const kill = () => {
      ws.terminate();
      if (killed) return;
      killed = true;
      this.endPod(pod);
    };
    return { stdin, stdout, exited, kill };
  }

  override async jobInfo(job: CloudJob): Promise<JobInfo> {
    const info = await super.jobInfo(job);
    return this.pod ? { ...info, name: this.pod.name } : info;
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.ending;
      try {
        if (this.pod?.own && !this.s.args.keepJobs) await this.kube.deletePod(this.pod.name);
      } catch (err) {
        this.s.warn(`could not delete the worker pod: ${(err as Error).message}`);
      }
      await this.kube.close();
    }
  }
}

