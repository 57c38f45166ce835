/**
 * The project's S3 server in a process of its own (not a test file), so that a test can stop it
 * (SIGSTOP) as a hung or paused server: its port still accepts connections, nothing answers.
 * Prints one JSON line {"endpoint", "port"} once it listens.
 *
 *   node s3-process.js <dir> <accessKey> <secretKey> [port]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { startS3Server } from '../../src/storage/s3-server/server.js';

export interface S3Process {
  child: ChildProcess;
  endpoint: string;
  port: number;
  /** Kills the process whatever its state (stopped included). */
  stop(): Promise<void>;
}

/** Starts the server in a child process and resolves once it listens. */
export async function startS3Process(dir: string, keys: { accessKey: string; secretKey: string }, port?: number): Promise<S3Process> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), dir, keys.accessKey, keys.secretKey, ...(port ? [String(port)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the S3 server process ended (${code})`)));
  });
  const { endpoint, port: listening } = JSON.parse(first) as { endpoint: string; port: number };
  return {
    child,
    endpoint,
    port: listening,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, accessKey, secretKey, port] = process.argv.slice(2);
  const server = await startS3Server({ dir: dir!, accessKey: accessKey!, secretKey: secretKey!, ...(port ? { port: Number(port) } : {}) });
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, port: server.port })}\n`);
}
