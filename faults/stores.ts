/** Stores the sweep faults run against, each one the suite can kill and start again. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export interface FaultStore {
  name: string;
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Kills the store's process(es) at once (SIGKILL). */
  kill(): Promise<void>;
  /** Starts it again on the same endpoint, over the same data. */
  start(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
}

const S3_PROCESS = fileURLToPath(new URL('./s3-process.js', import.meta.url));

/** Waits for a child's first stdout line. */
export function firstLine(child: ChildProcess, what: string, ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${ms / 1000} s`)), ms);
    lines.once('line', (l) => {
      clearTimeout(timer);
      lines.close();
      resolve(l.trim());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it started`));
    });
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** The project's embedded S3 server, in a process of its own. */
export async function embeddedStore(dir: string): Promise<FaultStore> {
  mkdirSync(dir, { recursive: true });
  const keys = { accessKey: 'faults-access', secretKey: 'faults-secret-key-0123456789' };
  let child: ChildProcess | undefined;
  let port = 0;
  const start = async () => {
    const c = spawn(process.execPath, [S3_PROCESS, dir, String(port)], { env: { ...process.env, S3_ACCESS_KEY: keys.accessKey, S3_SECRET_KEY: keys.secretKey }, stdio: ['ignore', 'pipe', 'inherit'] });
    child = c;
    const endpoint = await firstLine(c, 'the embedded S3 server');
    port = Number(new URL(endpoint).port);
    store.endpoint = endpoint;
  };
  const kill = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill('SIGKILL');
    await exited(c);
  };
  const store: FaultStore = { name: 'embedded S3', endpoint: '', ...keys, kill, start, stop: kill };
  await start();
  return store;
}
