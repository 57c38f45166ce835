/**
 * The local backend: a cloud worker process on this machine, started and stopped by
 * onnx-manager, triggered for each payload by a message naming the object (as OSCAR's MinIO
 * webhook names it), keeping sessions warm by part hash. No process per split or repetition.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cloudConfigArgs, type CloudConfig } from '../config/cloud-config.js';
import type { BackendModule, StoreAccess } from './backend.js';
import { WorkerBackend, type WorkerStreams } from './worker-client.js';

export { BackendError } from './worker-client.js';

export interface LocalBackendOptions {
  /** Store endpoint and keys for the worker, passed in its environment (never on a command line). */
  store: StoreAccess;
  /** The run's cloud configuration, the worker's --cloud_config (default: CPU, every optimisation, the store's bucket). */
  cloud?: CloudConfig;
}

const workerPath = fileURLToPath(new URL('../../cloud/worker.js', import.meta.url));

export class LocalBackend extends WorkerBackend {
  readonly name = 'local';
  protected readonly label = 'the local cloud worker';

  private readonly cloud: CloudConfig;

  constructor(private readonly options: LocalBackendOptions) {
    const cloud = options.cloud ?? { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: options.store.bucket };
    super(cloud);
    this.cloud = cloud;
  }

  protected async spawnWorker(): Promise<WorkerStreams> {
    const { store } = this.options;
    const cloud = this.cloud;
    const env: NodeJS.ProcessEnv = { ...process.env, MINIO_ENDPOINT: store.endpoint, MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey };
    delete env.MINIO_ACCESS_KEY_FILE;
    delete env.MINIO_SECRET_KEY_FILE;
    // In a process group of its own: a terminal's Ctrl-C reaches onnx-manager only, which stops the
    // worker itself (it would otherwise die of it while it loads, and be taken for a crashed worker).
    // It still ends with onnx-manager, however that ends: its input closes.
    const child = spawn(process.execPath, [workerPath, ...cloudConfigArgs(cloud)], { env, stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
      child.once('error', (err) => resolve(err.message));
    });
    return { stdin: child.stdin!, stdout: child.stdout!, exited, kill: () => child.kill('SIGKILL') };
  }
}

export const localModule: BackendModule = {
  create: async (ctx) => {
    const backend = new LocalBackend({ store: ctx.storeAccess, cloud: ctx.cloud });
    backend.deadlineMs = ctx.config.timeoutMs;
    return backend;
  },
};
