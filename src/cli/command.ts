/**
 * A command of onnx-manager: its name, one line for the operation list, an example, the options
 * it takes (a builder composed from option-groups.ts) and a handler that lazy-imports the
 * implementation. Parsing never runs the handler: main.ts parses, then runs it, so argument
 * parsing is tested with the handler replaced.
 */
import type { Argv } from 'yargs';

export type Out = (s: string) => void;

export interface CliIO {
  out: Out;
  err: Out;
  isTTY?: boolean;
  /**
   * Aborts (reason: an InterruptedError) on Ctrl-C or SIGTERM, for a command that takes
   * interrupts (CommandDef.interruptible): it stops what it started, writes nothing and throws.
   */
  signal?: AbortSignal;
}

export interface CommandDef<T = Record<string, unknown>> {
  name: string;
  describe: string;
  /** The arguments after `onnx-manager`, e.g. `list_layers --onnx_file model.onnx`. */
  example: string;
  builder: (y: Argv) => Argv<T>;
  /** Checks that need the flags as given (not defaulted), before anything starts. */
  validate?: (args: T, given: ReadonlySet<string>) => void;
  /**
   * Takes Ctrl-C and SIGTERM through io.signal (main.ts listens for them while it runs): an
   * operation that starts processes, crosses the link or writes files. An error thrown once the
   * signal aborted is reported as the interrupt (one line, exit 130).
   */
  interruptible?: boolean;
  /** Resolves to the exit code (undefined: 0). */
  run: (args: T, io: CliIO) => Promise<number | void>;
}

/** Keeps the builder's argument type for the handler. */
export function defineCommand<T>(def: CommandDef<T>): CommandDef<T> {
  return def;
}
