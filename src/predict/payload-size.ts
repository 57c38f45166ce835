/**
 * The exact bytes a cycle puts on the wire: the input payload the edge sends (the cut tensors in
 * their envelope) and the result payload the cloud sends back (the model outputs computed in the
 * cloud, with the cloud's timings and host name), encoded by the payload codec itself with
 * zero tensors of the real shapes and the header fields a sweep writes (with the store retry
 * budget an input payload carries to backends whose jobs start without the run's settings: OSCAR).
 */
import { hostname } from 'node:os';
import { dtypeFromOnnx, elementCount } from '../onnx/dtypes.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { typedArrayFor, zeroTensor } from '../tensor/host.js';
import type { HostTensor } from '../runtime/session.js';
import { encodePayload, type Payload } from '../tensor/payload/index.js';
import type { CodedTensor } from '../tensor/payload/types.js';

/** A run id of the length a sweep uses (`20260101T000000-0123abcd`). */
const RUN_ID = '00000000T000000-00000000';
const PART_HASH = '0'.repeat(64);
/** The timings a cloud worker reports for one part; the warm load is 0 (written without its value). */
const CLOUD_TIMINGS = ['cloud_download_ms', 'cloud_decode_ms', 'cloud_part1_ms', 'cloud_load_ms', 'cloud_ms', 'cloud_cpu_ms', 'cloud_encode_ms'];
/** What a job that reads its payload from a file and writes its result to one reports (onnx-cloud --input_file: no encode timing; the load is cold). */
const FILE_JOB_TIMINGS = CLOUD_TIMINGS.filter((t) => t !== 'cloud_encode_ms');

/** How the run's backend shapes the payloads. */
export interface PayloadRun {
  /** The store retry budget (ms) each input payload carries (the backend's requestStoreRetryMs: OSCAR's). */
  storeRetryMs?: number;
  /** The cloud side is a job per payload that reads it from a file and writes its result to one (an OSCAR job). */
  fileJob?: boolean;
}

export interface WireBytes {
  /** The input payload (the run_all column transfer_bytes). */
  input: number;
  /** The result payload (result_bytes). */
  result: number;
  /** The result payload when the input carried coded tensors: the cloud adds its codec's decode time (cloud_codec_decode_ms). */
  codedResult: number;
  /**
   * What the store retry budget adds to the input payload (0 without one): a codec's payload,
   * measured without it in the profile, is sent this much larger (up to the alignment of its first tensor's data).
   */
  storeRetryBytes: number;
}

/** Model outputs produced by the edge part at `position` (they stay on the edge). */
export function edgeOutputs(a: ModelAnalysis, position: number): Set<string> {
  const edgeNodes = new Set(a.index.dataNodes.slice(0, position));
  return new Set(a.index.outputs.filter((o) => a.index.inputs.includes(o) || edgeNodes.has(a.index.producer.get(o) ?? -1)));
}

/** Zeros shared by the tensors sizes are counted on (the encoder only reads them): grown, never written. */
let zeros = new ArrayBuffer(0);

/**
 * A zero tensor of `type` and `dims` for counting payload bytes: a view of the shared zeros, so
 * that counting a model's every split point allocates nothing per tensor (PP-OCRv4 rec: 426
 * points, each with a 1 MB output). String tensors are their own (their bytes are their content).
 */
function zeroView(type: string, dims: readonly number[]): HostTensor {
  if (type === 'string') return zeroTensor(type, dims);
  const array = typedArrayFor(type);
  const n = elementCount(dims);
  if (zeros.byteLength < n * array.BYTES_PER_ELEMENT) zeros = new ArrayBuffer(n * array.BYTES_PER_ELEMENT);
  return { type, dims: [...dims], data: new array(zeros, 0, n) };
}

function tensorsOf(a: ModelAnalysis, names: readonly string[]): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const n of names) {
    const info = a.shapes.get(n)!;
    out.set(n, zeroView(dtypeFromOnnx(info.elemType).name, info.dims));
  }
  return out;
}

/**
 * The input payload a sweep sends at `point` (repetition `rep`): `tensors` raw and `coded` as
 * their codec coded them, carrying `storeRetryMs` when the backend sends one (requestStoreRetryMs).
 */
function inputPayload(a: ModelAnalysis, point: SplitPoint, tensors: Map<string, HostTensor>, coded?: ReadonlyMap<string, CodedTensor>, rep = 1, storeRetryMs?: number): Payload {
  const onEdge = edgeOutputs(a, point.position);
  return {
    kind: 'input',
    runId: RUN_ID,
    splitIndex: point.index,
    rep,
    nextModels: [PART_HASH],
    // The edge's inference time; the cloud-only split has none (0 is written without its value).
    timings: [{ name: 'edge_ms', ms: point.position > 0 ? 1 : 0 }],
    outputs: a.index.outputs.filter((o) => !onEdge.has(o)),
    tensors,
    ...(coded && coded.size > 0 ? { coded: new Map(coded) } : {}),
    ...(storeRetryMs !== undefined ? { storeRetryMs } : {}),
  };
}

/**
 * Bytes of the input payload at `point` with the cut tensors as a codec left them: `tensors`
 * raw, `coded` coded (their real bodies, CRC and parameters), for a repetition 1..127.
 */
export function inputPayloadBytes(a: ModelAnalysis, point: SplitPoint, tensors: Map<string, HostTensor>, coded: ReadonlyMap<string, CodedTensor>, rep = 1): number {
  return encodePayload(inputPayload(a, point, tensors, coded, rep)).byteLength;
}

/**
 * Bytes of the payloads of one cycle at `point`, for a repetition 1..127 (repetition 0 is written
 * without its rep field, 2 bytes less or so), shaped as `run`'s backend sends and answers them.
 * Zero for both at the edge-only split.
 */
export function wireBytes(a: ModelAnalysis, point: SplitPoint, rep = 1, run: PayloadRun = {}): WireBytes {
  const { storeRetryMs } = run;
  if (point.position === a.index.dataNodes.length) return { input: 0, result: 0, codedResult: 0, storeRetryBytes: 0 };
  const onEdge = edgeOutputs(a, point.position);
  const cloudOutputs = a.index.outputs.filter((o) => !onEdge.has(o));
  const input = inputPayload(a, point, new Map(point.cutTensors.map((t) => [t.name, zeroView(t.dtype, t.shape)])), undefined, rep, storeRetryMs);
  const result: Payload = {
    kind: 'output',
    runId: RUN_ID,
    splitIndex: point.index,
    rep,
    nextModels: [],
    host: hostname(),
    timings: run.fileJob ? FILE_JOB_TIMINGS.map((name) => ({ name, ms: 1 })) : CLOUD_TIMINGS.map((name) => ({ name, ms: name === 'cloud_load_ms' ? 0 : 1 })),
    tensors: tensorsOf(a, cloudOutputs),
  };
  const bytes = encodePayload(input).byteLength;
  const { storeRetryMs: _budget, ...plain } = input;
  const without = storeRetryMs === undefined ? bytes : encodePayload(plain).byteLength;
  const coded: Payload = { ...result, timings: [...result.timings, { name: 'cloud_codec_decode_ms', ms: 1 }] };
  return { input: bytes, result: encodePayload(result).byteLength, codedResult: encodePayload(coded).byteLength, storeRetryBytes: bytes - without };
}
