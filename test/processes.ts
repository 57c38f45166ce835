/**
 * Processes as the tests see them through /proc: the cloud workers a process started, every
 * command line, and whether a process is still running (or ends, or a condition holds, in time).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of the processes for which `match(pid, ppid, command line)` holds, read from /proc. */
function pidsWhere(match: (pid: number, ppid: number, cmd: string) => boolean): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (match(Number(name), ppid, readFileSync(`/proc/${name}/cmdline`, 'utf8'))) pids.push(Number(name));
    } catch {
      // It ended meanwhile.
    }
  }
  return pids;
}

/** Pids of the cloud worker processes whose parent is `parent`, read from /proc. */
export function workersOf(parent: number): number[] {
  return pidsWhere((_pid, ppid, cmd) => ppid === parent && cmd.includes('cloud/worker.js'));
}

/** Pids of the running (not zombie) processes whose parent is `parent` (a command's worker, or anything else it started), read from /proc. */
export function childrenOf(parent: number): number[] {
  return pidsWhere((pid, ppid) => ppid === parent && running(pid));
}

/** Whether a process is still there and not a zombie. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Running (not zombie) onnx-cloud processes whose command line holds `marker` (e.g. the run's bucket), read from /proc. */
export function workerProcesses(marker: string): number[] {
  return pidsWhere((pid, _ppid, cmd) => cmd.includes('onnx-cloud.js') && cmd.includes(marker) && running(pid));
}

/** Every process's command line (arguments joined by NUL), read from /proc. */
export function commandLines(): string[] {
  const lines: string[] = [];
  pidsWhere((_pid, _ppid, cmd) => (lines.push(cmd), false));
  return lines;
}

/** Whether `ok()` holds within `ms`, polled every 10 ms. */
export async function until(ok: () => boolean, ms: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 10))) if (ok()) return true;
  return ok();
}

/** Whether the process is gone (or a zombie) within `ms`, polled every 10 ms. */
export function endsWithin(pid: number, ms: number): Promise<boolean> {
  return until(() => !running(pid), ms);
}
