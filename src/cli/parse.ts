/**
 * Argument parsing inside the error boundary, for every command of the project (onnx-manager,
 * onnx-edge, onnx-cloud, the OSCAR helper): yargs' messages become one line naming the flag,
 * the value given and what was expected; help and version text go to the command's output;
 * errors thrown by the command become one line and an exit code (failure.ts).
 */
import { givenValue } from '../config/checks.js';
import yargs, { type Argv } from 'yargs';
import type { CliIO } from './command.js';
import { reportFailure } from './failure.js';
import { defaultIO, givenFlags } from './flags.js';
import { closestNames, levenshtein } from '../closest-names.js';

// Kept apart so that a tool can read its flags without loading yargs (onnx-cloud's jobs).
export { defaultIO, givenFlags } from './flags.js';

function flagList(names: string): string[] {
  return names
    .split(', ')
    .map((n) => n.trim())
    .filter((n) => n);
}

/** What a parse was for: the tool, the operation (if any) and how to get its help. */
export interface ParseSubject {
  tool: string;
  operation?: string;
  /** The flags the operation takes (without dashes), for "did you mean" on a misspelt one. */
  knownFlags?: () => readonly string[];
}

/** The known flag a misspelt one most likely means: within a few edits, else none. */
function meant(flag: string, known: readonly string[]): string | undefined {
  const [best] = closestNames(flag, known, 1);
  const d = best === undefined ? 0 : levenshtein(flag.toLowerCase(), best.toLowerCase());
  return d > 0 && d <= Math.max(1, Math.floor(flag.length / 3)) ? best : undefined;
}

/** Operations that make the parts they run from --onnx_file (the Python tool's run read them from --onnx_path). */
const MAKE_PARTS = new Set(['run', 'run_all', 'profile', 'predict', 'check']);

/** Flags of the Python tool an operation here does without, and what to do instead. */
function pythonInstead(flag: string, operation: string | undefined): string | undefined {
  if (flag !== 'onnx_path') return undefined;
  return operation !== undefined && MAKE_PARTS.has(operation)
    ? 'the parts are made from --onnx_file as they are needed; drop --onnx_path; split_model writes them to a folder'
    : 'it reads the model given by --onnx_file; --onnx_path is the output folder of split_model and the other operations that write parts';
}

function didYouMean(flag: string, s: ParseSubject): string {
  const instead = pythonInstead(flag, s.operation);
  if (instead) return ` (${instead})`;
  const k = s.knownFlags && meant(flag, s.knownFlags());
  return k ? ` (did you mean --${k}?)` : '';
}

function helpHint(s: ParseSubject): string {
  return `see ${s.tool}${s.operation ? ` ${s.operation}` : ''} --help`;
}

/** One line for a message of yargs (English locale). */
export function parserMessage(msg: string, s: ParseSubject, argv: readonly string[]): string {
  const subject = s.operation ?? s.tool;
  const given = givenFlags(argv);
  let m = /^Unknown arguments?: (.*)$/m.exec(msg);
  if (m) {
    const names = flagList(m[1]!);
    const flags = names.filter((n) => given.has(n)).map((n) => `--${n}`);
    const words = names.filter((n) => !given.has(n)).map((n) => `'${n}'`);
    const parts: string[] = [];
    const named = flags.map((f) => `${f}${didYouMean(f.slice(2), s)}`);
    if (flags.length) parts.push(s.operation ? `${subject} does not take ${named.join(', ')}` : `unknown flag ${named.join(', ')}`);
    if (words.length) parts.push(`unexpected argument${words.length > 1 ? 's' : ''} ${words.join(', ')}`);
    return `${parts.join('; ')} (${helpHint(s)})`;
  }
  if (/^Invalid values?:/.test(msg)) {
    const bad = [...msg.matchAll(/Argument: (\S+), Given: (.*), Choices: (.*)$/gm)].map(
      ([, flag, value, choices]) => `--${flag} ${value} is not one of: ${choices!.replace(/"/g, '')}`,
    );
    if (bad.length) return bad.join('; ');
  }
  m = /^Missing required arguments?: (.*)$/m.exec(msg);
  if (m) {
    const flags = flagList(m[1]!).map((n) => `--${n}`).join(' and ');
    // yargs checks required flags before unknown ones: a misspelt required flag is named too.
    const known = new Set(s.knownFlags?.() ?? []);
    const unknown = known.size ? [...given].filter((g) => !known.has(g)) : [];
    const also = unknown.length ? `; ${s.operation ?? s.tool} does not take ${unknown.map((u) => `--${u}${didYouMean(u, s)}`).join(', ')}` : '';
    return s.operation ? `${s.operation} needs ${flags}${also}` : `missing ${flags}${also} (${helpHint(s)})`;
  }
  if (/^Not enough non-option arguments/.test(msg)) return `missing arguments (${helpHint(s)})`;
  m = /^(?:Not enough arguments following|Missing argument values?): (.*)$/m.exec(msg);
  if (m) return `${flagList(m[1]!).map((n) => `--${n}`).join(', ')} needs a value`;
  m = /^Arguments (\S+) and (\S+) are mutually exclusive$/m.exec(msg);
  if (m) return `give only one of --${m[1]} and --${m[2]}`;
  return msg.split('\n').map((l) => l.trim()).filter((l) => l).join('; ');
}

/** A yargs parser set up the project's way: strict, English, no process exit, --verbose. */
export function baseParser(tool: string, argv: readonly string[]): Argv<{ verbose: boolean }> {
  return yargs([...argv])
    .scriptName(tool)
    .locale('en')
    .option('verbose', { type: 'boolean', default: false, describe: 'Show stack traces and causes on errors' })
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(false);
}

/** The words given after `--flag` (or in `--flag=word`) up to the next flag. */
function wordsAfter(flag: string, argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith(`--${flag}=`)) words.push(a.slice(flag.length + 3));
    else if (a === `--${flag}`) for (let j = i + 1; j < argv.length && !argv[j]!.startsWith('--'); j++) words.push(argv[j]!);
  }
  return words;
}

/** Whether the words after a flag hold no value at all. */
const noValue = (words: readonly string[]): boolean => words.every((w) => w.trim() === '');

/** The first word that is not a number, quoted, or undefined. */
function quotedNonNumber(words: readonly string[]): string | undefined {
  const word = words.find((w) => !Number.isFinite(Number(w)));
  return word === undefined ? undefined : `'${word}'`;
}

/**
 * A check's message about a flag, made exact with what was typed: a flag with no value said to
 * need one, and a word that is not a number quoted (the checks see only yargs' NaN).
 */
function withWordsGiven(msg: string, argv: readonly string[]): string {
  const m = /^--(\w+) must be .*, got (.*)$/.exec(msg);
  if (!m) return msg;
  const words = wordsAfter(m[1]!, argv);
  if (words.length > 0 && noValue(words)) return `--${m[1]} needs a value`;
  const word = m[2] === givenValue(NaN) ? quotedNonNumber(words) : undefined;
  return word === undefined ? msg : `${msg.slice(0, msg.length - m[2]!.length)}${word}`;
}

/**
 * A flag given without its value (yargs then uses the flag's default, or leaves a string empty,
 * as if nothing was given), or a word where a number was wanted (yargs turns it into NaN, which
 * loses the word): said with what the user typed.
 */
function valueProblem(a: Record<string, unknown>, argv: readonly string[]): string | undefined {
  for (const f of givenFlags(argv)) {
    if (!(f in a) || typeof a[f] === 'boolean') continue;
    const words = wordsAfter(f, argv);
    if (noValue(words)) return `--${f} needs a value`;
    const v = a[f];
    if ((Array.isArray(v) ? v : [v]).some((x) => typeof x === 'number' && Number.isNaN(x))) {
      return `--${f} must be a number, got ${quotedNonNumber(words) ?? givenValue(NaN)}`;
    }
  }
  return undefined;
}

export type Parsed<T> = { args: T } | { code: number };

/**
 * Parses without running anything. Help and version are written to io.out (code 0); a parser
 * error is one line on io.err (code 2).
 */
export async function parseArgs<T>(parser: Argv<T>, subject: ParseSubject, argv: readonly string[], io: CliIO): Promise<Parsed<T>> {
  let failure: string | undefined;
  let output = '';
  let args: T | undefined;
  try {
    args = (await parser
      .fail((msg, err) => {
        failure ??= msg || err?.message || 'bad arguments';
      })
      .parseAsync([...argv], {}, (_err: unknown, _argv: unknown, out: string) => {
        output = out;
      })) as T;
  } catch (err) {
    failure ??= (err as Error).message;
  }
  if (failure !== undefined) {
    io.err(`${subject.tool}: ${withWordsGiven(parserMessage(failure, subject, argv), argv)}`);
    return { code: 2 };
  }
  const a = (args ?? {}) as Record<string, unknown>;
  if (a.help || a.version || output) {
    if (output) io.out(output);
    return { code: 0 };
  }
  const bad = valueProblem(a, argv);
  if (bad !== undefined) {
    io.err(`${subject.tool}: ${bad}`);
    return { code: 2 };
  }
  return { args: args as T };
}

export interface ToolDef<T> {
  tool: string;
  usage: string;
  builder: (y: Argv<{ verbose: boolean }>) => Argv<T>;
  run: (args: T, io: CliIO) => Promise<number | void>;
}

/** A single-command tool (onnx-edge, onnx-cloud, the OSCAR helper): parse, run, report. */
export async function runTool<T>(def: ToolDef<T>, argv: readonly string[], io: CliIO = defaultIO()): Promise<number> {
  const parsed = await parseArgs(def.builder(baseParser(def.tool, argv).usage(def.usage)), { tool: def.tool }, argv, io);
  if ('code' in parsed) return parsed.code;
  try {
    return (await def.run(parsed.args, io)) ?? 0;
  } catch (err) {
    return reportFailure(def.tool, err, (parsed.args as { verbose?: boolean }).verbose === true, io.err);
  }
}
