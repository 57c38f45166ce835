/**
 * The local backend: a cloud worker process on this machine, started and stopped by
 * onnx-manager, triggered for each payload by a message naming the object (as OSCAR's MinIO
 * webhook names it), keeping sessions warm by model hash. No process per split or repetition.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { OnnxManagerError } from '../errors.js';
import type { CloudBackend, CloudJob } from './backend.js';

export class BackendError extends OnnxManagerError {}

export interface LocalBackendOptions {
  /** Store coordinates for the worker, passed in its environment (never on a command line). */
  store: { endpoint: string; accessKey: string; secretKey: string; bucket: string };
  /** Execution provider for the cloud parts, e.g. 'cpu'. */
  provider?: { name: string; deviceId?: number };
  /** Graph optimisation level for the cloud sessions. */
  graphOptimizationLevel?: string;
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'prepared'; id: number; loadMs: number }
  | { type: 'failed'; id: number; error: string }
  | { type: 'done'; id: number };

const workerPath = fileURLToPath(new URL('../../cloud/worker.js', import.meta.url));

export class LocalBackend implements CloudBackend {
  readonly name = 'local';
  private child?: ChildProcess;
  private ready?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: WorkerMessage) => void; reject: (e: Error) => void }>();
  private abort = new AbortController();
  private closing = false;

  constructor(private readonly options: LocalBackendOptions) {}

  get failureSignal(): AbortSignal {
    return this.abort.signal;
  }

  private start(): Promise<void> {
    if (this.ready && this.child && this.child.exitCode === null && this.child.signalCode === null) return this.ready;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    const { store, provider, graphOptimizationLevel } = this.options;
    const env = {
      ...process.env,
      MINIO_ENDPOINT: store.endpoint,
      MINIO_ACCESS_KEY: store.accessKey,
      MINIO_SECRET_KEY: store.secretKey,
      ONNX_MANAGER_BUCKET: store.bucket,
      ONNX_MANAGER_PROVIDER: JSON.stringify(provider ?? { name: 'cpu' }),
      ONNX_MANAGER_OPT_LEVEL: graphOptimizationLevel ?? 'all',
    };
    const child = fork(workerPath, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') return resolve();
        const p = 'id' in m ? this.pending.get(m.id) : undefined;
        if (p) {
          this.pending.delete((m as { id: number }).id);
          p.resolve(m);
        }
      });
      child.once('exit', (code, signal) => {
        const why = new BackendError(`the local cloud worker exited (${signal ?? `code ${code}`})`);
        reject(why);
        for (const p of this.pending.values()) p.reject(why);
        this.pending.clear();
        if (!this.closing) this.abort.abort(why);
      });
      child.once('error', reject);
    });
    return this.ready;
  }

  private async request(msg: Record<string, unknown>): Promise<WorkerMessage> {
    await this.start();
    const id = this.nextId++;
    return new Promise<WorkerMessage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child!.send({ ...msg, id });
    });
  }

  async prepare(models: readonly string[]): Promise<{ loadMs: number }> {
    const m = await this.request({ type: 'prepare', models });
    if (m.type === 'failed') throw new BackendError(`the cloud worker could not load the part: ${m.error}`);
    return { loadMs: m.type === 'prepared' ? m.loadMs : 0 };
  }

  async trigger(job: CloudJob): Promise<void> {
    await this.start();
    // Fire and forget: the result arrives through the store; failures come back as error payloads.
    this.child!.send({ type: 'job', id: this.nextId++, inputKey: job.inputKey, outputKey: job.outputKey });
  }

  /** Kills the worker (used by tests to show that a crash fails the split and the sweep goes on). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.send({ type: 'stop' });
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  }
}
