/**
 * Processes as the tests see them through /proc: the cloud workers a process started, and whether
 * a process is still running.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of the cloud worker processes whose parent is `parent`, read from /proc. */
export function workersOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('cloud/worker.js')) pids.push(Number(name));
    } catch {
      // It ended meanwhile.
    }
  }
  return pids;
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
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes('onnx-cloud.js') && cmd.includes(marker) && running(Number(name))) pids.push(Number(name));
    } catch {
      // It ended meanwhile.
    }
  }
  return pids;
}
