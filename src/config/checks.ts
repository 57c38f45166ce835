/**
 * Checks of settings, with messages that name the flag as the command line spells it; used by the
 * option declarations and by the library's builders alike.
 */
import { UsageError } from '../errors.js';

/** What was given, for a message: NaN (a word where a number was wanted) said as such. */
export function givenValue(v: unknown): string {
  return typeof v === 'number' && Number.isNaN(v) ? 'a value that is not a number' : String(v);
}

/** `v` as an integer of at least `min`, or a UsageError naming the flag and what was given. */
export function integerAtLeast(v: unknown, flag: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new UsageError(`--${flag} must be an integer >= ${min}, got ${givenValue(v)}`);
  }
  return v;
}
