/**
 * The run_all CSV: one row per split point per repetition. Times are milliseconds, each a
 * duration measured on one clock (edge columns on the edge's, cloud columns on the cloud's).
 *
 * total_ms = edge_ms + encode_ms + upload_ms + wait_ms + download_ms + decode_ms (edge clock);
 * wait_ms runs from the end of the upload to the result being in the store, so it holds the
 * trigger, the cloud's fetch, decode, inference, encode and upload. transfer_ms is the time spent
 * moving bytes through the store: upload_ms + cloud_download_ms + download_ms, plus
 * cloud_upload_ms where the backend reports the cloud's upload of the result. The cloud's two
 * moves count only as far as they fit in wait_ms beside its decode, inference and encode
 * (transferOnPath): on a shared machine the cloud may learn that its upload was answered only
 * after the edge already has the result, and that tail is not on the cycle's path.
 */

/** Columns in order: the contract columns first, then extras. */
export const COLUMNS = [
  'split_index',
  'split_layer',
  'cut_tensors',
  'tensor_bytes',
  'transfer_bytes',
  'edge_load_ms',
  'cloud_load_ms',
  'edge_ms',
  'encode_ms',
  'upload_ms',
  'cloud_ms',
  'download_ms',
  'decode_ms',
  'transfer_ms',
  'wait_ms',
  'total_ms',
  'rep',
  'exec_type',
  'backend',
  'status',
  'error',
  // Extras.
  'result_bytes',
  // The codec of the cut tensors (--tensor_codec; raw: none). Its time is part of encode_ms
  // (codec_encode_ms, edge) and of cloud_decode_ms (cloud_codec_decode_ms, cloud).
  'tensor_codec',
  'codec_encode_ms',
  'cloud_codec_decode_ms',
  'cloud_download_ms',
  'cloud_decode_ms',
  'cloud_encode_ms',
  'cloud_upload_ms',
  'model_upload_ms',
  // CPU time (user + system, every thread of the process) during edge_ms and cloud_ms, each
  // measured by the process that ran the part; empty where that side runs nothing, or the cloud
  // side does not report it (a worker of an earlier version).
  'edge_cpu_ms',
  'cloud_cpu_ms',
  // The split point's unrecorded warm-up cycles (--warmup): their time on the edge's clock, in all.
  'warmup_ms',
  'max_abs_diff',
  // Classifier outputs (float, rank 2, last dim > 1): the fraction of rows whose top class is the full model's.
  'top1_agreement',
  'job_name',
  'job_queue_s',
  'job_run_s',
  'run_id',
  // The emulated link between the edge and the store (--bandwidth, --rtt); empty without one.
  'bandwidth_mbit',
  'rtt_ms',
  // The settings that change the numbers, beside them (a resumed sweep must match them).
  'model_sha256',
  'input_shapes',
  // Intra-op threads of the edge's and the cloud's sessions ('': onnxruntime's choice), and
  // whether idle onnxruntime threads spin (off with the local cloud).
  'edge_threads',
  'cloud_threads',
  'spinning',
  'graph_opt',
  // Retries of store requests while the store was unavailable; the cycle was run again after them.
  'store_retries',
  // Restarts of the cloud worker since the previous row (a crash, or the worker killed after missing
  // --timeout); the cycle that overlapped one was run again on the fresh worker. Empty for backends
  // that start a process per job.
  'cloud_restarts',
] as const;

export type Column = (typeof COLUMNS)[number];
export type Row = Record<Column, string | number>;

/** Time columns summarised per split point: edge_load_ms through total_ms, in CSV order. */
export const TIME_COLUMNS: readonly Column[] = COLUMNS.slice(COLUMNS.indexOf('edge_load_ms'), COLUMNS.indexOf('total_ms') + 1);

/** The CPU time columns (edge_cpu_ms, cloud_cpu_ms): summarised per split point where the rows record them. */
export const CPU_COLUMNS: readonly Column[] = ['edge_cpu_ms', 'cloud_cpu_ms'];

/** The backend column of a split point that runs no cloud part (the edge-only one): nothing is sent. */
export const EDGE_ONLY_BACKEND = 'none';

export function emptyRow(): Row {
  return Object.fromEntries(COLUMNS.map((c) => [c, ''])) as Row;
}

/** Milliseconds rounded to microseconds, for the CSV. */
export function ms(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** The steps of one cycle transferOnPath needs, in milliseconds (cloud steps from the cloud's clock). */
export interface CycleSteps {
  uploadMs: number;
  waitMs: number;
  downloadMs: number;
  /** The cloud's fetch of the input plus its upload of the result. */
  cloudMovesMs: number;
  /** The cloud's decode, inference and encode. */
  cloudWorkMs: number;
}

/**
 * transfer_ms of a cycle: the edge's upload and download, plus the cloud's moves as far as they
 * fit in wait_ms beside the cloud's work, so that transfer_ms never exceeds the cycle it is part of.
 */
export function transferOnPath(s: CycleSteps): number {
  const cloudMoves = Math.min(s.cloudMovesMs, Math.max(0, s.waitMs - s.cloudWorkMs));
  return s.uploadMs + cloudMoves + s.downloadMs;
}
