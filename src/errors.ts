/**
 * Error types of the project. Every error a user can cause is one of these: the CLI prints
 * `message` as one line (and the cause chain only with --verbose) and exits non-zero.
 */
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

/** Bad command-line or API arguments. */
export class UsageError extends OnnxManagerError {}

/** A file could not be read or written. */
export class FileError extends OnnxManagerError {}
