/**
 * Peak resident memory of this process, per phase.
 *
 * `process.resourceUsage().maxRSS` (kB) is the process's high-water mark. On Linux, writing "5"
 * to /proc/self/clear_refs resets that mark to the current RSS, so the peak of each phase can be
 * read on its own; the peak of the whole run is the largest of the phase peaks. Where the reset
 * is not available, every phase reports the peak since the process started.
 */
import { writeFileSync } from 'node:fs';

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

export function maxRssKb(): number {
  return process.resourceUsage().maxRSS;
}

/** Runs `fn` as one phase and returns its result with the phase's memory. */
export async function phase<T>(fn: () => Promise<T> | T): Promise<{ value: T; memory: PhaseMemory }> {
  resetPeak();
  const startKb = currentRssKb();
  const value = await fn();
  return { value, memory: { startKb, peakKb: maxRssKb() } };
}
