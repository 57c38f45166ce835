/**
 * A small typed client of the OSCAR REST API (grycap/oscar, Swagger 2.0 spec v4.1.2) over Node's
 * fetch. Only the endpoints onnx-manager uses:
 *
 *   GET  /health                                  no auth
 *   GET  /system/info, /system/config             basic (OSCAR_USERNAME/OSCAR_PASSWORD) or bearer (OSCAR_TOKEN)
 *   GET/POST/PUT /system/services[/{name}]        same
 *   GET/DELETE /system/logs/{svc}[/{job}]         same
 *   POST /job/{svc}, /run/{svc}                   bearer only: the service's own token (field `token` of
 *                                                 GET /system/services/{svc}) or an OIDC token
 *
 * Every failure is one OscarError line naming the endpoint, the method and path and the HTTP status,
 * never the credentials; every request has a timeout.
 */
import { OnnxManagerError, UsageError } from '../errors.js';
import { secretValue } from '../secrets.js';

export class OscarError extends OnnxManagerError {
  /** HTTP status, when the server answered. */
  readonly status?: number;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.status !== undefined) this.status = options.status;
  }
}

export type OscarAuth = { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string };

/** types.StorageIOConfig */
export interface OscarStorageIO {
  storage_provider?: string;
  path?: string;
  prefix?: string[];
  suffix?: string[];
}

/** types.Service (the fields onnx-manager reads or writes; the server may send more). */
export interface OscarService {
  name: string;
  image: string;
  script: string;
  cpu?: string;
  memory?: string;
  log_level?: string;
  enable_gpu?: boolean;
  token?: string;
  environment?: { variables?: Record<string, string>; secrets?: Record<string, string> };
  input?: OscarStorageIO[];
  output?: OscarStorageIO[];
  [key: string]: unknown;
}

/** types.MinIOProvider */
export interface OscarMinioProvider {
  endpoint?: string;
  access_key?: string;
  secret_key?: string;
  region?: string;
  verify?: boolean;
}

/** types.ConfigForUser */
export interface OscarConfig {
  minio_provider?: OscarMinioProvider;
  config?: Record<string, unknown>;
  [key: string]: unknown;
}

/** types.Info */
export interface OscarInfo {
  version?: string;
  git_commit?: string;
  architecture?: string;
  kubernetes_version?: string;
  serverless_backend?: { name?: string; version?: string };
}

/** types.JobInfo: status is the pod phase (Pending, Running, Succeeded, Failed) or Suspended; times RFC 3339, 1 s resolution. */
export interface OscarJobInfo {
  status?: string;
  creation_time?: string;
  start_time?: string;
  finish_time?: string;
}

/** types.JobsResponse */
export interface OscarJobsPage {
  jobs: Record<string, OscarJobInfo>;
  nextPage?: string;
  remainingJobs?: number;
}

export interface OscarClientOptions {
  /** http(s)://host[:port][/base]; no credentials in it. */
  endpoint: string;
  /** Credentials for /system/* (and the OIDC token for /job and /run when the service has no token). */
  auth?: OscarAuth;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** For tests. */
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Bounds the pages followed by allJobs (70 jobs a page: 35,000 jobs). */
const MAX_PAGES = 500;

/** The OSCAR endpoint as a URL without a trailing slash; a UsageError for anything else. */
export function parseOscarEndpoint(endpoint: string): URL {
  const text = endpoint.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw new UsageError(`OSCAR endpoint '${endpoint}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`OSCAR endpoint '${endpoint}': the scheme must be http or https`);
  if (url.username || url.password) {
    throw new UsageError('the OSCAR endpoint must not contain credentials; use OSCAR_USERNAME and OSCAR_PASSWORD, or OSCAR_TOKEN');
  }
  if (url.search || url.hash) throw new UsageError(`OSCAR endpoint '${endpoint}' must not have a query or fragment`);
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}


type Env = Record<string, string | undefined>;


/**
 * OSCAR credentials from the environment: an OIDC token (OSCAR_TOKEN or OSCAR_TOKEN_FILE) when one
 * is set, else basic auth (OSCAR_USERNAME with OSCAR_PASSWORD or OSCAR_PASSWORD_FILE).
 */
export function oscarAuthFromEnv(env: Env): OscarAuth | undefined {
  const token = secretValue(env, 'OSCAR_TOKEN');
  if (token) return { kind: 'bearer', token };
  const username = env.OSCAR_USERNAME;
  const password = secretValue(env, 'OSCAR_PASSWORD');
  if (username && password) return { kind: 'basic', username, password };
  if (username && !password) throw new UsageError('OSCAR_USERNAME is set but OSCAR_PASSWORD (or OSCAR_PASSWORD_FILE) is not');
  if (password && !username) throw new UsageError('OSCAR_PASSWORD is set but OSCAR_USERNAME is not');
  return undefined;
}

function authHeader(auth: OscarAuth): string {
  return auth.kind === 'basic' ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}` : `Bearer ${auth.token}`;
}

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path with its parameters already encoded. */
  path: string;
  query?: Record<string, string>;
  /** 'system': the user's credentials; 'none': no Authorization header; otherwise this bearer token. */
  auth: 'system' | 'none' | { bearer: string };
  body?: string | Uint8Array;
  contentType?: string;
  /** Which name a 404 is about, for the message. */
  notFound?: string;
  /** Message for a 401 (default: wrong credentials). */
  unauthorized?: string;
}

export class OscarClient {
  readonly url: string;
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: OscarClientOptions) {
    this.base = parseOscarEndpoint(options.endpoint);
    this.url = this.base.href.replace(/\/$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = options.fetch ?? fetch;
  }

  get auth(): OscarAuth | undefined {
    return this.options.auth;
  }

  private async call(c: Call): Promise<Response> {
    const what = `${c.method} ${c.path}`;
    const url = new URL(this.base.href);
    url.pathname = `${this.base.pathname.replace(/\/+$/, '')}${c.path}`;
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: 'application/json, text/plain' };
    if (c.auth === 'system') {
      if (!this.options.auth) {
        throw new UsageError(`${what} needs OSCAR credentials: set OSCAR_USERNAME and OSCAR_PASSWORD (or OSCAR_PASSWORD_FILE), or OSCAR_TOKEN`);
      }
      headers.Authorization = authHeader(this.options.auth);
    } else if (c.auth !== 'none') {
      headers.Authorization = `Bearer ${c.auth.bearer}`;
    }
    if (c.body !== undefined) headers['Content-Type'] = c.contentType ?? 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: c.method,
        headers,
        ...(c.body !== undefined ? { body: c.body } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
        // Never follow a redirect with the credentials; say where it points instead.
        redirect: 'manual',
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        throw new OscarError(`OSCAR at ${this.url}: ${what} got no answer within ${Math.round(this.timeoutMs / 100) / 10} s`, { cause: err });
      }
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new OscarError(`cannot reach OSCAR at ${this.url} (${what}: ${String(why).split('\n')[0]})`, { cause: err });
    }
    if (res.ok) return res;
    let text = '';
    try {
      text = (await res.text()).trim().split('\n')[0]!.slice(0, 200);
    } catch {
      // the status says enough
    }
    let hint: string;
    if (res.status >= 300 && res.status < 400) hint = `redirected to ${res.headers.get('location') ?? '?'} (give that as the endpoint)`;
    else if (res.status === 401) hint = c.unauthorized ?? 'wrong credentials (check OSCAR_USERNAME/OSCAR_PASSWORD or OSCAR_TOKEN)';
    else if (res.status === 403) hint = `forbidden${text ? `: ${text}` : ''}`;
    else if (res.status === 404 && c.notFound) hint = `${c.notFound} does not exist`;
    else hint = text || res.statusText || 'error';
    throw new OscarError(`OSCAR at ${this.url}: ${what} -> HTTP ${res.status}: ${hint}`, { status: res.status });
  }

  private async json<T>(c: Call): Promise<T> {
    const res = await this.call(c);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new OscarError(`OSCAR at ${this.url}: ${c.method} ${c.path} -> HTTP ${res.status} with a body that is not JSON`, { cause: err, status: res.status });
    }
  }

  private static seg(s: string): string {
    if (!s || s.includes('/')) throw new UsageError(`'${s}' is not a valid OSCAR name`);
    return encodeURIComponent(s);
  }

  /** GET /health (no credentials sent). */
  async health(): Promise<string> {
    return (await this.call({ method: 'GET', path: '/health', auth: 'none' })).text();
  }

  async info(): Promise<OscarInfo> {
    return this.json<OscarInfo>({ method: 'GET', path: '/system/info', auth: 'system' });
  }

  /** GET /system/config: the cluster configuration and the caller's MinIO provider (endpoint and keys). */
  async config(): Promise<OscarConfig> {
    return this.json<OscarConfig>({ method: 'GET', path: '/system/config', auth: 'system' });
  }

  async listServices(): Promise<OscarService[]> {
    return this.json<OscarService[]>({ method: 'GET', path: '/system/services', auth: 'system' });
  }

  /** GET /system/services/{name}; a 404 is an OscarError saying the service does not exist. */
  async getService(name: string): Promise<OscarService> {
    return this.json<OscarService>({ method: 'GET', path: `/system/services/${OscarClient.seg(name)}`, auth: 'system', notFound: `service '${name}'` });
  }

  /** The service, or undefined when it does not exist. */
  async findService(name: string): Promise<OscarService | undefined> {
    try {
      return await this.getService(name);
    } catch (err) {
      if (err instanceof OscarError && err.status === 404) return undefined;
      throw err;
    }
  }

  async createService(service: OscarService): Promise<void> {
    await this.call({ method: 'POST', path: '/system/services', auth: 'system', body: JSON.stringify(service) });
  }

  async updateService(service: OscarService): Promise<void> {
    await this.call({ method: 'PUT', path: '/system/services', auth: 'system', body: JSON.stringify(service), notFound: `service '${service.name}'` });
  }

  async deleteService(name: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/system/services/${OscarClient.seg(name)}`, auth: 'system', notFound: `service '${name}'` });
  }

  /** The bearer token for /job and /run: the service's own token, else the user's OIDC token. */
  invokeToken(service: OscarService): string {
    if (service.token) return service.token;
    if (this.options.auth?.kind === 'bearer') return this.options.auth.token;
    throw new UsageError(`service '${service.name}' has no token and no OIDC token is set (OSCAR_TOKEN); /job and /run accept only bearer tokens`);
  }

  /** POST /job/{svc}: an asynchronous invocation (a Kubernetes Job named <svc>-<uuid>); the body is the event. */
  async job(service: string, event: string | Uint8Array, token: string, contentType = 'application/json'): Promise<void> {
    await this.call({
      method: 'POST',
      path: `/job/${OscarClient.seg(service)}`,
      auth: { bearer: token },
      body: event,
      contentType,
      notFound: `service '${service}'`,
      unauthorized: `the token for service '${service}' was rejected`,
    });
  }

  /** POST /run/{svc}: a synchronous invocation (needs a serverless backend); returns the response body (base64 of the output). */
  async run(service: string, body: string | Uint8Array, token: string, contentType = 'application/octet-stream'): Promise<string> {
    const res = await this.call({
      method: 'POST',
      path: `/run/${OscarClient.seg(service)}`,
      auth: { bearer: token },
      body,
      contentType,
      notFound: `service '${service}'`,
      unauthorized: `the token for service '${service}' was rejected`,
    });
    return res.text();
  }

  /** GET /system/logs/{svc}: one page of the service's jobs. */
  async listJobs(service: string, page?: string): Promise<OscarJobsPage> {
    const body = await this.json<Record<string, unknown>>({
      method: 'GET',
      path: `/system/logs/${OscarClient.seg(service)}`,
      auth: 'system',
      ...(page ? { query: { page } } : {}),
      notFound: `service '${service}'`,
    });
    // Before paging (OSCAR < 3.x) the answer was the jobs map itself.
    if (body && typeof body === 'object' && 'jobs' in body && typeof body.jobs === 'object') {
      const out: OscarJobsPage = { jobs: (body.jobs ?? {}) as Record<string, OscarJobInfo> };
      if (typeof body.next_page === 'string' && body.next_page) out.nextPage = body.next_page;
      if (typeof body.remaining_jobs === 'number') out.remainingJobs = body.remaining_jobs;
      return out;
    }
    return { jobs: (body ?? {}) as Record<string, OscarJobInfo> };
  }

  /** Every job of the service, following next_page. */
  async allJobs(service: string): Promise<Record<string, OscarJobInfo>> {
    const all: Record<string, OscarJobInfo> = {};
    let page: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const p = await this.listJobs(service, page);
      Object.assign(all, p.jobs);
      if (!p.nextPage || p.nextPage === page) return all;
      page = p.nextPage;
    }
    return all;
  }

  /** GET /system/logs/{svc}/{job}: the job's log text (with Kubernetes timestamps by default). */
  async jobLogs(service: string, job: string, timestamps = true): Promise<string> {
    const res = await this.call({
      method: 'GET',
      path: `/system/logs/${OscarClient.seg(service)}/${OscarClient.seg(job)}`,
      auth: 'system',
      ...(timestamps ? { query: { timestamps: 'true' } } : {}),
      notFound: `job '${job}' of service '${service}'`,
    });
    return res.text();
  }

  /** DELETE /system/logs/{svc}: removes the finished jobs (with all: pending, running and failed ones too). */
  async deleteJobs(service: string, all = false): Promise<void> {
    await this.call({
      method: 'DELETE',
      path: `/system/logs/${OscarClient.seg(service)}`,
      auth: 'system',
      ...(all ? { query: { all: 'true' } } : {}),
      notFound: `service '${service}'`,
    });
  }

  /** DELETE /system/logs/{svc}/{job}: removes one job and its pod. */
  async deleteJob(service: string, job: string): Promise<void> {
    await this.call({
      method: 'DELETE',
      path: `/system/logs/${OscarClient.seg(service)}/${OscarClient.seg(job)}`,
      auth: 'system',
      notFound: `job '${job}' of service '${service}'`,
    });
  }
}
