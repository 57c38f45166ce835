/**
 * run_all as a user starts it, in a process of its own: what it says, and the cloud workers it
 * starts, recorded as they appear (the interrupt tests send it signals at chosen moments).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../models/zoo.js';
import { workersOf } from '../processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** run_all with `args`; `ownGroup`: in its own process group, as a terminal starts a command (its Ctrl-C reaches the whole group). */
export function startRunAll(args: string[], ownGroup = false) {
  const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
  const child = spawn(process.execPath, [bin, '--operation', 'run_all', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: ownGroup });
  const said = { out: '', err: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (said.out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (said.err += d));
  const workers = new Set<number>();
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    }),
  );
  const watched = (async () => {
    while (running) {
      for (const pid of workersOf(child.pid!)) workers.add(pid);
      await sleep(10);
    }
  })();
  return { child, said, workers, done: async () => (await Promise.all([exited, watched]))[0] };
}
