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
}

export interface CommandDef<T = Record<string, unknown>> {
  name: string;
  describe: string;
  /** The arguments after `onnx-manager`, e.g. `list_layers --onnx_file model.onnx`. */
  example: string;
  builder: (y: Argv) => Argv<T>;
  /** Checks that need the flags as given (not defaulted), before anything starts. */
  validate?: (args: T, given: ReadonlySet<string>) => void;
  /** Resolves to the exit code (undefined: 0). */
  run: (args: T, io: CliIO) => Promise<number | void>;
}

/** Keeps the builder's argument type for the handler. */
export function defineCommand<T>(def: CommandDef<T>): CommandDef<T> {
  return def;
}
