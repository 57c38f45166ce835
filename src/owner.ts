/**
 * Which host and process own a file or folder this tool made (an embedded store's folder, a
 * results file's lock), so that one left by a process that is gone (killed with SIGKILL) can be
 * told from one in use.
 */
import { hostname } from 'node:os';

/** `<host> <pid>\n` of this process. */
export const ownerText = (): string => `${hostname()} ${process.pid}\n`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The host and pid an owner text names (undefined when it names none). */
export function ownerOf(text: string): { host: string; pid: number } | undefined {
  const [host, pidText] = text.trim().split(' ');
  const pid = Number(pidText);
  return host && Number.isInteger(pid) && pid > 0 ? { host, pid } : undefined;
}

/** Whether the owner text names a process of this host that no longer runs. */
export function ownerGone(text: string): boolean {
  const owner = ownerOf(text);
  return owner !== undefined && owner.host === hostname() && !alive(owner.pid);
}
