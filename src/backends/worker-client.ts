/**
 * The client side of the cloud worker protocol (JSON lines, see src/runner/serve.ts) over any
 * pair of streams: a local child process's stdio, or an SSH exec channel. It starts the worker on
 * demand, restarts it after a crash, and aborts `failureSignal` when the worker dies, so a wait for
 * a result ends at once instead of timing out.
 *
 * Every request has a deadline (`deadlineMs`, the run's --timeout): a worker that does not answer
 * in time (stopped, hung, swapping) is killed, so nothing is left running and the next request
 * starts a fresh one. Time during which the worker says its store is unavailable (it waits for
 * it, within the store's own retry budget) does not count against the deadline: a worker waiting
 * for the store is not hung. `restarts` counts the workers that ended without being asked to, so
 * that the sweep can run again a cycle that overlapped a restart.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { cloudConfigDifferences, decodeCloudConfig, type CloudConfig } from '../config/cloud-config.js';
import { DEFAULTS } from '../config/defaults.js';
import { OnnxManagerError, TimeoutError } from '../errors.js';
import type { WorkerReply, WorkerRequest } from '../runner/serve.js';
import type { CloudBackend, CloudJob, CloudStoreOutage, JobInfo, PrepareOptions, Prepared } from './backend.js';
import { within, withTimeout } from './timers.js';

export class BackendError extends OnnxManagerError {}

/** A started worker: its streams, and how to stop it. */
export interface WorkerStreams {
  stdin: Writable;
  stdout: Readable;
  /** Resolves (with a description) when the worker has ended, however it ended. */
  exited: Promise<string>;
  /** Ends the worker at once (SIGKILL, which ends a stopped process too), wherever it runs. */
  kill(): void;
  /** The worker's process id on its host, from its 'ready' line (a remote kill needs it). */
  pid?: number;
}

const START_DEADLINE_MS = 120_000;

/** What a worker's 'done' line said. */
type Done = { uploadMs?: number; storeRetries?: number };

type Pending = { resolve: (m: WorkerReply) => void; reject: (e: Error) => void; worker: WorkerStreams };

/** What a wait for a reply gets instead when a worker says its store went or came back. */
const STORE_LINE = Symbol('a store line');
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : R) : never;

export abstract class WorkerBackend implements CloudBackend {
  abstract readonly name: string;
  private worker?: WorkerStreams;
  private ready?: Promise<void>;
  private alive = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private abort = new AbortController();
  private closing = false;
  /** Output key of each job sent, until its 'done' arrives; and what 'done' said, by output key. */
  private readonly jobKeysById = new Map<number, string>();
  private readonly finished = new Map<string, { promise: Promise<Done>; resolve: (done: Done) => void }>();
  private reported?: CloudConfig;
  private ends = 0;
  /** Workers whose end has been counted in `restarts`. */
  private readonly counted = new WeakSet<WorkerStreams>();
  private readonly outageListeners = new Set<(event: CloudStoreOutage) => void>();
  /** Workers that said their store is unavailable and not yet that it is back. */
  private readonly storeDown = new WeakSet<WorkerStreams>();
  /** Requests waiting for an answer, told of each 'store' line (their deadline stops or goes on). */
  private readonly storeWaiters = new Set<() => void>();
  /** How long a request (loading parts, a profile, a job the edge waits for) may take: the run's --timeout. */
  deadlineMs: number = DEFAULTS.timeoutS * 1000;

  /** `expected`: the cloud configuration the worker was given; a worker that reports another one is refused. */
  constructor(private readonly expected?: CloudConfig) {}

  /** The configuration the running worker reported in its 'ready' line. */
  get workerConfig(): CloudConfig | undefined {
    return this.reported;
  }

  private done(outputKey: string) {
    let d = this.finished.get(outputKey);
    if (!d) {
      let resolve!: (done: Done) => void;
      const promise = new Promise<Done>((r) => (resolve = r));
      this.finished.set(outputKey, (d = { promise, resolve }));
    }
    return d;
  }

  /** Starts a worker process (locally, or remotely over SSH). */
  protected abstract spawnWorker(): Promise<WorkerStreams>;

  /** What the worker is, for messages: 'the local cloud worker', 'the cloud worker on host'. */
  protected abstract readonly label: string;

  get failureSignal(): AbortSignal {
    return this.abort.signal;
  }

  /** Workers that ended without being asked to (crashed, killed, or stopped here after a deadline). */
  get restarts(): number {
    return this.ends;
  }

  private lost(w: WorkerStreams): void {
    if (this.closing || this.counted.has(w)) return;
    this.counted.add(w);
    this.ends++;
  }

  /** Kills a worker that missed a deadline (SIGKILL ends a stopped process too); the next request starts another. */
  private hung(w: WorkerStreams): void {
    this.lost(w);
    if (this.worker === w) this.alive = false;
    w.kill();
  }

  private missed(w: WorkerStreams, what: string, ms: number): TimeoutError {
    this.hung(w);
    return new TimeoutError(`${this.label} did not answer within ${ms / 1000} s while ${what}; it was stopped and starts again for the next request`, { what, timeoutMs: ms });
  }

  private start(): Promise<void> {
    if (this.ready && this.alive) return this.ready;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.ready = (async () => {
      const w = await this.spawnWorker();
      // Closed while it was being started (a slow spawn, an SSH connection): it is not left running.
      if (this.closing) {
        this.counted.add(w);
        w.kill();
        throw new BackendError(`${this.label} was stopped as it started`);
      }
      // A write to a worker that just died fails with EPIPE; `exited` reports the death.
      w.stdin.on('error', () => {});
      this.worker = w;
      this.alive = true;
      let readyResolve!: () => void;
      let readyReject!: (e: Error) => void;
      const readyLine = new Promise<void>((resolve, reject) => {
        readyResolve = resolve;
        readyReject = reject;
      });
      const lines = createInterface({ input: w.stdout, crlfDelay: Infinity });
      lines.on('line', (line) => {
        let m: WorkerReply;
        try {
          m = JSON.parse(line) as WorkerReply;
        } catch {
          return;
        }
        if (m.type === 'ready') {
          if (Number.isSafeInteger(m.pid) && m.pid! > 1) w.pid = m.pid;
          try {
            const reported = m.config !== undefined ? decodeCloudConfig(m.config, `the 'ready' line of ${this.label}`) : undefined;
            this.reported = reported;
            const differ = !this.expected ? [] : reported ? cloudConfigDifferences(this.expected, reported) : ['all of it'];
            if (differ.length === 0) return readyResolve();
            readyReject(new BackendError(`${this.label} does not run with the cloud configuration it was given (${differ.join(', ')} differ): is it an older onnx-cloud?`));
          } catch (err) {
            readyReject(err as Error);
          }
          // Refused, not lost: no restart to count.
          this.counted.add(w);
          w.kill();
          return;
        }
        if (m.type === 'store') {
          const event: CloudStoreOutage = m.kind === 'down' ? { kind: 'down', reason: String(m.reason) } : { kind: 'up', downMs: Number(m.downMs) || 0 };
          if (event.kind === 'down') this.storeDown.add(w);
          else this.storeDown.delete(w);
          for (const listener of this.outageListeners) listener(event);
          for (const waiter of [...this.storeWaiters]) waiter();
          return;
        }
        if (m.type === 'done') {
          const key = this.jobKeysById.get(m.id);
          this.jobKeysById.delete(m.id);
          if (key !== undefined) this.done(key).resolve({ uploadMs: m.uploadMs, storeRetries: m.storeRetries });
        }
        const p = this.pending.get(m.id);
        if (p) {
          this.pending.delete(m.id);
          p.resolve(m);
        }
      });
      const ended = w.exited.then((how) => {
        this.lost(w);
        // A worker killed here after a deadline was replaced already: its end aborts nothing.
        const current = this.worker === w && this.alive;
        if (this.worker === w) this.alive = false;
        const why = new BackendError(`${this.label} exited (${how})`);
        for (const [id, p] of this.pending) {
          if (p.worker !== w) continue;
          this.pending.delete(id);
          p.reject(why);
        }
        // A worker killed after a deadline may end after its successor started.
        if (!this.closing && current) this.abort.abort(why);
        throw why;
      });
      // Starting may pull an image or open a connection: never less than two minutes.
      const startMs = Math.max(this.deadlineMs, START_DEADLINE_MS);
      await withTimeout(Promise.race([readyLine, ended]), startMs, () => this.missed(w, 'starting', startMs));
    })();
    return this.ready;
  }

  private send(m: Request & { id?: number }): void {
    this.worker!.stdin.write(`${JSON.stringify(m)}\n`);
  }

  /** Sends a request and waits for its answer, at most `timeoutMs` (then the worker is killed). */
  private async request(m: Request, what: string, timeoutMs = this.deadlineMs): Promise<WorkerReply> {
    await this.start();
    const w = this.worker!;
    const id = this.nextId++;
    const reply = new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w });
      this.send({ ...m, id } as Request & { id: number });
    });
    const answer = await this.answer(reply, w, timeoutMs);
    if (answer !== undefined) return answer;
    this.pending.delete(id);
    throw this.missed(w, what, timeoutMs);
  }

  /**
   * `reply`, or undefined once worker `w` has had `timeoutMs` for it. The deadline stops while
   * the worker says its store is unavailable and goes on where it was when the store is back, so
   * a worker that gets its store back late in the deadline still has the rest of the deadline to
   * finish (a load, a job) after it. The worker gives up on its store after its retry budget and
   * answers: no longer than that is waited for it before the deadline goes on regardless.
   */
  private async answer(reply: Promise<WorkerReply>, w: WorkerStreams, timeoutMs: number): Promise<WorkerReply | undefined> {
    let left = timeoutMs;
    let excused = (this.expected?.storeRetryS ?? DEFAULTS.storeRetryS) * 1000;
    for (;;) {
      const waitingForStore = excused > 0 && this.storeDown.has(w) && this.worker === w && this.alive;
      let told!: () => void;
      const storeLine = new Promise<typeof STORE_LINE>((resolve) => (told = () => resolve(STORE_LINE)));
      this.storeWaiters.add(told);
      const t0 = performance.now();
      let got: WorkerReply | typeof STORE_LINE | undefined;
      try {
        got = await within(Promise.race([reply, storeLine]), waitingForStore ? excused : Math.max(left, 0));
      } finally {
        this.storeWaiters.delete(told);
      }
      if (got !== undefined && got !== STORE_LINE) return got;
      const spent = performance.now() - t0;
      if (waitingForStore) excused -= spent;
      else if (got === undefined) return undefined;
      else left -= spent;
    }
  }

  async prepare(models: readonly string[], options: PrepareOptions = {}): Promise<Prepared> {
    const m = await this.request({ type: 'prepare', models: [...models], ...(options.fresh ? { fresh: true } : {}) }, `loading ${models.length === 1 ? 'a part' : `${models.length} parts`}`);
    if (m.type === 'failed') throw new BackendError(`${this.label} could not load the part: ${m.error}`);
    if (m.type !== 'prepared') return { loadMs: 0 };
    return m.storeRetries ? { loadMs: m.loadMs, storeRetries: m.storeRetries } : { loadMs: m.loadMs };
  }

  /** Tells `listener` when the worker's store becomes unavailable and when it is back (the worker says so as it happens). */
  onStoreOutage(listener: (event: CloudStoreOutage) => void): () => void {
    this.outageListeners.add(listener);
    return () => void this.outageListeners.delete(listener);
  }

  async trigger(job: CloudJob): Promise<void> {
    await this.start();
    // The result arrives through the store; failures come back as error payloads.
    const id = this.nextId++;
    this.jobKeysById.set(id, job.outputKey);
    this.send({ type: 'job', id, inputKey: job.inputKey, outputKey: job.outputKey });
  }

  /**
   * The edge stopped waiting for this job (its --timeout passed): a worker still on it is stopped,
   * hung or too slow, and would delay the next job, so it is killed and started again.
   */
  abandon(job: CloudJob): void {
    const w = this.worker;
    if (w && this.alive && [...this.jobKeysById.values()].includes(job.outputKey)) this.hung(w);
  }

  /** The worker's time to put the result (its 'done' line can trail the object by a moment). */
  async jobInfo(job: CloudJob): Promise<JobInfo> {
    const d = this.done(job.outputKey);
    const done = await within(d.promise, 1000);
    this.finished.delete(job.outputKey);
    return {
      ...(done?.uploadMs !== undefined ? { uploadMs: done.uploadMs } : {}),
      ...(done?.storeRetries !== undefined ? { storeRetries: done.storeRetries } : {}),
    };
  }

  async warmUp(): Promise<void> {
    await this.start();
  }

  /** Ends the worker abruptly (tests use it to show that a crash fails the split and the sweep goes on). */
  kill(): void {
    this.worker?.kill();
  }

  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    if (!w || !this.alive) return;
    this.send({ type: 'stop' });
    w.stdin.end();
    const timer = setTimeout(() => w.kill(), 5000);
    await w.exited;
    clearTimeout(timer);
  }
}
