/**
 * Ctrl-C and SIGTERM while an operation runs: the first aborts the signal the operation was given
 * (reason: an InterruptedError), and the operation stops what it started (the worker, the
 * embedded store, the link's proxy, an upload in progress), removes what it half-wrote and
 * returns or throws; a second one ends the process at once. Operations that take no signal end at
 * once, and what they half-wrote is removed on the way out. Exit code 130, as a shell gives a
 * command Ctrl-C ended.
 *
 * From the CLI's first moment (catchInterruptsFromLaunch, before its modules load) to its last,
 * one listener per signal hands each interrupt to the phase the command is in: while it loads and
 * parses its flags, the interrupt line of its operation and exit 130; while an operation runs,
 * that operation's handling; once the operation has returned, the exit with its code.
 */
import { InterruptedError } from '../errors.js';

export const INTERRUPTED_EXIT = 130;

const TOOL = 'onnx-manager';

/** Said when a sweep is interrupted before its first row: what was started is stopped, nothing was written. */
export const INTERRUPTED_AT_START = `${TOOL}: interrupted before the first row; nothing measured`;

/** The one line an operation interrupted before it wrote anything says (run_all: before its first row). */
export function interruptedLine(operation: string | undefined): string {
  if (operation === 'run_all') return INTERRUPTED_AT_START;
  return operation ? `${TOOL}: ${operation} interrupted; nothing written` : `${TOOL}: interrupted; nothing written`;
}

type Handler = (name: NodeJS.Signals) => void;

/** The handlers of the phases the command is in, the innermost last: it alone hears an interrupt. */
const phases: Handler[] = [];

function dispatch(name: NodeJS.Signals): void {
  phases.at(-1)?.(name);
}

/** Makes `h` the handler of Ctrl-C and SIGTERM until the returned function is called; node's own handling is back once no phase is left. */
function enter(h: Handler): () => void {
  if (phases.length === 0) {
    process.on('SIGINT', dispatch);
    process.on('SIGTERM', dispatch);
  }
  phases.push(h);
  return () => {
    const i = phases.lastIndexOf(h);
    if (i >= 0) phases.splice(i, 1);
    if (phases.length === 0) {
      process.off('SIGINT', dispatch);
      process.off('SIGTERM', dispatch);
    }
  };
}

/**
 * The operation `argv` names, as far as it can be told before the CLI's modules load: the value of
 * --operation, else the first word that is no flag. Only for the interrupt line.
 */
function launchOperation(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const a = argv[i]!;
    if (a === '--operation') return /^[a-z_]+$/.test(argv[i + 1] ?? '') ? argv[i + 1] : undefined;
    if (a.startsWith('--operation=')) return /^[a-z_]+$/.test(a.slice(12)) ? a.slice(12) : undefined;
  }
  const first = argv.find((a) => !a.startsWith('-'));
  return first !== undefined && /^[a-z_]+$/.test(first) ? first : undefined;
}

/**
 * Handles Ctrl-C and SIGTERM from the CLI's launch (`argv`: its arguments), before anything is
 * started: the interrupt line of the operation, exit 130. Once the operation has returned
 * (`finished`), an interrupt ends the process with the operation's exit code: everything is
 * written and stopped then, and nothing was interrupted.
 */
export function catchInterruptsFromLaunch(argv: readonly string[]): { finished: () => void } {
  let done = false;
  enter(() => {
    if (done) process.exit(process.exitCode ?? 0);
    process.stderr.write(`${interruptedLine(launchOperation(argv))}\n`);
    process.exit(INTERRUPTED_EXIT);
  });
  return { finished: () => (done = true) };
}

/**
 * Said when a second interrupt ends an operation at once, before it had stopped what it started:
 * a cloud worker ends with its input, and an embedded store's folder is removed by the next run.
 */
export function interruptedAgainLine(operation: string): string {
  return `${TOOL}: ${operation} interrupted again; stopped at once`;
}

/**
 * Runs `f` with Ctrl-C and SIGTERM turned into the abort of its signal; a second one ends the
 * process at once after `again` (its line). The handling from before is back once `f` settles.
 */
export async function whileInterruptible<T>(f: (signal: AbortSignal) => Promise<T>, again?: () => void): Promise<T> {
  const stop = new AbortController();
  const leave = enter((name) => {
    if (stop.signal.aborted) {
      again?.();
      process.exit(INTERRUPTED_EXIT);
    }
    stop.abort(new InterruptedError(`interrupted (${name})`));
  });
  try {
    return await f(stop.signal);
  } finally {
    leave();
  }
}

/**
 * Runs `f`, an operation that takes no abort signal (it starts nothing that must be stopped), with
 * Ctrl-C and SIGTERM ending the process at once after `say`: the 'exit' listener of the output
 * transactions removes what it half-wrote (../split/output.ts).
 */
export async function endingOnInterrupt<T>(say: () => void, f: () => Promise<T>): Promise<T> {
  const leave = enter(() => {
    say();
    process.exit(INTERRUPTED_EXIT);
  });
  try {
    return await f();
  } finally {
    leave();
  }
}
