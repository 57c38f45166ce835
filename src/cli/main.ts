/**
 * onnx-manager: the command line. Each operation is a command module under commands/ whose
 * handler imports its implementation only when it runs. Both spellings work:
 * `onnx-manager run_all --onnx_file m.onnx` and the original tool's
 * `onnx-manager --operation run_all --onnx_file m.onnx`. One error boundary turns every error
 * into one line and a non-zero exit.
 */
import type { CommandDef, CliIO } from './command.js';
import { COMMANDS } from './commands/index.js';
import { errorText, INPUT_EXIT, reportFailure } from './failure.js';
import { endingOnInterrupt, INTERRUPTED_EXIT, interruptedAgainLine, interruptedLine, whileInterruptible } from './interrupt.js';
import { baseParser, defaultIO, givenFlags, parseArgs } from './parse.js';
import { modelFromFolder, pythonBooleans } from './flags.js';

export type { CliIO } from './command.js';
export { defaultIO } from './parse.js';

const TOOL = 'onnx-manager';
const ROOT_FLAGS = new Set(['--verbose', '--no-verbose', '--help', '-h', '--version']);

type Resolved = { argv: string[]; operation?: string } | { error: string };

/**
 * Puts the operation first: `--operation X` (or `--operation=X`) anywhere becomes the command X.
 * An unknown operation is refused with the list.
 */
export function resolveOperation(argv: readonly string[], names: readonly string[]): Resolved {
  const rest: string[] = [];
  let fromFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--operation' || a.startsWith('--operation=')) {
      const v = a === '--operation' ? argv[++i] : a.slice('--operation='.length);
      if (v === undefined || v === '' || v.startsWith('-')) return { error: `--operation needs a value (one of: ${names.join(', ')})` };
      if (fromFlag !== undefined && fromFlag !== v) return { error: `--operation given twice (${fromFlag}, ${v})` };
      fromFlag = v;
    } else {
      rest.push(a);
    }
  }
  let operation = fromFlag;
  if (operation === undefined) {
    // The operation is the first word, after root flags only (--verbose, --help, --version);
    // a word after other flags may be a value, so there only an operation's name counts.
    const first = rest.find((a) => !ROOT_FLAGS.has(a));
    if (first !== undefined && !first.startsWith('-')) operation = first;
    else operation = rest.find((a) => names.includes(a));
    if (operation === undefined) return { argv: rest };
    rest.splice(rest.indexOf(operation), 1);
  }
  if (!names.includes(operation)) return { error: `unknown operation '${operation}' (one of: ${names.join(', ')})` };
  rest.unshift(operation);
  return { argv: rest, operation };
}

function epilog(commands: readonly CommandDef<never>[]): string {
  return `Examples:\n${commands.map((c) => `  ${TOOL} ${c.example}`).join('\n')}\n\nThe original spelling works too: ${TOOL} --operation <op> [options].`;
}

type ParserOptions = { key: Record<string, unknown>; alias: Record<string, string[]>; boolean: string[]; array: string[] };

/** The options yargs holds for an operation (undefined for an unknown one). */
function optionsOf(commands: readonly CommandDef<never>[], operation: string): ParserOptions | undefined {
  const c = (commands as unknown as readonly CommandDef<Record<string, unknown>>[]).find((d) => d.name === operation);
  return c ? (c.builder(baseParser(TOOL, [])) as unknown as { getOptions(): ParserOptions }).getOptions() : undefined;
}

/** The boolean flags of an operation (for --flag=True / --flag False, as the Python tool writes them). */
function booleanFlagsOf(commands: readonly CommandDef<never>[], operation: string): Set<string> {
  return new Set(optionsOf(commands, operation)?.boolean ?? []);
}

/** Every flag an operation takes, aliases included (for "did you mean" on a misspelt one). */
function flagsOf(commands: readonly CommandDef<never>[], operation: string): string[] {
  const o = optionsOf(commands, operation);
  if (!o) return [];
  return [...new Set([...Object.keys(o.key), ...Object.values(o.alias).flat(), 'operation'])].filter((k) => k.length > 1);
}

/**
 * A flag that takes one value given more than once (`--rep 2 --rep 3`), which yargs would turn
 * into a list that every check then misreads ('got 2,3', or an unexpected error on a path): the
 * message naming it and what was given, or undefined.
 */
function repeatedFlag(argv: readonly string[], o: ParserOptions | undefined): string | undefined {
  if (!o) return undefined;
  const keyOf = new Map<string, string>();
  for (const k of Object.keys(o.key)) keyOf.set(k, k);
  for (const [k, aliases] of Object.entries(o.alias)) for (const a of [aliases].flat()) keyOf.set(a, k);
  const lists = new Set(o.array);
  const given = new Map<string, string[]>();
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const m = /^--(?:no-)?([^=]+)(?:=(.*))?$/.exec(argv[i]!);
    const key = m && keyOf.get(m[1]!);
    if (!key || lists.has(key) || key === 'operation') continue;
    const value = m[2] ?? (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') ? argv[i + 1]! : argv[i]!.startsWith('--no-') ? 'false' : 'true');
    given.set(key, [...(given.get(key) ?? []), value]);
  }
  const [key, values] = [...given].find(([, v]) => v.length > 1) ?? [];
  return key ? `--${key} is given ${values!.length} times (${values!.join(', ')}); give it once` : undefined;
}

/**
 * Parses the arguments and runs the operation. `commands` may be replaced (tests of the parser
 * swap the handlers).
 */
export async function main(argv: string[], io: CliIO = defaultIO(), commands: readonly CommandDef<never>[] = COMMANDS): Promise<number> {
  const names = commands.map((c) => c.name);
  const resolved = resolveOperation(argv, names);
  if ('error' in resolved) {
    io.err(`${TOOL}: ${resolved.error}`);
    return INPUT_EXIT;
  }
  if (resolved.operation) resolved.argv = pythonBooleans(resolved.argv, booleanFlagsOf(commands, resolved.operation));
  if (resolved.operation === 'run' || resolved.operation === 'run_all') {
    const found = modelFromFolder(resolved.argv);
    if ('error' in found) {
      io.err(`${TOOL}: ${found.error}`);
      return INPUT_EXIT;
    }
    resolved.argv = found.argv;
    if (found.note) io.out(`note: ${found.note}`);
  }
  const repeated = resolved.operation ? repeatedFlag(resolved.argv, optionsOf(commands, resolved.operation)) : undefined;
  if (repeated) {
    io.err(`${TOOL}: ${repeated}`);
    return INPUT_EXIT;
  }
  const missing = (): number => {
    io.err(`${TOOL}: missing operation (one of: ${names.join(', ')}; see ${TOOL} --help)`);
    return INPUT_EXIT;
  };
  const asksHelp = resolved.argv.some((a) => a === '--help' || a === '-h' || a === '--version');
  if (resolved.operation === undefined && !asksHelp) return missing();
  let chosen: { def: CommandDef<Record<string, unknown>>; args: Record<string, unknown> } | undefined;
  let parser = baseParser(TOOL, resolved.argv).usage(
    `Usage: ${TOOL} <operation> [options]   (or: ${TOOL} --operation <operation> [options])\n\n` +
      'Split ONNX models between an edge device and a cloud, and find the best cut.',
  );
  const defs = commands as unknown as readonly CommandDef<Record<string, unknown>>[];
  const known = asksHelp ? undefined : defs.find((c) => c.name === resolved.operation);
  // An operation named without --help is the parser's default command, given the flags alone: yargs
  // parses and checks them as the operation's, without formatting and keeping the whole help text
  // after the run as it does for a named command (about 50 ms of every start). With --help, or
  // without an operation, every operation is a command of its own, for their help.
  for (const c of known ? [known] : defs) {
    parser = parser.command(
      known ? '$0' : c.name,
      c.describe,
      (y) => c.builder(y),
      (args) => {
        chosen = { def: c, args: args as Record<string, unknown> };
      },
    );
  }
  const parsed = await parseArgs(
    parser.epilog(epilog(commands)),
    resolved.operation ? { tool: TOOL, operation: resolved.operation, knownFlags: () => flagsOf(commands, resolved.operation!) } : { tool: TOOL },
    known ? resolved.argv.slice(1) : resolved.argv,
    io,
  );
  if ('code' in parsed) return parsed.code;
  const verbose = parsed.args.verbose === true;
  if (!chosen) return missing();
  const { def, args } = chosen;
  const interrupted = () => io.err(interruptedLine(def.name));
  const run = async (signal?: AbortSignal): Promise<number> => {
    try {
      def.validate?.(args, givenFlags(resolved.argv));
      const code = await def.run(args, signal ? { ...io, signal } : io);
      if (io.isTTY) io.err('\r\u001b[K');
      return code ?? 0;
    } catch (err) {
      if (io.isTTY) io.err('\r\u001b[K');
      // Whatever the interrupted operation threw while it stopped, the interrupt is what happened.
      if (signal?.aborted) {
        if (verbose) io.err(`${TOOL}: ${errorText(err, true)}`);
        interrupted();
        return INTERRUPTED_EXIT;
      }
      return reportFailure(TOOL, err, verbose, io.err);
    }
  };
  return def.interruptible ? whileInterruptible(run, () => io.err(interruptedAgainLine(def.name))) : endingOnInterrupt(interrupted, run);
}
