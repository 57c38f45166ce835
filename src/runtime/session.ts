/**
 * The runtime seam: what the rest of the project needs from an inference engine.
 * The only implementation, over onnxruntime-node, lives in ort.ts.
 */

/** A tensor on the host: onnxruntime-node type name, dims, and its data. */
export interface HostTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: ArrayBufferView | readonly string[];
}

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Execution providers in order of preference, e.g. ['cpu'] (default) or [{ name: 'cuda', deviceId: 1 }]. */
  executionProviders?: readonly (string | { name: string; deviceId?: number })[];
  graphOptimizationLevel?: GraphOptimizationLevel;
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /**
   * false: idle threads of the intra-op and inter-op pools sleep instead of spinning
   * (session.intra_op.allow_spinning = 0, session.inter_op.allow_spinning = 0). Default: they spin.
   */
  allowSpinning?: boolean;
  /**
   * true: threads that spin stop when a run ends (session.force_spinning_stop = 1), so that they
   * spin between a run's operators only, not while the session waits for its next run.
   */
  stopSpinningAfterRun?: boolean;
  /** External data files of an in-memory model: the location named in the model, and its bytes. */
  externalData?: readonly { path: string; data: Uint8Array }[];
  /** Keep freed memory in onnxruntime's arena for reuse (default true); false returns it at once. */
  enableCpuMemArena?: boolean;
  /** Pre-plan one block for all intermediate tensors (default true); false allocates per tensor. */
  enableMemPattern?: boolean;
  /** onnxruntime log level: 0 verbose .. 4 fatal. Default 4 (fatal only: errors reach the caller as exceptions). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Record onnxruntime's own profile (a Chrome trace) into a file whose name starts with this path; see Session.endProfiling. */
  profileFilePrefix?: string;
  /** Write the model as onnxruntime optimised it (fused, renamed nodes) to this file. */
  optimizedModelFilePath?: string;
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The element type name (as HostTensor.type) of each output as onnxruntime inferred it when loading the model; undefined for an output that is not a tensor. */
  readonly outputTypes: Readonly<Record<string, string | undefined>>;
  /** Runs the model; `fetches` limits the outputs computed and returned (default: all). */
  run(feeds: Readonly<Record<string, HostTensor>>, fetches?: readonly string[]): Promise<Record<string, HostTensor>>;
  /** Ends profiling (a session created with profileFilePrefix) and returns the trace file's path. */
  endProfiling?(): Promise<string>;
  release(): Promise<void>;
}
