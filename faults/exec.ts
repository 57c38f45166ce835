/**
 * How the corpora run a command: its main() in this process (fast, what the bulk of the corpus
 * uses), or the real executable spawned as a user runs it (a seeded sample), under a deadline.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cloudMain } from '../cloud/onnx-cloud.js';
import { main } from '../src/cli/main.js';

export interface Captured {
  code: number;
  out: string[];
  err: string[];
  /** Set when the spawned command was killed at its deadline. */
  hung?: boolean;
}

export type Tool = 'onnx-manager' | 'onnx-cloud';
export type Exec = (tool: Tool, args: string[]) => Promise<Captured>;

/** Runs an in-process main with its writes captured. */
async function captured(run: (io: { out: (s: string) => void; err: (s: string) => void; isTTY: boolean }) => Promise<number>): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  let code: number;
  try {
    code = await run({ out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false });
  } catch (e) {
    // main() itself threw: its error boundary let something through.
    err.push(`unexpected error escaped the command: ${(e as Error)?.stack ?? String(e)}`);
    code = 99;
  }
  return { code, out, err };
}

export const inProcess: Exec = (tool, args) => captured((io) => (tool === 'onnx-manager' ? main(args, io) : cloudMain(args, {}, io)));

const BINS: Record<Tool, string> = {
  'onnx-manager': fileURLToPath(new URL('../src/cli/bin.js', import.meta.url)),
  'onnx-cloud': fileURLToPath(new URL('../cloud/onnx-cloud.js', import.meta.url)),
};

/** The real executable in a process of its own (no store in its environment), killed at `deadlineMs`. */
export function spawned(deadlineMs: number): Exec {
  return (tool, args) =>
    new Promise((resolve) => {
      const env = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith('MINIO_')) delete env[k];
      const child = spawn(process.execPath, [BINS[tool], ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, deadlineMs);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const lines = err.split('\n').filter((l) => l.trim());
        resolve({ code: code ?? (signal ? 128 : 1), out: [out], err: signal && !hung ? [...lines, `killed by ${signal}`] : lines, ...(hung ? { hung } : {}) });
      });
    });
}
