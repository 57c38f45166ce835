/**
 * Peak resident memory of this process, per phase.
 *
 * On Linux the high-water mark is VmHWM from /proc/self/status, not `process.resourceUsage().maxRSS`:
 * getrusage's ru_maxrss also counts the RSS the process had between fork and exec, i.e. the
 * parent's (libuv forks), so a child of a big parent would report the parent's size. Writing "5"
 * to /proc/self/clear_refs resets VmHWM to the current RSS, so the peak of each phase can be read
 * on its own; the peak of the whole run is the largest of the phase peaks. Elsewhere maxRSS is
 * used and every phase reports the peak since the process started.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface PhaseMemory {
  /** RSS when the phase started (kB). */
  startKb: number;
  /** Highest RSS during the phase (kB). */
  peakKb: number;
}

let resettable: boolean | undefined;

/** Resets the high-water mark to the current RSS; false where that is not possible. */
export function resetPeak(): boolean {
  if (resettable === false) return false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    resettable = true;
  } catch {
    resettable = false;
  }
  return resettable;
}

export function peakResettable(): boolean {
  return resettable ?? resetPeak();
}

export function currentRssKb(): number {
  return Math.round(process.memoryUsage().rss / 1024);
}

/** The process's peak RSS (kB) since it started or since the last resetPeak(). */
export function maxRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

/** Runs `fn` as one phase and returns its result with the phase's memory. */
export async function phase<T>(fn: () => Promise<T> | T): Promise<{ value: T; memory: PhaseMemory }> {
  resetPeak();
  const startKb = currentRssKb();
  const value = await fn();
  return { value, memory: { startKb, peakKb: maxRssKb() } };
}
