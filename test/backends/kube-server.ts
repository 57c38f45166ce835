/**
 * A loopback Kubernetes API server for the kubernetes backend's tests (node:http on 127.0.0.1):
 * the endpoints the backend uses, with bodies shaped as core/v1 and batch/v1 define them (kind,
 * apiVersion, metadata with uid/creationTimestamp/resourceVersion, status conditions, Status
 * objects for errors), plus enough discovery for kubectl to act as a second client.
 *
 * It simulates the control plane and one node: a created Job gets a pod (Job controller), the pod
 * is scheduled (or stays Pending when a fault says so), and the "kubelet" really runs the
 * container's command as a child process, `onnx-cloud` being `node dist/cloud/onnx-cloud.js`,
 * with the environment resolved from Secrets (secretKeyRef, envFrom) and $(VAR) references in
 * args expanded as the kubelet does. Status and timestamps (to the second, as the API gives them)
 * follow the process. Pod exec works over WebSocket (v5/v4.channel.k8s.io) with a minimal RFC 6455
 * implementation.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';

type Obj = Record<string, any>;

export type PodFault = 'fail' | 'pending' | undefined;

export interface KubeServerOptions {
  /** Path of dist/cloud/onnx-cloud.js: what the image's `onnx-cloud` runs. */
  onnxCloud: string;
  /** The bearer token the server accepts (default 'test-token'). */
  token?: string;
  /** Namespaces that exist (default: default, onnx-manager). */
  namespaces?: string[];
  /** Decides, per created Job, whether its pod fails at once ('fail') or is never scheduled ('pending'). */
  fault?: (job: Obj) => PodFault;
  /** The line a failing container writes before it exits with code 1. */
  failLine?: string;
  /** Serve HTTPS with this key and certificate (PEM; the certificate is also the kubeconfig's CA). Default: plain http. */
  tls?: { key: string; cert: string };
  /** How long a ReplicaSet takes to make a pod that replaces a deleted one (default 300 ms). */
  replaceDelayMs?: number;
}

/** A self-signed certificate (openssl) for the given subject alternative names, valid for a day. */
export async function selfSignedCert(dir: string, names = 'IP:127.0.0.1,DNS:localhost'): Promise<{ key: string; cert: string }> {
  const tag = createHash('sha256').update(names).digest('hex').slice(0, 8);
  const key = join(dir, `apiserver-${tag}.key`);
  const cert = join(dir, `apiserver-${tag}.crt`);
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=kube-apiserver-loopback', '-addext', `subjectAltName=${names}`,
  ]);
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** RFC 3339 to the second, as the API server writes metav1.Time. */
function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function suffix(n = 5): string {
  const chars = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(n), (b) => chars[b % chars.length]).join('');
}

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

class HttpStatus extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
}

function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Equality-based label selectors: a=b, a==b, a!=b, a, !a. */
function matches(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const term of selector.split(',').map((t) => t.trim()).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^!=]+)!=(.*)$/.exec(term))) {
      if (l[m[1]!.trim()] === m[2]!.trim()) return false;
    } else if ((m = /^([^!=]+)==?(.*)$/.exec(term))) {
      if (l[m[1]!.trim()] !== m[2]!.trim()) return false;
    } else if (term.startsWith('!')) {
      if (term.slice(1) in l) return false;
    } else if (!(term in l)) {
      return false;
    }
  }
  return true;
}

/** $(VAR) expansion of command and args, as the kubelet does it ($$ escapes; unknown names stay). */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && name in env ? env[name]! : whole;
  });
}

interface PodRuntime {
  proc?: ChildProcess;
  env?: Record<string, string>;
  log: string;
  /** Processes exec'd in the pod: they run until they end or the pod is deleted. */
  execs?: Set<ChildProcess>;
}

export class KubeServer {
  readonly token: string;
  port = 0;
  readonly namespaces = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  readonly jobs = new Map<string, Obj>();
  readonly pods = new Map<string, Obj>();
  /** Every pod spec ever created, as created (to check no store coordinate is in one). */
  readonly podSpecs: Obj[] = [];
  /** Every request as 'METHOD path?query'. */
  readonly requests: string[] = [];
  /** The Host header of every request (how the client addressed the server). */
  readonly hosts: string[] = [];
  /** Every exec: pod, command and (for a command that ran) its process. */
  readonly execs: { pod: string; command: string[]; proc?: ChildProcess }[] = [];
  /**
   * What happened, in order: `create pod NAME`, `delete pod NAME`, `kill PID` (a process ended by
   * its pod's deletion), `exec PID in NAME`, `exit PID`. Order, not time: a test of what happens
   * before what holds at any load.
   */
  readonly events: string[] = [];
  /** ReplicaSets (as a Deployment makes them): each keeps `replicas` pods, replacing one that is deleted. */
  readonly replicaSets = new Map<string, Obj>();
  private readonly runtime = new Map<string, PodRuntime>();
  private readonly sockets = new Set<Duplex>();
  private readonly server: Server;
  private rv = 1000;

  constructor(private readonly options: KubeServerOptions) {
    this.token = options.token ?? 'test-token';
    for (const ns of options.namespaces ?? ['default', 'onnx-manager']) this.addNamespace(ns);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err) => {
        const e = err instanceof HttpStatus ? err : new HttpStatus(500, 'InternalError', String((err as Error).message));
        this.send(res, e.code, statusBody(e.code, e.reason, e.message, e.details));
      });
    };
    this.server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createServer(handler);
    this.server.on('upgrade', (req, socket) => this.upgrade(req, socket));
    this.server.on('connection', (s: Duplex) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    const exits: Promise<void>[] = [];
    for (const r of this.runtime.values()) {
      for (const proc of [r.proc, ...(r.execs ?? [])]) {
        if (proc && proc.exitCode === null && proc.signalCode === null) {
          exits.push(new Promise((resolve) => proc.once('close', () => resolve())));
          proc.kill('SIGKILL');
        }
      }
    }
    await Promise.all(exits);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  /**
   * Writes a kubeconfig (JSON is YAML) for this server; `token` overrides the user's token. (kubectl
   * does not send a bearer token over plain http, so kubectl needs the server with `tls`.)
   */
  kubeconfig(file: string, o: { token?: string; server?: string; namespace?: string } = {}): string {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'loopback',
          cluster: { server: o.server ?? this.url, ...(this.options.tls ? { 'certificate-authority-data': Buffer.from(this.options.tls.cert).toString('base64') } : {}) },
        },
      ],
      users: [{ name: 'tester', user: { token: o.token ?? this.token } }],
      contexts: [{ name: 'loopback', context: { cluster: 'loopback', user: 'tester', namespace: o.namespace ?? 'onnx-manager' } }],
      'current-context': 'loopback',
    };
    writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  }

  /** Resolves when no process of a pod is running any more. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const t0 = Date.now();
    const runs = (p?: ChildProcess) => p !== undefined && p.exitCode === null && p.signalCode === null;
    while ([...this.runtime.values()].some((r) => runs(r.proc) || [...(r.execs ?? [])].some(runs))) {
      if (Date.now() - t0 > timeoutMs) throw new Error('pod processes still running');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private nextRV(): string {
    return String(++this.rv);
  }

  private meta(name: string, namespace: string | undefined, labels?: Record<string, string>): Obj {
    return {
      name,
      ...(namespace ? { namespace } : {}),
      uid: randomUUID(),
      resourceVersion: this.nextRV(),
      creationTimestamp: now(),
      ...(labels ? { labels: { ...labels } } : {}),
    };
  }

  private addNamespace(name: string): void {
    this.namespaces.set(name, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { ...this.meta(name, undefined, { 'kubernetes.io/metadata.name': name }) },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  private send(res: ServerResponse, code: number, body: Obj | string): void {
    if (res.headersSent) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  private async body(req: IncomingMessage): Promise<Obj> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return {};
    try {
      return JSON.parse(text) as Obj;
    } catch {
      throw new HttpStatus(400, 'BadRequest', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
    }
  }

  private needNamespace(ns: string): void {
    if (!this.namespaces.has(ns)) throw new HttpStatus(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
  }

  private list(kind: string, apiVersion: string, items: Obj[]): Obj {
    return {
      kind,
      apiVersion,
      metadata: { resourceVersion: String(this.rv) },
      items: items.map((i) => {
        const { kind: _k, apiVersion: _a, ...rest } = clone(i);
        return rest;
      }),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname.replace(/\/$/, '') || '/';
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${p}${url.search}`);
    this.hosts.push(String(req.headers.host ?? ''));
    if (p === '/version' || p === '/healthz' || p === '/readyz' || p === '/livez') {
      if (p !== '/version') return this.send(res, 200, 'ok');
      return this.send(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-loopback', platform: 'linux/amd64' });
    }
    if (!this.authorized(req)) return this.send(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      throw new HttpStatus(405, 'MethodNotAllowed', 'watch is not implemented by this test server');
    }
    if (method === 'GET' && p === '/api') {
      return this.send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
    }
    if (method === 'GET' && p === '/apis') {
      const v = { groupVersion: 'batch/v1', version: 'v1' };
      return this.send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'batch', versions: [v], preferredVersion: v }] });
    }
    if (method === 'GET' && p === '/api/v1') {
      return this.send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get', 'list'], shortNames: ['po'], categories: ['all'] },
          { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
          { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
          { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['create', 'delete', 'get', 'list', 'update'] },
        ],
      });
    }
    if (method === 'GET' && p === '/apis/batch/v1') {
      return this.send(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'batch/v1',
        resources: [{ name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: ['create', 'delete', 'get', 'list'], categories: ['all'] }],
      });
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(p))) {
      if (method !== 'GET') throw new HttpStatus(405, 'MethodNotAllowed', `${method} is not supported here`);
      const ns = this.namespaces.get(m[1]!);
      if (!ns) throw new HttpStatus(404, 'NotFound', `namespaces "${m[1]}" not found`, { name: m[1], kind: 'namespaces' });
      return this.send(res, 200, ns);
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(p))) return this.secretsApi(req, res, m[1]!, m[2]);
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(?:\/(log))?)?$/.exec(p))) return this.podsApi(req, res, url, m[1]!, m[2], m[3]);
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(p))) return this.jobsApi(req, res, url, m[1]!, m[2]);
    throw new HttpStatus(404, 'NotFound', 'the server could not find the requested resource');
  }

  // --- secrets ---

  private async secretsApi(req: IncomingMessage, res: ServerResponse, ns: string, name?: string): Promise<void> {
    this.needNamespace(ns);
    const key = `${ns}/${name}`;
    const method = req.method ?? 'GET';
    if (!name && method === 'POST') {
      const b = await this.body(req);
      if (b.kind !== 'Secret' || b.apiVersion !== 'v1') throw new HttpStatus(400, 'BadRequest', `Secret in version "v1" cannot be handled as a ${b.kind ?? 'Secret'}`);
      const n = String(b.metadata?.name ?? '');
      if (!DNS_SUBDOMAIN.test(n)) throw new HttpStatus(422, 'Invalid', `Secret "${n}" is invalid: metadata.name: Invalid value: "${n}"`, { name: n, kind: 'Secret' });
      if (this.secrets.has(`${ns}/${n}`)) throw new HttpStatus(409, 'AlreadyExists', `secrets "${n}" already exists`, { name: n, kind: 'secrets' });
      const secret = this.secretFrom(b, ns, n);
      this.secrets.set(`${ns}/${n}`, secret);
      return this.send(res, 201, secret);
    }
    if (name && method === 'GET') {
      const s = this.secrets.get(key);
      if (!s) throw new HttpStatus(404, 'NotFound', `secrets "${name}" not found`, { name, kind: 'secrets' });
      return this.send(res, 200, s);
    }
    if (name && method === 'PUT') {
      const old = this.secrets.get(key);
      if (!old) throw new HttpStatus(404, 'NotFound', `secrets "${name}" not found`, { name, kind: 'secrets' });
      const b = await this.body(req);
      if (b.metadata?.name !== name) throw new HttpStatus(400, 'BadRequest', 'the name of the object does not match the name on the URL');
      const rv = b.metadata?.resourceVersion;
      if (rv && rv !== old.metadata.resourceVersion) {
        throw new HttpStatus(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      const secret = this.secretFrom(b, ns, name, old);
      this.secrets.set(key, secret);
      return this.send(res, 200, secret);
    }
    if (!name && method === 'GET') return this.send(res, 200, this.list('SecretList', 'v1', [...this.secrets.entries()].filter(([k]) => k.startsWith(`${ns}/`)).map(([, v]) => v)));
    throw new HttpStatus(405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  private secretFrom(b: Obj, ns: string, name: string, old?: Obj): Obj {
    const data: Record<string, string> = { ...(b.data ?? {}) };
    for (const [k, v] of Object.entries((b.stringData ?? {}) as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    const meta = old
      ? { ...old.metadata, labels: b.metadata?.labels, resourceVersion: this.nextRV() }
      : this.meta(name, ns, b.metadata?.labels);
    return { apiVersion: 'v1', kind: 'Secret', metadata: meta, type: b.type ?? 'Opaque', data };
  }

  // --- jobs ---

  private async jobsApi(req: IncomingMessage, res: ServerResponse, url: URL, ns: string, name?: string): Promise<void> {
    this.needNamespace(ns);
    const method = req.method ?? 'GET';
    if (!name && method === 'GET') {
      const sel = url.searchParams.get('labelSelector');
      const items = [...this.jobs.values()].filter((j) => j.metadata.namespace === ns && matches(j.metadata.labels, sel));
      return this.send(res, 200, this.list('JobList', 'batch/v1', items));
    }
    if (!name && method === 'POST') {
      const b = await this.body(req);
      if (b.kind !== 'Job' || b.apiVersion !== 'batch/v1') throw new HttpStatus(400, 'BadRequest', `Job in version "v1" cannot be handled as a ${b.kind ?? 'Job'}`);
      const n = String(b.metadata?.name ?? (b.metadata?.generateName ? `${b.metadata.generateName}${suffix()}` : ''));
      const causes: Obj[] = [];
      if (!DNS_LABEL.test(n)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${n}": must be no more than 63 characters and a lowercase RFC 1123 label`, field: 'metadata.name' });
      const podSpec = b.spec?.template?.spec;
      if (!podSpec?.containers?.length) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers' });
      if (!['Never', 'OnFailure'].includes(podSpec?.restartPolicy)) {
        causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: "${podSpec?.restartPolicy}": supported values: "OnFailure", "Never"`, field: 'spec.template.spec.restartPolicy' });
      }
      for (const [k, v] of Object.entries((b.metadata?.labels ?? {}) as Record<string, string>)) {
        if (!/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) || v.length > 63) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${v}"`, field: `metadata.labels: ${k}` });
      }
      if (causes.length) {
        throw new HttpStatus(422, 'Invalid', `Job.batch "${n}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, { name: n, group: 'batch', kind: 'Job', causes });
      }
      const key = `${ns}/${n}`;
      if (this.jobs.has(key)) throw new HttpStatus(409, 'AlreadyExists', `jobs.batch "${n}" already exists`, { name: n, group: 'batch', kind: 'jobs' });
      const metadata: Obj = { ...this.meta(n, ns, b.metadata?.labels), generation: 1 };
      const uid = metadata.uid as string;
      const selectorLabels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': n, 'controller-uid': uid, 'job-name': n };
      const spec = clone(b.spec);
      spec.parallelism ??= 1;
      spec.completions ??= 1;
      spec.backoffLimit ??= 6;
      spec.completionMode ??= 'NonIndexed';
      spec.suspend ??= false;
      spec.podReplacementPolicy ??= 'TerminatingOrFailed';
      spec.manualSelector ??= false;
      spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
      spec.template.metadata = { ...(spec.template.metadata ?? {}), labels: { ...(spec.template.metadata?.labels ?? {}), ...selectorLabels } };
      spec.template.spec.terminationGracePeriodSeconds ??= 30;
      spec.template.spec.dnsPolicy ??= 'ClusterFirst';
      spec.template.spec.schedulerName ??= 'default-scheduler';
      const job = { apiVersion: 'batch/v1', kind: 'Job', metadata, spec, status: {} };
      this.jobs.set(key, job);
      const fault = this.options.fault?.(job);
      setTimeout(() => this.jobController(key, fault), 5);
      return this.send(res, 201, job);
    }
    const key = `${ns}/${name}`;
    const job = this.jobs.get(key);
    if (!job) throw new HttpStatus(404, 'NotFound', `jobs.batch "${name}" not found`, { name, group: 'batch', kind: 'jobs' });
    if (method === 'GET') return this.send(res, 200, job);
    if (method === 'DELETE') {
      const b = await this.body(req);
      // batch/v1 Jobs orphan their pods unless the caller asks for propagation.
      const policy = url.searchParams.get('propagationPolicy') ?? b.propagationPolicy ?? (b.orphanDependents === false ? 'Background' : 'Orphan');
      this.jobs.delete(key);
      if (policy === 'Background' || policy === 'Foreground') {
        for (const [pk, pod] of this.pods) if (pod.metadata.ownerReferences?.some((o: Obj) => o.uid === job.metadata.uid)) this.removePod(pk);
      }
      return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'batch', kind: 'jobs', uid: job.metadata.uid } });
    }
    throw new HttpStatus(405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  /** The Job controller: one pod for the Job; the Job's status follows the pod's. */
  private jobController(key: string, fault: PodFault): void {
    const job = this.jobs.get(key);
    if (!job) return;
    const pod = this.controlledPod(job, job.spec.template);
    pod.metadata.finalizers = ['batch.kubernetes.io/job-tracking'];
    job.status = { active: 1, ready: 0, terminating: 0, startTime: now(), uncountedTerminatedPods: {} };
    job.metadata.resourceVersion = this.nextRV();
    this.addPod(pod, fault);
  }

  private jobFollowsPod(pod: Obj, exitCode: number): void {
    const owner = pod.metadata.ownerReferences?.find((o: Obj) => o.kind === 'Job');
    if (!owner) return;
    const job = this.jobs.get(`${pod.metadata.namespace}/${owner.name}`);
    if (!job || job.metadata.uid !== owner.uid) return;
    const t = now();
    const ok = exitCode === 0;
    job.status = {
      ...job.status,
      active: 0,
      ready: 0,
      ...(ok ? { succeeded: 1, completionTime: t } : { failed: 1 }),
      conditions: ok
        ? [
            { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: t, lastTransitionTime: t },
            { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: t, lastTransitionTime: t },
          ]
        : [
            { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t },
            { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t },
          ],
    };
    job.metadata.resourceVersion = this.nextRV();
  }

  // --- pods ---

  private async podsApi(req: IncomingMessage, res: ServerResponse, url: URL, ns: string, name?: string, sub?: string): Promise<void> {
    this.needNamespace(ns);
    const method = req.method ?? 'GET';
    if (!name && method === 'GET') {
      const sel = url.searchParams.get('labelSelector');
      const items = [...this.pods.values()].filter((x) => x.metadata.namespace === ns && matches(x.metadata.labels, sel));
      return this.send(res, 200, this.list('PodList', 'v1', items));
    }
    if (!name && method === 'POST') {
      const b = await this.body(req);
      if (b.kind !== 'Pod' || b.apiVersion !== 'v1') throw new HttpStatus(400, 'BadRequest', `Pod in version "v1" cannot be handled as a ${b.kind ?? 'Pod'}`);
      const n = String(b.metadata?.name ?? '');
      if (!DNS_SUBDOMAIN.test(n)) throw new HttpStatus(422, 'Invalid', `Pod "${n}" is invalid: metadata.name: Invalid value: "${n}"`, { name: n, kind: 'Pod' });
      if (this.pods.has(`${ns}/${n}`)) throw new HttpStatus(409, 'AlreadyExists', `pods "${n}" already exists`, { name: n, kind: 'pods' });
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: this.meta(n, ns, b.metadata?.labels), spec: clone(b.spec), status: { phase: 'Pending', qosClass: 'BestEffort' } };
      this.addPod(pod, undefined);
      return this.send(res, 201, pod);
    }
    const key = `${ns}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) throw new HttpStatus(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
    if (sub === 'log' && method === 'GET') {
      const container = url.searchParams.get('container') ?? pod.spec.containers[0].name;
      if (!pod.spec.containers.some((c: Obj) => c.name === container)) throw new HttpStatus(400, 'BadRequest', `container ${container} is not valid for pod ${name}`);
      const state = pod.status.containerStatuses?.find((c: Obj) => c.name === container)?.state;
      if (!state || (!state.running && !state.terminated)) {
        throw new HttpStatus(400, 'BadRequest', `container "${container}" in pod "${name}" is waiting to start: ${state?.waiting?.reason ?? 'ContainerCreating'}`);
      }
      let lines = (this.runtime.get(key)?.log ?? '').split('\n');
      if (lines.at(-1) === '') lines.pop();
      const tail = url.searchParams.get('tailLines');
      if (tail !== null) lines = lines.slice(-Number(tail));
      return this.send(res, 200, lines.length ? `${lines.join('\n')}\n` : '');
    }
    if (!sub && method === 'GET') return this.send(res, 200, pod);
    if (!sub && method === 'DELETE') {
      const gone = { ...clone(pod), metadata: { ...clone(pod.metadata), deletionTimestamp: now(), deletionGracePeriodSeconds: 0 } };
      this.removePod(key);
      return this.send(res, 200, gone);
    }
    throw new HttpStatus(405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  /** What the pod's container wrote (stdout and stderr), while the pod exists. */
  podLog(namespace: string, name: string): string | undefined {
    return this.runtime.get(`${namespace}/${name}`)?.log;
  }

  private addPod(pod: Obj, fault: PodFault): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.events.push(`create pod ${pod.metadata.name}`);
    this.pods.set(key, pod);
    this.podSpecs.push(clone(pod.spec));
    this.runtime.set(key, { log: '' });
    setTimeout(() => this.schedule(key, fault), 5);
  }

  /** Deleting a pod ends every process in it: its container's and those exec'd in it. */
  private removePod(key: string): void {
    const r = this.runtime.get(key);
    const pod = this.pods.get(key);
    this.events.push(`delete pod ${pod?.metadata.name}`);
    for (const proc of [r?.proc, ...(r?.execs ?? [])]) {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) continue;
      proc.kill('SIGKILL');
      this.events.push(`kill ${proc.pid}`);
    }
    this.pods.delete(key);
    const owner = pod?.metadata.ownerReferences?.find((o: Obj) => o.kind === 'ReplicaSet' && o.controller);
    if (owner) {
      const rs = `${pod!.metadata.namespace}/${owner.name}`;
      setTimeout(() => this.replicaSetController(rs), this.options.replaceDelayMs ?? 300);
    }
  }

  /**
   * Adds a ReplicaSet as a Deployment's controller makes one (`kubectl apply` of a Deployment):
   * pods `<name>-<suffix>` of `template`, owned by it (ownerReferences, controller: true), with
   * the template's labels and pod-template-hash; a pod deleted is replaced by a new one (after
   * replaceDelayMs: the controller's reaction), never revived under its name.
   */
  addReplicaSet(o: { namespace: string; name: string; replicas: number; template: { metadata: { labels: Record<string, string> }; spec: Obj } }): Obj {
    const hash = o.name.split('-').at(-1)!;
    const labels = { ...o.template.metadata.labels, 'pod-template-hash': hash };
    const rs: Obj = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: this.meta(o.name, o.namespace, labels),
      spec: { replicas: o.replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: clone(o.template.spec) } },
      status: {},
    };
    const key = `${o.namespace}/${o.name}`;
    this.replicaSets.set(key, rs);
    this.replicaSetController(key);
    return rs;
  }

  /** Deletes a ReplicaSet and (as a Deployment's deletion does, in the background) its pods. */
  removeReplicaSet(namespace: string, name: string): void {
    const rs = this.replicaSets.get(`${namespace}/${name}`);
    if (!rs) return;
    this.replicaSets.delete(`${namespace}/${name}`);
    for (const [k, pod] of this.pods) if (pod.metadata.ownerReferences?.some((x: Obj) => x.uid === rs.metadata.uid)) this.removePod(k);
  }

  /** The ReplicaSet controller: as many pods as it wants replicas, each a new name. */
  private replicaSetController(key: string): void {
    const rs = this.replicaSets.get(key);
    if (!rs) return;
    const owned = [...this.pods.values()].filter((x) => x.metadata.ownerReferences?.some((o: Obj) => o.uid === rs.metadata.uid));
    for (let i = owned.length; i < rs.spec.replicas; i++) this.addPod(this.controlledPod(rs, rs.spec.template), undefined);
  }

  /** A pod a controller (`owner`, a Job or ReplicaSet) makes from its template: `<owner>-<suffix>`, owned by it. */
  private controlledPod(owner: Obj, template: Obj): Obj {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...this.meta(`${owner.metadata.name}-${suffix()}`, owner.metadata.namespace, template.metadata.labels),
        generateName: `${owner.metadata.name}-`,
        ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...clone(template.spec), serviceAccountName: 'default' },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
  }

  private setCondition(pod: Obj, type: string, status: string, extra: Obj = {}): void {
    const conds: Obj[] = (pod.status.conditions ??= []);
    const t = now();
    const c = conds.find((x) => x.type === type);
    if (c) {
      if (c.status !== status) c.lastTransitionTime = t;
      Object.assign(c, { status, ...extra });
    } else {
      conds.push({ type, status, lastProbeTime: null, lastTransitionTime: t, ...extra });
    }
  }

  /** The scheduler, then the kubelet. */
  private schedule(key: string, fault: PodFault): void {
    const pod = this.pods.get(key);
    if (!pod) return;
    if (fault === 'pending') {
      this.setCondition(pod, 'PodScheduled', 'False', {
        reason: 'Unschedulable',
        message: '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
      });
      pod.metadata.resourceVersion = this.nextRV();
      return;
    }
    pod.spec.nodeName = 'loopback-node';
    this.setCondition(pod, 'PodScheduled', 'True');
    pod.status.hostIP = '127.0.0.1';
    pod.status.podIP = `10.244.0.${(this.rv % 250) + 2}`;
    pod.status.startTime = now();
    this.setCondition(pod, 'Initialized', 'True');
    this.kubelet(key, pod, fault);
  }

  /** Environment of a container: env (value, secretKeyRef) and envFrom (secretRef). */
  private containerEnv(ns: string, c: Obj): Record<string, string> {
    const env: Record<string, string> = {};
    const secret = (name: string, optional: boolean): Obj | undefined => {
      const s = this.secrets.get(`${ns}/${name}`);
      if (!s && !optional) throw new Error(`secret "${name}" not found`);
      return s;
    };
    for (const f of c.envFrom ?? []) {
      if (!f.secretRef) continue;
      const s = secret(f.secretRef.name, f.secretRef.optional === true);
      for (const [k, v] of Object.entries((s?.data ?? {}) as Record<string, string>)) env[`${f.prefix ?? ''}${k}`] = Buffer.from(v, 'base64').toString('utf8');
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = expandVars(String(e.value), env);
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const s = secret(ref.name, ref.optional === true);
        const v = s?.data?.[ref.key];
        if (v === undefined) {
          if (ref.optional === true) continue;
          throw new Error(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
        }
        env[e.name] = Buffer.from(v, 'base64').toString('utf8');
      }
    }
    return env;
  }

  /** The image's command: `onnx-cloud` is node running onnx-cloud.js; `sleep` idles; nothing else exists. */
  private argv(command: string[]): string[] | 'idle' | undefined {
    if (command[0] === 'onnx-cloud') return [process.execPath, this.options.onnxCloud, ...command.slice(1)];
    if (command[0] === 'sleep') return 'idle';
    return undefined;
  }

  private kubelet(key: string, pod: Obj, fault: PodFault): void {
    const c = pod.spec.containers[0];
    const rt = this.runtime.get(key)!;
    const base = { name: c.name, image: c.image, imageID: '', containerID: '', ready: false, started: false, restartCount: 0, lastState: {} };
    let env: Record<string, string>;
    try {
      env = this.containerEnv(pod.metadata.namespace, c);
    } catch (err) {
      pod.status.containerStatuses = [{ ...base, state: { waiting: { reason: 'CreateContainerConfigError', message: (err as Error).message } } }];
      this.setCondition(pod, 'Ready', 'False', { reason: 'ContainersNotReady', message: `containers with unready status: [${c.name}]` });
      pod.metadata.resourceVersion = this.nextRV();
      return;
    }
    rt.env = env;
    // The image's ENTRYPOINT is empty and its CMD `onnx-cloud --serve` (cloud/Dockerfile).
    const command = [...(c.command ?? []), ...(c.args ?? (c.command ? [] : ['onnx-cloud', '--serve']))].map((s: string) => expandVars(s, env));
    const started = now();
    const containerID = `containerd://${randomBytes(32).toString('hex')}`;
    const imageID = `docker.io/library/${c.image}@sha256:${createHash('sha256').update(String(c.image)).digest('hex')}`;
    const argv = fault === 'fail' ? [process.execPath, '-e', `process.stdout.write('loading the part\\n'); process.stderr.write(${JSON.stringify(`${this.options.failLine ?? 'onnx-cloud: simulated crash'}\n`)}); process.exit(1)`] : this.argv(command);
    if (!argv) {
      const t = now();
      pod.status.phase = 'Failed';
      pod.status.containerStatuses = [
        {
          ...base,
          containerID,
          imageID,
          state: { terminated: { exitCode: 128, reason: 'StartError', message: `failed to create containerd task: exec: "${command[0]}": executable file not found in $PATH`, startedAt: '1970-01-01T00:00:00Z', finishedAt: t, containerID } },
        },
      ];
      pod.metadata.resourceVersion = this.nextRV();
      this.jobFollowsPod(pod, 128);
      return;
    }
    pod.status.phase = 'Running';
    pod.status.containerStatuses = [{ ...base, containerID, imageID, ready: true, started: true, state: { running: { startedAt: started } } }];
    this.setCondition(pod, 'ContainersReady', 'True');
    this.setCondition(pod, 'Ready', 'True');
    pod.metadata.resourceVersion = this.nextRV();
    if (argv === 'idle') return;
    const proc = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: pod.metadata.name, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    rt.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (rt.log += d.toString('utf8')));
    proc.stderr!.on('data', (d: Buffer) => (rt.log += d.toString('utf8')));
    proc.once('close', (code, signal) => {
      const exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
      if (!this.pods.has(key)) return;
      const t = now();
      pod.status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      pod.status.containerStatuses = [
        { ...base, containerID, imageID, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: started, finishedAt: t, containerID } } },
      ];
      this.setCondition(pod, 'ContainersReady', 'False', { reason: exitCode === 0 ? 'PodCompleted' : 'PodFailed' });
      this.setCondition(pod, 'Ready', 'False', { reason: exitCode === 0 ? 'PodCompleted' : 'PodFailed' });
      pod.metadata.resourceVersion = this.nextRV();
      setTimeout(() => this.jobFollowsPod(pod, exitCode), 5);
    });
  }

  // --- exec over WebSocket ---

  private upgrade(req: IncomingMessage, socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const refuse = (code: number, reason: string, message: string) => {
      const body = JSON.stringify(statusBody(code, reason, message));
      socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}${url.search} (upgrade)`);
    if (!this.authorized(req)) return refuse(401, 'Unauthorized', 'Unauthorized');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) return refuse(404, 'NotFound', 'the server could not find the requested resource');
    const key = `${m[1]}/${m[2]}`;
    const pod = this.pods.get(key);
    if (!pod) return refuse(404, 'NotFound', `pods "${m[2]}" not found`);
    if (pod.status.phase !== 'Running') return refuse(400, 'BadRequest', `unable to upgrade connection: pod ${m[2]} is not running (${pod.status.phase})`);
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    const protocol = offered.find((p) => EXEC_PROTOCOLS.includes(p));
    const wsKey = req.headers['sec-websocket-key'];
    if (!protocol || typeof wsKey !== 'string') return refuse(400, 'BadRequest', 'unable to upgrade connection: no supported subprotocol');
    const command = url.searchParams.getAll('command');
    const record: { pod: string; command: string[]; proc?: ChildProcess } = { pod: m[2]!, command };
    this.execs.push(record);
    const accept = createHash('sha1').update(wsKey + WS_GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`);
    const ws = new WsConn(socket);
    const argv = this.argv(command);
    const finish = (status: Obj) => {
      ws.send(2, Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]));
      ws.close();
    };
    if (!argv || argv === 'idle') {
      return finish({
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: exec: "${command[0]}": executable file not found in $PATH, exit code 126`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '126' }] },
      });
    }
    const proc = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: pod.metadata.name, ...(this.runtime.get(key)?.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'] });
    record.proc = proc;
    this.events.push(`exec ${proc.pid} in ${m[2]}`);
    proc.once('close', () => this.events.push(`exit ${proc.pid}`));
    const rt = this.runtime.get(key);
    if (rt) {
      (rt.execs ??= new Set()).add(proc);
      proc.once('close', () => rt.execs!.delete(proc));
    }
    proc.stdin!.on('error', () => undefined);
    proc.stdout!.on('data', (d: Buffer) => ws.send(2, Buffer.concat([Buffer.from([1]), d])));
    proc.stderr!.on('data', (d: Buffer) => ws.send(2, Buffer.concat([Buffer.from([2]), d])));
    proc.once('close', (code, signal) => {
      const exit = code ?? (signal === 'SIGKILL' ? 137 : 143);
      finish(
        exit === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exit}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
            },
      );
    });
    ws.onMessage = (data) => {
      if (data.length === 0) return;
      const channel = data[0];
      if (channel === 0) proc.stdin!.write(data.subarray(1));
      else if (channel === 255 && data[1] === 0) proc.stdin!.end();
    };
    // As in Kubernetes, closing the exec stream only closes the process's stdin: a process that
    // does not end on that (a stopped one) goes on until it ends or its pod is deleted.
    ws.onClose = () => {
      proc.stdin!.end();
    };
  }
}

/** The server side of one WebSocket (RFC 6455): unmasked frames out, masked frames in. */
class WsConn {
  onMessage: (data: Buffer) => void = () => undefined;
  onClose: () => void = () => undefined;
  private buf = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private closed = false;

  constructor(private readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.once('close', () => this.ended());
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const need = off + (masked ? 4 : 0) + len;
      if (this.buf.length < need) return;
      const payload = Buffer.from(this.buf.subarray(off + (masked ? 4 : 0), need));
      if (masked) {
        const mask = this.buf.subarray(off, off + 4);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      }
      this.buf = this.buf.subarray(need);
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 0x8) {
        this.frame(0x8, Buffer.alloc(0));
        this.socket.end();
        this.ended();
        return;
      }
      if (opcode === 0x9) {
        this.frame(0xa, payload);
        continue;
      }
      if (opcode === 0xa) continue;
      this.parts.push(payload);
      if (fin) {
        const msg = Buffer.concat(this.parts);
        this.parts = [];
        this.onMessage(msg);
      }
    }
  }

  private frame(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    let head: Buffer;
    if (payload.length < 126) head = Buffer.from([0x80 | opcode, payload.length]);
    else if (payload.length < 65536) {
      head = Buffer.alloc(4);
      head[0] = 0x80 | opcode;
      head[1] = 126;
      head.writeUInt16BE(payload.length, 2);
    } else {
      head = Buffer.alloc(10);
      head[0] = 0x80 | opcode;
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    this.socket.write(Buffer.concat([head, payload]));
  }

  send(opcode: number, payload: Buffer): void {
    this.frame(opcode, payload);
  }

  close(): void {
    const body = Buffer.alloc(2);
    body.writeUInt16BE(1000, 0);
    this.frame(0x8, body);
    this.socket.end();
  }
}
