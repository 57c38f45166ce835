/** The payload as the codec hands it out and takes it in. */
import type { HostTensor } from '../../runtime/session.js';

export interface Payload {
  /** Format version; the decoder sets it, the encoder writes PAYLOAD_VERSION (the only one accepted). */
  version?: number;
  kind: 'input' | 'output';
  runId: string;
  splitIndex: number;
  rep: number;
  /** SHA-256 (lower-case hex) of the model parts to run next, in execution order. */
  nextModels: string[];
  /** Durations measured so far on the sending side, in order. */
  timings: { name: string; ms: number }[];
  /** Set when the sender failed. */
  error?: string;
  /** The producing host's name. */
  host?: string;
  /** Model outputs the cloud must send back (input payloads); empty or absent: everything its parts produce that no later part reads. */
  outputs?: string[];
  /**
   * Input payloads only: asks the receiver for a profile of its (one) model part instead of a
   * result: `warmup` unrecorded runs, then `rep` runs with onnxruntime's profiler and `rep` without.
   */
  profile?: { rep: number; warmup: number };
  /** Output payloads only: the answer to a profile request, the measurement as JSON text. */
  profileJson?: string;
  /** Input payloads only: the store retry budget (ms) the receiver's store requests use; absent: its own. */
  storeRetryMs?: number;
  tensors: Map<string, HostTensor>;
  /** Tensors encoded by a codec (src/tensor/codecs/ decodes them); names distinct from `tensors`'. */
  coded?: Map<string, CodedTensor>;
}

/** A tensor as a codec encoded it: the decoded tensor's type and shape, the codec and its parameters, the body sent. */
export interface CodedTensor {
  type: string;
  dims: number[];
  codec: string;
  scale?: number;
  zeroPoint?: number;
  body: Uint8Array;
}

/**
 * A coded tensor whose body is not written yet: what a CodedTensor says, the body's size, and
 * `write`, which fills all of a body of that size (encodePayloadPlanned gives it its place in the
 * payload, so the body is written there and nowhere else). `write` returns the body's CRC-32
 * when it took it as it wrote (while each piece was still in cache), else nothing.
 */
export interface PlannedTensor extends Omit<CodedTensor, 'body'> {
  bytes: number;
  write(body: Uint8Array): number | void;
}

export interface DecodeOptions {
  /** Largest payload accepted, in bytes. Default DEFAULT_MAX_BYTES (2 GiB). */
  maxBytes?: number;
  /** Most tensors accepted. Default DEFAULT_MAX_TENSORS (4096). */
  maxTensors?: number;
  /** The file or object the bytes came from, named in error messages. */
  file?: string;
}
