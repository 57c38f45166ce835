/**
 * The error boundary of every command (onnx-manager, onnx-edge, onnx-cloud): one line naming the
 * problem, the stack and causes only with --verbose, exit 2 for bad arguments and 1 otherwise.
 */
import { messageLine, OnnxManagerError, UnknownSplitError, UsageError } from '../errors.js';

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
  return err instanceof UsageError || err instanceof UnknownSplitError ? 2 : 1;
}
