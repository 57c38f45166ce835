/**
 * Defaults of a run, declared once: the command line's option declarations show and apply them,
 * and library callers that leave a setting out get the same value.
 */
export const DEFAULTS = Object.freeze({
  /** Execution provider (--exec_type). */
  execType: 'CPU',
  /** onnxruntime graph optimisation level (--graph_opt). */
  graphOpt: 'all' as const,
  /** Where the remaining parts run (--cloud). */
  cloud: 'local' as const,
  /** Seconds to wait for each cloud result (--timeout). */
  timeoutS: 60,
  /** Seconds the store may stay unavailable, calls retrying with backoff, before a sweep stops (--store_retry_s). */
  storeRetryS: 120,
  /** Unrecorded warm-up cycles per split point (--warmup). */
  warmup: 2,
  /** Recorded repetitions: one for `run`, ten per split point for `run_all` (--rep). */
  repRun: 1,
  repRunAll: 10,
  /** Batch size bound to a free first input dimension (--batch). */
  batch: 1,
  /** Seed of the random input used when no input is given (--seed). */
  seed: 1,
});

export const GRAPH_OPT_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
