/**
 * Where the remaining parts run. A backend is told when a payload is in the store; the cloud
 * side puts the result under the output key, which the edge waits for through the store.
 */

export interface CloudJob {
  inputKey: string;
  outputKey: string;
}

export interface CloudBackend {
  /** 'local', 'oscar', 'kubernetes' or 'ssh', as the CSV's backend column shows it. */
  readonly name: string;
  /** Makes the cloud side ready to run these parts (by sha256); returns the cold-start time it measured. */
  prepare(models: readonly string[]): Promise<{ loadMs: number }>;
  /** Triggers the cloud side for a payload that is already in the store. */
  trigger(job: CloudJob): Promise<void>;
  /** Aborts when the backend learns that results will not come (a crashed worker, a failed job). */
  readonly failureSignal: AbortSignal;
  close(): Promise<void>;
}
