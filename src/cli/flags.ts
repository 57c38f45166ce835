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

/**
 * Boolean flags written the Python tool's way, `--flag=True`, `--flag False` (any case), read as
 * `--flag` / `--no-flag`: yargs would read `=True` as false and `False` as a stray argument.
 * `booleans`: the flags of the operation that are booleans.
 */
export function pythonBooleans(argv: readonly string[], booleans: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const word = (v: string | undefined) => (v === undefined ? undefined : /^true$/i.test(v) ? true : /^false$/i.test(v) ? false : undefined);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+?)(?:=(.*))?$/.exec(a);
    const name = m?.[1];
    const value = m?.[2] !== undefined ? word(m[2]) : word(argv[i + 1]);
    if (name === undefined || !booleans.has(name) || value === undefined) {
      out.push(a);
      continue;
    }
    if (m?.[2] === undefined) i++;
    out.push(value ? `--${name}` : `--no-${name}`);
  }
  return out;
}

export function defaultIO(): CliIO {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
    isTTY: process.stderr.isTTY === true,
  };
}
