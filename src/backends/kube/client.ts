/**
 * The connection to a Kubernetes API server (through an SSH tunnel when asked): loading the
 * kubeconfig, one-line errors for every failed call, and the calls the backend makes. With
 * job-backend.ts and worker-backend.ts, the only code that imports @kubernetes/client-node.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, type V1Job, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { FileError, messageLine, UsageError } from '../../errors.js';
import { isLoopbackHost } from '../../net.js';
import { withTimeout } from '../timers.js';
import { BackendError } from '../worker-client.js';
import { CONTAINER, lastLogLine, secretManifest, type KubePod, type StoreCoordinates } from './spec.js';
import type { SshConnectOptions } from '../ssh-options.js';
import type { KubeArgs } from './options.js';

/** A Kubernetes API call failed, or a Job or pod did. `code` is the HTTP status when there was one. */
export class KubernetesError extends BackendError {
  readonly code?: number;
  constructor(message: string, options?: { cause?: unknown; code?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.code !== undefined) this.code = options.code;
  }
}

/** How long one API call may take. */
const CALL_TIMEOUT_MS = 30_000;

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
export class KubeClient {
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

  static async connect(loaded: ReturnType<typeof KubeClient.load>, o: KubeArgs, ssh: SshConnectOptions, env: Env): Promise<KubeClient> {
    const { kc, server } = loaded;
    const cluster = kc.getCurrentCluster()!;
    const patch: { server?: string; tlsServerName?: string; skipTLSVerify?: boolean } = {};
    // The client refuses http:// unless TLS checks are off; over plain http there is no TLS to check.
    if (server.protocol === 'http:') patch.skipTLSVerify = true;
    let tunnel: { localPort: number; close(): Promise<void> } | undefined;
    if (o.sshHost) {
      const { openSshTunnel } = await import('../ssh-connect.js');
      const host = server.hostname.replace(/^\[|\]$/g, '');
      const port = server.port ? Number(server.port) : server.protocol === 'https:' ? 443 : 80;
      tunnel = await openSshTunnel(o.sshHost, host, port, env, ssh);
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
    try {
      return await withTimeout(fn(), CALL_TIMEOUT_MS, () => new KubernetesError(`${what}: no answer from the Kubernetes API at ${this.server} within ${CALL_TIMEOUT_MS / 1000} s`));
    } catch (err) {
      throw this.error(what, err);
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

  /** Deletes a pod (gone already is fine); `graceSeconds` 0 ends its processes at once. */
  async deletePod(name: string, graceSeconds?: number): Promise<void> {
    try {
      await this.call(`delete pod ${this.namespace}/${name}`, () =>
        this.core.deleteNamespacedPod({ name, namespace: this.namespace, ...(graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {}) }),
      );
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
