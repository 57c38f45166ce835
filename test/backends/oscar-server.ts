/**
 * A loopback OSCAR for tests: node:http on 127.0.0.1 serving the endpoints onnx-manager's client
 * uses, every request checked against the Swagger spec (test/backends/oscar-spec.ts) and every
 * response built to it (and checked too). The cluster is simulated over the embedded S3 store:
 *
 * - An object landing under a service's input path (the MinIO webhook) or a POST /job/<svc> with a
 *   MinIO event creates a job <svc>-<uuid>: Pending -> Running -> Succeeded/Failed, with creation,
 *   start and finish times of 1 s resolution.
 * - The job does what faas-supervisor does: downloads the object to a temporary input folder, runs
 *   the service's script as `/bin/sh script.sh` with INPUT_FILE_PATH, TMP_INPUT_DIR, TMP_OUTPUT_DIR,
 *   STORAGE_OBJECT_KEY, EVENT, JOB_UUID and the service's variables and secrets in its environment
 *   (the image: ONNX_MANAGER_HOME = this project, node on PATH), ignores its exit status, then
 *   uploads every file of TMP_OUTPUT_DIR to the output path under the same name. The log holds the
 *   supervisor's INFO lines (and the script's output when log_level is DEBUG).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmbeddedStore } from '../../src/storage/embedded.js';
import { OscarSpec, type MatchedOperation } from './oscar-spec.js';

export const PROJECT_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const SCRIPT_FILE = join(PROJECT_DIR, 'cloud/oscar/script.sh');

type Json = Record<string, unknown>;

export interface SimService {
  name: string;
  image: string;
  script: string;
  token: string;
  log_level?: string;
  environment?: { variables?: Record<string, string>; secrets?: Record<string, string> };
  input?: { storage_provider?: string; path?: string }[];
  output?: { storage_provider?: string; path?: string }[];
  [key: string]: unknown;
}

export interface SimJob {
  name: string;
  service: string;
  /** bucket/key of the object that started it. */
  object: string;
  status: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  created: number;
  started?: number;
  finished?: number;
  log: { t: number; line: string }[];
}

export interface Faults {
  /** Uploads under an input path that start no job (the webhook is lost). */
  ignoreUpload?: (key: string) => boolean;
  /** Jobs whose pod fails before the script runs (status Failed). */
  podFails?: (key: string) => boolean;
  /** Extra environment for the script of a job (e.g. to make it fail). */
  scriptEnv?: (key: string) => Record<string, string> | undefined;
  /** Milliseconds a job stays Pending (default 0). */
  queueDelayMs?: (key: string) => number;
}

export interface OscarServerOptions {
  username: string;
  password: string;
  /** Accepted as an OIDC bearer token on /system/* and /job. */
  oidcToken?: string;
  store: EmbeddedStore;
  /** Jobs per page of GET /system/logs/<svc> (OSCAR: 70). */
  pageSize?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  template?: string;
  auth: 'basic' | 'bearer' | 'none' | 'other';
  status: number;
}

const second = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export class OscarTestServer {
  readonly spec = new OscarSpec();
  /** Requests that break the spec (should stay empty). */
  readonly violations: string[] = [];
  /** Responses of this server that break the spec (should stay empty). */
  readonly responseViolations: string[] = [];
  readonly requests: RequestRecord[] = [];
  readonly services = new Map<string, SimService>();
  readonly jobs = new Map<string, SimJob>();
  faults: Faults = {};
  url = '';
  private server!: Server;
  private poll?: NodeJS.Timeout;
  private polling = false;
  private readonly seen = new Map<string, Set<string>>();
  private readonly children = new Set<ChildProcess>();
  private readonly running = new Set<Promise<void>>();
  private readonly dirs = new Set<string>();

  private constructor(readonly o: OscarServerOptions) {}

  static async start(o: OscarServerOptions): Promise<OscarTestServer> {
    const s = new OscarTestServer(o);
    s.server = createServer((req, res) => void s.handle(req, res));
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    s.poll = setInterval(() => void s.watchUploads(), 25);
    return s;
  }

  /** Adds a service as if created earlier (script: cloud/oscar/script.sh). */
  async addService(svc: { name: string } & Partial<SimService>): Promise<SimService> {
    const full: SimService = { image: 'onnx-manager-cloud:test', script: await readFile(SCRIPT_FILE, 'utf8'), token: randomBytes(32).toString('hex'), ...svc };
    this.services.set(full.name, full);
    this.seen.set(full.name, new Set(await this.listInput(full)));
    return full;
  }

  /** Resolves when no job is pending or running. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }

  async stop(): Promise<void> {
    clearInterval(this.poll);
    for (const c of this.children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
    await Promise.allSettled([...this.running]);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- the MinIO side

  private static minioPath(io: { storage_provider?: string; path?: string }[] | undefined): { bucket: string; prefix: string } | undefined {
    const e = (io ?? []).find((x) => /^minio(\.default)?$/i.test(x.storage_provider ?? '') && x.path);
    if (!e) return undefined;
    const p = e.path!.trim().replace(/^\/+|\/+$/g, '');
    const at = p.indexOf('/');
    return at < 0 ? { bucket: p, prefix: '' } : { bucket: p.slice(0, at), prefix: p.slice(at + 1) };
  }

  private async listInput(svc: SimService): Promise<string[]> {
    const p = OscarTestServer.minioPath(svc.input);
    if (!p || p.bucket !== this.o.store.store.bucket) return [];
    return (await this.o.store.store.list(`${p.prefix}/`)).filter((k) => !k.endsWith('/'));
  }

  /** The webhook: a new object under an input path starts a job. */
  private async watchUploads(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const svc of this.services.values()) {
        const keys = await this.listInput(svc).catch(() => undefined);
        if (!keys) continue;
        const before = this.seen.get(svc.name) ?? new Set<string>();
        for (const k of keys) {
          if (before.has(k) || this.faults.ignoreUpload?.(k)) continue;
          this.startJob(svc, this.o.store.store.bucket, k, JSON.stringify(this.minioEvent(this.o.store.store.bucket, k)));
        }
        this.seen.set(svc.name, new Set(keys));
      }
    } finally {
      this.polling = false;
    }
  }

  private minioEvent(bucket: string, key: string): Json {
    return {
      EventName: 's3:ObjectCreated:Put',
      Key: `${bucket}/${key}`,
      Records: [
        {
          eventSource: 'minio:s3',
          eventName: 's3:ObjectCreated:Put',
          requestParameters: { principalId: this.o.store.accessKey, region: '', sourceIPAddress: '127.0.0.1' },
          s3: { bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { key: key.split('/').map(encodeURIComponent).join('/') } },
        },
      ],
    };
  }

  // ---------------------------------------------------------------- jobs

  private startJob(svc: SimService, bucket: string, key: string, event: string): SimJob {
    const name = `${svc.name.length >= 25 ? svc.name.slice(0, 16) : svc.name}-${randomUUID()}`;
    const job: SimJob = { name, service: svc.name, object: `${bucket}/${key}`, status: 'Pending', created: Date.now(), log: [] };
    this.jobs.set(name, job);
    const p = this.runJob(svc, job, bucket, key, event).catch((err) => {
      this.say(job, `ERROR - ${(err as Error).message}`);
      job.status = 'Failed';
      job.finished = Date.now();
    });
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return job;
  }

  private say(job: SimJob, line: string): void {
    const t = Date.now();
    const stamp = new Date(t).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
    job.log.push({ t, line: line.startsWith('ERROR') || line.startsWith('INFO') ? `${stamp} - supervisor - ${line}` : line });
  }

  private async runJob(svc: SimService, job: SimJob, bucket: string, key: string, event: string): Promise<void> {
    const delay = this.faults.queueDelayMs?.(key) ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    job.started = Date.now();
    if (this.faults.podFails?.(key)) {
      this.say(job, 'ERROR - container oscar-container terminated: OOMKilled');
      job.status = 'Failed';
      job.finished = Date.now();
      return;
    }
    job.status = 'Running';
    const work = await mkdtemp(join(tmpdir(), 'oscar-job-'));
    this.dirs.add(work);
    try {
      const inDir = join(work, 'in');
      const outDir = join(work, 'out');
      const configDir = join(work, 'config');
      for (const d of [inDir, outDir, configDir]) await mkdir(d, { recursive: true });
      this.say(job, 'INFO - Reading storage authentication variables');
      let inputFile: string;
      let parsed: Json | undefined;
      try {
        parsed = JSON.parse(event) as Json;
      } catch {
        parsed = undefined;
      }
      const record = (parsed?.Records as Json[] | undefined)?.[0];
      if (record?.eventSource === 'minio:s3') {
        this.say(job, "INFO - Found 'MINIO' input provider");
        this.say(job, "INFO - Downloading input file using 'MINIO' event");
        this.say(job, `INFO - Downloading item from bucket '${bucket}' with key '${key}'`);
        if (bucket !== this.o.store.store.bucket) throw new Error(`NoSuchBucket: ${bucket}`);
        const bytes = await this.o.store.store.get(key);
        inputFile = join(inDir, key.split('/').pop()!);
        await writeFile(inputFile, bytes);
      } else {
        inputFile = join(inDir, 'event_file');
        await writeFile(inputFile, event);
      }
      this.say(job, `INFO - INPUT_FILE_PATH variable set to '${inputFile}'`);
      const script = join(configDir, 'script.sh');
      await writeFile(script, svc.script);
      const env: NodeJS.ProcessEnv = {
        PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: work,
        LANG: 'C.UTF-8',
        ONNX_MANAGER_HOME: PROJECT_DIR,
        ...svc.environment?.variables,
        ...svc.environment?.secrets,
        EVENT: event,
        JOB_UUID: job.name,
        STORAGE_OBJECT_KEY: key,
        INPUT_FILE_PATH: inputFile,
        TMP_INPUT_DIR: inDir,
        TMP_OUTPUT_DIR: outDir,
        ...this.faults.scriptEnv?.(key),
      };
      const output: string[] = [];
      await new Promise<number>((resolve) => {
        const child = spawn('/bin/sh', [script], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
        this.children.add(child);
        child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
        child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
        child.on('close', (c) => {
          this.children.delete(child);
          resolve(c ?? 1);
        });
      });
      // faas-supervisor logs the script's output at DEBUG only, and does not look at its exit status.
      if ((svc.log_level ?? 'INFO').toUpperCase() === 'DEBUG') for (const l of output.join('').split('\n')) if (l) this.say(job, l);
      const out = OscarTestServer.minioPath(svc.output);
      if (out) {
        this.say(job, `INFO - Searching for files to upload in folder '${outDir}'`);
        for (const file of await walk(outDir)) {
          const rel = relative(outDir, file);
          const k = out.prefix ? `${out.prefix}/${rel}` : rel;
          this.say(job, `INFO - Uploading file '${k}' to bucket '${out.bucket}'`);
          if (out.bucket !== this.o.store.store.bucket) throw new Error(`NoSuchBucket: ${out.bucket}`);
          await this.o.store.store.put(k, await readFile(file));
        }
      }
      this.say(job, 'INFO - Creating response');
      job.status = 'Succeeded';
      job.finished = Date.now();
    } finally {
      this.dirs.delete(work);
      await rm(work, { recursive: true, force: true });
    }
  }

  private jobInfo(j: SimJob): Json {
    const info: Json = { status: j.status, creation_time: second(j.created) };
    if (j.started && j.status !== 'Pending') info.start_time = second(j.started);
    if (j.finished) info.finish_time = second(j.finished);
    return info;
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const header = req.headers.authorization ?? '';
    const scheme = header ? header.split(' ')[0]!.toLowerCase() : undefined;
    const record: RequestRecord = {
      method: req.method ?? '',
      path: url.pathname,
      auth: scheme === 'basic' || scheme === 'bearer' ? scheme : scheme ? 'other' : 'none',
      status: 0,
    };
    this.requests.push(record);
    const m = this.spec.match(req.method ?? '', url.pathname);
    const send = (status: number, payload?: unknown, type = 'application/json'): void => {
      const text = payload === undefined ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload);
      record.status = status;
      if (m) this.responseViolations.push(...this.spec.checkResponse(m, status, text, type));
      res.writeHead(status, text ? { 'Content-Type': type } : {});
      res.end(text);
    };
    if (!m) {
      this.violations.push(`${req.method} ${url.pathname}: no such operation in the spec`);
      record.status = 404;
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found');
      return;
    }
    record.template = m.template;
    const problems = this.spec.checkRequest(m, { authScheme: record.auth === 'none' ? undefined : record.auth, query: url.searchParams, contentType: req.headers['content-type'], body });
    if (problems.length) {
      this.violations.push(...problems);
      return send(400, problems.join('; '), 'text/plain');
    }
    try {
      await this.route(m, url, header, body, send);
    } catch (err) {
      send(500, String((err as Error).message), 'text/plain');
    }
  }

  private basicOk(header: string): boolean {
    if (!header.startsWith('Basic ')) return false;
    const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
    return user === this.o.username && rest.join(':') === this.o.password;
  }

  private systemOk(header: string): boolean {
    return this.basicOk(header) || (this.o.oidcToken !== undefined && header === `Bearer ${this.o.oidcToken}`);
  }

  private async route(m: MatchedOperation, url: URL, header: string, body: Buffer, send: (s: number, p?: unknown, t?: string) => void): Promise<void> {
    const key = `${m.method} ${m.template}`;
    if (key === 'GET /health') return send(200, 'Ok', 'text/plain');
    const svcName = m.params.serviceName;
    if (key === 'POST /job/{serviceName}' || key === 'POST /run/{serviceName}') {
      const svc = this.services.get(svcName!);
      if (!svc) return send(404, 'Not Found', 'text/plain');
      const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
      if (!token || (token !== svc.token && token !== this.o.oidcToken)) return send(401, 'Unauthorized', 'text/plain');
      const event = body.toString('utf8');
      let parsed: Json | undefined;
      try {
        parsed = JSON.parse(event) as Json;
      } catch {
        parsed = undefined;
      }
      const rec = (parsed?.Records as Json[] | undefined)?.[0] as { eventSource?: string; s3?: { bucket?: { name?: string }; object?: { key?: string } } } | undefined;
      let bucket = '';
      let objectKey = 'event_file';
      if (rec?.eventSource === 'minio:s3') {
        bucket = rec.s3?.bucket?.name ?? '';
        objectKey = decodeURIComponent((rec.s3?.object?.key ?? '').replace(/\+/g, ' '));
      }
      if (key === 'POST /run/{serviceName}') return send(500, 'this cluster has no serverless backend (only /job)', 'text/plain');
      this.startJob(svc, bucket, objectKey, event);
      return send(201);
    }
    if (!this.systemOk(header)) return send(401, 'Unauthorized', 'text/plain');
    switch (key) {
      case 'GET /system/info':
        return send(200, { version: '4.1.2', git_commit: 'test', architecture: process.arch, kubernetes_version: 'v1.32.0' });
      case 'GET /system/config':
        return send(200, {
          config: { name: 'oscar', namespace: 'oscar', services_namespace: 'oscar-svc', gpu_available: false },
          minio_provider: { endpoint: this.o.store.endpoint, access_key: this.o.store.accessKey, secret_key: this.o.store.secretKey, region: 'us-east-1', verify: false },
        });
      case 'GET /system/services':
        return send(200, [...this.services.values()]);
      case 'GET /system/services/{serviceName}': {
        const svc = this.services.get(svcName!);
        return svc ? send(200, svc) : send(404, 'Not Found', 'text/plain');
      }
      case 'DELETE /system/services/{serviceName}':
        return this.services.delete(svcName!) ? send(204) : send(404, 'Not Found', 'text/plain');
      case 'POST /system/services':
      case 'PUT /system/services': {
        const svc = JSON.parse(body.toString('utf8')) as SimService;
        const old = this.services.get(svc.name);
        if (m.method === 'PUT' && !old) return send(404, 'Not Found', 'text/plain');
        if (m.method === 'POST' && old) return send(400, `service ${svc.name} already exists`, 'text/plain');
        for (const p of [OscarTestServer.minioPath(svc.input), OscarTestServer.minioPath(svc.output)]) {
          if (p && p.bucket !== this.o.store.store.bucket) return send(500, `bucket ${p.bucket} is not available in this test cluster`, 'text/plain');
        }
        const stored: SimService = {
          ...svc,
          token: old?.token ?? randomBytes(32).toString('hex'),
          cpu: svc.cpu ?? '0.2',
          memory: svc.memory ?? '256Mi',
          log_level: (svc.log_level ?? 'INFO').toUpperCase(),
          storage_providers: { minio: { default: { endpoint: this.o.store.endpoint, verify: false, access_key: 'hidden', secret_key: 'hidden', region: 'us-east-1' } } },
        };
        this.services.set(svc.name, stored);
        this.seen.set(svc.name, new Set(await this.listInput(stored)));
        return send(m.method === 'POST' ? 201 : 204);
      }
      case 'GET /system/logs/{serviceName}': {
        if (!this.services.has(svcName!)) return send(404, 'Not Found', 'text/plain');
        const all = [...this.jobs.values()].filter((j) => j.service === svcName);
        const size = this.o.pageSize ?? 70;
        const page = url.searchParams.get('page');
        const offset = page ? Number(Buffer.from(page, 'base64url').toString('utf8')) : 0;
        const slice = all.slice(offset, offset + size);
        const remaining = Math.max(0, all.length - offset - slice.length);
        const out: Json = { jobs: Object.fromEntries(slice.map((j) => [j.name, this.jobInfo(j)])), remaining_jobs: remaining };
        if (remaining > 0) out.next_page = Buffer.from(String(offset + slice.length)).toString('base64url');
        return send(200, out);
      }
      case 'GET /system/logs/{serviceName}/{jobName}': {
        const j = this.jobs.get(m.params.jobName!);
        if (!j || j.service !== svcName || j.status === 'Pending') return send(404, 'Not Found', 'text/plain');
        const ts = url.searchParams.get('timestamps') === 'true';
        const text = j.log.map((l) => (ts ? `${new Date(l.t).toISOString().replace('Z', '000000Z')} ${l.line}` : l.line)).join('\n');
        return send(200, text ? `${text}\n` : '', 'text/plain');
      }
      case 'DELETE /system/logs/{serviceName}': {
        if (!this.services.has(svcName!)) return send(404, 'Not Found', 'text/plain');
        const all = url.searchParams.get('all') === 'true';
        for (const j of [...this.jobs.values()]) if (j.service === svcName && (all || j.status === 'Succeeded')) this.jobs.delete(j.name);
        return send(204);
      }
      case 'DELETE /system/logs/{serviceName}/{jobName}': {
        const j = this.jobs.get(m.params.jobName!);
        if (!j || j.service !== svcName) return send(404, 'Not Found', 'text/plain');
        this.jobs.delete(j.name);
        return send(204);
      }
      default:
        return send(500, `${key} is not simulated`, 'text/plain');
    }
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out.sort();
}
