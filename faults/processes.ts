/** Processes on this machine (Linux /proc): the children of a process, and whether one is alive. */
import { readdirSync, readFileSync } from 'node:fs';

/** [pid, ppid, command line] of every process. */
function all(): { pid: number; ppid: number; cmd: string }[] {
  const out: { pid: number; ppid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      out.push({ pid: Number(d), ppid, cmd });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Direct children of `pid` whose command line contains `marker`. */
export function childrenOf(pid: number, marker: string): number[] {
  return all()
    .filter((p) => p.ppid === pid && p.cmd.includes(marker))
    .map((p) => p.pid);
}

/** Processes whose command line contains `marker` (e.g. a run's own work folder). */
export function processesWith(marker: string): number[] {
  return all()
    .filter((p) => p.cmd.includes(marker) && p.pid !== process.pid)
    .map((p) => p.pid);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
