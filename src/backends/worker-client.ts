/**
 * The client side of the cloud worker protocol (JSON lines, see src/runner/serve.ts) over any
 * pair of streams: a local child process's stdio, or an SSH exec channel. It starts the worker on
 * demand, restarts it after a crash, and aborts `failureSignal` when the worker dies, so a wait for
 * a result ends at once instead of timing out.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { cloudConfigDifferences, decodeCloudConfig, type CloudConfig } from '../config/cloud-config.js';
import { OnnxManagerError } from '../errors.js';
import type { WorkerReply, WorkerRequest } from '../runner/serve.js';
import type { CloudBackend, CloudJob, JobInfo } from './backend.js';
import type { SideMeasurement } from '../profile/layer-profiler-side.js';
import { within, withTimeout } from './timers.js';

export class BackendError extends OnnxManagerError {}

/** A started worker: its streams, and how to stop it. */
export interface WorkerStreams {
  stdin: Writable;
  stdout: Readable;
  /** Resolves (with a description) when the worker has ended, however it ended. */
  exited: Promise<string>;
  kill(): void;
}

type Pending = { resolve: (m: WorkerReply) => void; reject: (e: Error) => void };
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
  private readonly finished = new Map<string, { promise: Promise<number | undefined>; resolve: (ms: number | undefined) => void }>();
  private reported?: CloudConfig;
  private starts = 0;

  /** `expected`: the cloud configuration the worker was given; a worker that reports another one is refused. */
  constructor(private readonly expected?: CloudConfig) {}

  /** The configuration the running worker reported in its 'ready' line. */
  get workerConfig(): CloudConfig | undefined {
    return this.reported;
  }

  private done(outputKey: string) {
    let d = this.finished.get(outputKey);
    if (!d) {
      let resolve!: (ms: number | undefined) => void;
      const promise = new Promise<number | undefined>((r) => (resolve = r));
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

  /** Workers started after the first one (each after the one before ended). */
  get restarts(): number {
    return Math.max(0, this.starts - 1);
  }

  private start(): Promise<void> {
    if (this.ready && this.alive) return this.ready;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.ready = (async () => {
      this.starts++;
      const w = await this.spawnWorker();
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
          try {
            const reported = m.config !== undefined ? decodeCloudConfig(m.config, `the 'ready' line of ${this.label}`) : undefined;
            this.reported = reported;
            const differ = !this.expected ? [] : reported ? cloudConfigDifferences(this.expected, reported) : ['all of it'];
            if (differ.length === 0) return readyResolve();
            readyReject(new BackendError(`${this.label} does not run with the cloud configuration it was given (${differ.join(', ')} differ): is it an older onnx-cloud?`));
          } catch (err) {
            readyReject(err as Error);
          }
          w.kill();
          return;
        }
        if (m.type === 'done') {
          const key = this.jobKeysById.get(m.id);
          this.jobKeysById.delete(m.id);
          if (key !== undefined) this.done(key).resolve(m.uploadMs);
        }
        const p = this.pending.get(m.id);
        if (p) {
          this.pending.delete(m.id);
          p.resolve(m);
        }
      });
      const ended = w.exited.then((how) => {
        this.alive = false;
        const why = new BackendError(`${this.label} exited (${how})`);
        for (const p of this.pending.values()) p.reject(why);
        this.pending.clear();
        if (!this.closing) this.abort.abort(why);
        throw why;
      });
      await Promise.race([readyLine, ended]);
    })();
    return this.ready;
  }

  private send(m: Request & { id?: number }): void {
    this.worker!.stdin.write(`${JSON.stringify(m)}\n`);
  }

  private async request(m: Request): Promise<WorkerReply> {
    await this.start();
    const id = this.nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...m, id } as Request & { id: number });
    });
  }

  async prepare(models: readonly string[]): Promise<{ loadMs: number }> {
    const m = await this.request({ type: 'prepare', models: [...models] });
    if (m.type === 'failed') throw new BackendError(`${this.label} could not load the part: ${m.error}`);
    return { loadMs: m.type === 'prepared' ? m.loadMs : 0 };
  }

  /**
   * Profiles a model on the cloud side (see serve.ts): the part (by sha256) and its input payload
   * are in the store already. Fails after `timeoutMs`, or at once when the worker dies.
   */
  async profile(job: { model: string; inputKey: string; rep: number; warmup: number; timeoutMs: number }): Promise<SideMeasurement> {
    const { timeoutMs, ...request } = job;
    const m = await withTimeout(this.request({ type: 'profile', ...request }), timeoutMs, () => new BackendError(`no profile from ${this.label} within ${timeoutMs / 1000} s`));
    if (m.type === 'failed') throw new BackendError(`${this.label} could not profile the model: ${m.error}`);
    if (m.type !== 'profiled') throw new BackendError(`${this.label} answered a profile request with '${m.type}'`);
    return m.measurement;
  }

  async trigger(job: CloudJob): Promise<void> {
    await this.start();
    // The result arrives through the store; failures come back as error payloads.
    const id = this.nextId++;
    this.jobKeysById.set(id, job.outputKey);
    this.send({ type: 'job', id, inputKey: job.inputKey, outputKey: job.outputKey });
  }

  /** The worker's time to put the result (its 'done' line can trail the object by a moment). */
  async jobInfo(job: CloudJob): Promise<JobInfo> {
    const d = this.done(job.outputKey);
    const uploadMs = await within(d.promise, 1000);
    this.finished.delete(job.outputKey);
    return uploadMs === undefined ? {} : { uploadMs };
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
