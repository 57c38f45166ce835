/**
 * onnx-manager's main() run in this process as a user would run the command, with what it writes
 * captured.
 */
import assert from 'node:assert/strict';
import type { CommandDef } from '../src/cli/command.js';
import { main, type CliIO } from '../src/cli/main.js';

export interface CliRun {
  code: number;
  /** Everything written to out, one write a line. */
  out: string;
  /** Everything written to err, one write a line. */
  err: string;
  /** The writes to err, in order (one message each). */
  errLines: string[];
}

export interface CliOptions {
  /**
   * Environment variables for the run: a string sets one, undefined removes it. Every variable
   * named is restored when main() returns.
   */
  env?: Record<string, string | undefined>;
  /** Also called with each write (as well as capturing it), and whether err is a terminal (default false). */
  io?: Partial<CliIO>;
  /** The commands main() chooses from (default: the real ones), e.g. with their handlers replaced. */
  commands?: readonly CommandDef<never>[];
}

export async function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (s) => {
      out.push(s);
      options.io?.out?.(s);
    },
    err: (s) => {
      err.push(s);
      options.io?.err?.(s);
    },
    isTTY: options.io?.isTTY ?? false,
  };
  const env = options.env ?? {};
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(env);
  try {
    const code = await main(args, io, options.commands);
    return { code, out: out.join('\n'), err: err.join('\n'), errLines: err };
  } finally {
    apply(saved);
  }
}

/** Runs each command line, which must fail with one error line (no line break) matching its pattern. */
export async function expectOneLineFailures(cases: readonly (readonly [string[], RegExp])[]): Promise<void> {
  for (const [args, expected] of cases) {
    const r = await cli(args);
    assert.notEqual(r.code, 0, `${args.join(' ')} fails`);
    assert.equal(r.errLines.length, 1, r.err);
    assert.ok(!r.errLines[0]!.includes('\n'), r.err);
    assert.match(r.errLines[0]!, expected);
  }
}
