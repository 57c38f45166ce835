/**
 * The local backend: a cloud worker process on this machine, started and stopped by
 * onnx-manager, triggered for each payload by a message naming the object (as OSCAR's MinIO
 * webhook names it), keeping sessions warm by part hash. No process per split or repetition.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendModule } from './index.js';
import { WorkerBackend, type WorkerStreams } from './worker-client.js';

export { BackendError } from './worker-client.js';

export interface LocalBackendOptions {
  /** Store coordinates for the worker, passed in its environment (never on a command line). */
  store: { endpoint: string; accessKey: string; secretKey: string; bucket: string };
  /** Execution provider for the cloud parts, e.g. { name: 'cpu' }. */
  provider?: { name: string; deviceId?: number };
  /** Graph optimisation level for the cloud sessions. */
  graphOptimizationLevel?: string;
  /** Intra-op threads of the cloud sessions (default: onnxruntime's choice). */
  threads?: number;
}

const workerPath = fileURLToPath(new URL('../../cloud/worker.js', import.meta.url));

export class LocalBackend extends WorkerBackend {
  readonly name = 'local';
  protected readonly label = 'the local cloud worker';

  constructor(private readonly options: LocalBackendOptions) {
    super();
  }

  protected async spawnWorker(): Promise<WorkerStreams> {
    const { store, provider, graphOptimizationLevel } = this.options;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MINIO_ENDPOINT: store.endpoint,
      MINIO_ACCESS_KEY: store.accessKey,
      MINIO_SECRET_KEY: store.secretKey,
      MINIO_BUCKET: store.bucket,
      ONNX_MANAGER_PROVIDER: JSON.stringify(provider ?? { name: 'cpu' }),
      ONNX_MANAGER_OPT_LEVEL: graphOptimizationLevel ?? 'all',
      ONNX_MANAGER_THREADS: String(this.options.threads ?? ''),
    };
    delete env.MINIO_ACCESS_KEY_FILE;
    delete env.MINIO_SECRET_KEY_FILE;
    const child = spawn(process.execPath, [workerPath], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
      child.once('error', (err) => resolve(err.message));
    });
    return { stdin: child.stdin!, stdout: child.stdout!, exited, kill: () => child.kill('SIGKILL') };
  }
}

export const localModule: BackendModule = {
  create: async (_args, ctx) => {
    const o: LocalBackendOptions = { store: ctx.storeAccess, provider: ctx.provider, graphOptimizationLevel: ctx.graphOptimizationLevel };
    if (ctx.threads) o.threads = ctx.threads;
    return new LocalBackend(o);
  },
};
