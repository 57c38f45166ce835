/**
 * What happened to one bad input in one operation, and whether it was handled: refused with one
 * line naming the problem (or accepted with outputs that check out), or mishandled.
 */

export type Mishandling = 'crash' | 'stack trace' | 'hang' | 'exit 0 with nonsense' | 'partial output' | 'unclear error';

export interface Finding {
  /** The corpus and the item: `models #123`. */
  input: string;
  /** What was done to it. */
  what: string;
  operation: string;
  kind: Mishandling;
  detail: string;
}

export interface ItemResult {
  /** Operations run on the item. */
  operations: number;
  refused: number;
  accepted: number;
  findings: Finding[];
}

/** A stack trace or an exception dump in text meant for a user. */
const TRACE = /^\s+at .+[(:]\d+|\n\s+at |node:internal|Error: .*\n\s/m;

/**
 * Judges an operation's exit code and stderr lines: a failure must be one line, not the
 * catch-all "unexpected error" (a crash), without a stack trace. Returns the mishandling or
 * undefined when the exit code is 0 (checked by the caller) or the refusal is clean.
 */
export function judgeFailure(run: { code: number; err: readonly string[]; hung?: boolean }): { kind: Mishandling; detail: string } | undefined {
  const { code } = run;
  const text = run.err.join('\n');
  if (run.hung) return { kind: 'hang', detail: 'killed at its deadline' };
  if (TRACE.test(text)) return { kind: 'stack trace', detail: firstLines(text) };
  if (code === 0) return undefined;
  if (/unexpected error/.test(text)) return { kind: 'crash', detail: firstLines(text) };
  const lines = text.split('\n').filter((l) => l.trim());
  if (lines.length !== 1) return { kind: 'unclear error', detail: lines.length === 0 ? `exit ${code} and nothing on stderr` : firstLines(text) };
  return undefined;
}

export function firstLines(text: string, n = 3): string {
  return text.split('\n').slice(0, n).join(' | ').slice(0, 400);
}

/** An empty tally for one item. */
export function itemResult(): ItemResult {
  return { operations: 0, refused: 0, accepted: 0, findings: [] };
}
