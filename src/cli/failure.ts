/**
 * The error boundary of every command (onnx-manager, onnx-edge, onnx-cloud): one line naming the
 * problem, the stack and causes only with --verbose, and the exit code of exitCodeOf.
 */
import { FileError, GraphError, messageLine, OnnxFormatError, OnnxManagerError, SplitError, UsageError, WriteError } from '../errors.js';

/** Exit code of an input refused: an argument, or a file or model named by one. */
export const INPUT_EXIT = 2;
/** Exit code of an operation that failed while it ran (inference, the store, a worker, a write). */
export const FAILED_EXIT = 1;

/**
 * 2 when what the user gave cannot be used: an argument (UsageError), a file it names that is
 * missing or not what it should be (FileError, and ImageError under it), a model that is not ONNX or whose graph
 * cannot be processed (OnnxFormatError, GraphError), a split the model cannot make (SplitError).
 * 1 for everything that fails while running: onnxruntime, the store, the cloud side, timeouts,
 * writing the outputs (WriteError).
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof WriteError) return FAILED_EXIT;
  const input = [UsageError, FileError, OnnxFormatError, GraphError, SplitError].some((c) => err instanceof c);
  return input ? INPUT_EXIT : FAILED_EXIT;
}

export function errorText(err: unknown, verbose: boolean): string {
  if (!verbose) return messageLine(err);
  const lines: string[] = [];
  for (let e: unknown = err; e !== undefined; e = (e as { cause?: unknown }).cause) {
    lines.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    if (!(e instanceof Error)) break;
  }
  return lines.join('\ncaused by: ');
}

/** Writes the error as `tool: message` and returns the exit code. */
export function reportFailure(tool: string, err: unknown, verbose: boolean, write: (line: string) => void): number {
  const prefix = err instanceof OnnxManagerError ? '' : 'unexpected error: ';
  write(`${tool}: ${prefix}${errorText(err, verbose)}`);
  return exitCodeOf(err);
}
