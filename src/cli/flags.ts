/**
 * What every tool needs of its command line without yargs: the flags written on it, and the
 * standard output and error streams (parse.ts re-exports both).
 */
import type { CliIO } from './command.js';

/** The flags written on the command line (`--name`, `--name=v`, `--no-name`), without defaults. */
export function givenFlags(argv: readonly string[]): Set<string> {
  const given = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(a);
    if (m) given.add(m[1]!);
  }
  return given;
}

export function defaultIO(): CliIO {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
    isTTY: process.stderr.isTTY === true,
  };
}
