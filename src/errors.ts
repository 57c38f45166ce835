/**
 * Error types of the project. Every error a user can cause is one of these: the CLI prints
 * `message` as one line (and the cause chain only with --verbose) and exits non-zero.
 */
/** The first line of an error's message (or of what was thrown), for one-line reports. */
export function messageLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/** Writes a warning line on stderr, where a library caller gave no place of its own for warnings. */
export const warnOnStderr = (line: string): void => void process.stderr.write(`onnx-manager: warning: ${line}\n`);

export class OnnxManagerError extends Error {
  /** The file the problem is about, when there is one. */
  readonly file?: string;
  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    if (options?.file !== undefined) this.file = options.file;
  }
}

/** The bytes are not a valid ONNX model (not protobuf, truncated, empty, wrong structure). */
export class OnnxFormatError extends OnnxManagerError {}

/** The graph cannot be processed: no nodes, a cycle, a tensor nobody produces. */
export class GraphError extends OnnxManagerError {}

/** A split was asked for that cannot be made (unknown layer, constant layer, ...). */
export class SplitError extends OnnxManagerError {}

/**
 * A layer, node, exit or split point named by the caller that the model does not have, or that
 * cannot be cut (a weight, a constant, an index out of range): a bad argument, as the CLI's exit
 * code says (2).
 */
export class UnknownSplitError extends SplitError {}

/** Bad command-line or API arguments. */
export class UsageError extends OnnxManagerError {}

/** A file named by the user could not be read, or is not what it should be. */
export class FileError extends OnnxManagerError {}

/** A file the tool writes could not be written (no space, no permission): not a fault of the input. */
export class WriteError extends FileError {}

/** The object store failed: unreachable endpoint, rejected credentials, missing bucket or object. */
export class StoreError extends OnnxManagerError {
  /** The bucket and object key the problem is about, when there is one. */
  readonly bucket?: string;
  readonly key?: string;
  constructor(message: string, options?: { cause?: unknown; bucket?: string; key?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.bucket !== undefined) this.bucket = options.bucket;
    if (options?.key !== undefined) this.key = options.key;
  }
}

/** The user interrupted the operation (Ctrl-C, SIGTERM): the reason of the abort signal every interruptible operation is given. */
export class InterruptedError extends OnnxManagerError {}

/** Something awaited (an object in the store, a job) did not arrive in time. */
export class TimeoutError extends OnnxManagerError {
  /** What was awaited, e.g. the object key. */
  readonly what?: string;
  readonly timeoutMs?: number;
  constructor(message: string, options?: { cause?: unknown; what?: string; timeoutMs?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.what !== undefined) this.what = options.what;
    if (options?.timeoutMs !== undefined) this.timeoutMs = options.timeoutMs;
  }
}
