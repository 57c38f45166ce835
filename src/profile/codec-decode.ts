/**
 * Codec decode speed where the cloud runs. The edge picks a few of the coded cut tensors it
 * profiled (per codec, up to SAMPLES_PER_CODEC of distinct sizes), sends them with the profile
 * request (payload.coded, named CODEC_SAMPLE_PREFIX<i>), and the cloud runner times decoding
 * each one there (measureCodecDecode): the profile's cloud codec_speed rows are fitted on those
 * times (cloudDecodeSpeed), not on the edge's.
 */
import { performance } from 'node:perf_hooks';
import type { HostTensor } from '../runtime/session.js';
import { decodeTensors } from '../tensor/codecs/tensors.js';
import type { CodedTensor } from '../tensor/payload/types.js';

/** Timed runs per tensor (after one warm-up), on the edge and on the cloud. */
export const CODEC_RUNS = 3;
export const SAMPLES_PER_CODEC = 4;
/** Raw bytes of the coded tensors kept as candidates per codec while profiling. */
const CANDIDATE_BYTES = 16e6;
export const CODEC_SAMPLE_PREFIX = 'codec_sample/';

/** One coded cut tensor the cloud decodes: its codec as profiled (e.g. int8:axis=1) and raw size. */
export interface CodecSample {
  codec: string;
  rawBytes: number;
  coded: CodedTensor;
}

/** The cloud's decode times of each sample it was sent, by sample name. */
export type CodecDecodeTimes = { tensor: string; ms: number[] }[];

/** Collects the candidates while profiling: per codec, tensors of distinct sizes up to CANDIDATE_BYTES in all. */
export class CodecSamples {
  private readonly byCodec = new Map<string, CodecSample[]>();

  offer(codec: string, rawBytes: number, coded: CodedTensor): void {
    const list = this.byCodec.get(codec) ?? [];
    this.byCodec.set(codec, list);
    if (list.some((s) => s.rawBytes === rawBytes) || list.reduce((n, s) => n + s.rawBytes, 0) + rawBytes > CANDIDATE_BYTES) return;
    list.push({ codec, rawBytes, coded });
  }

  /** Per codec the smallest, the largest and evenly between them, named CODEC_SAMPLE_PREFIX<i>. */
  picked(): Map<string, CodecSample> {
    const out = new Map<string, CodecSample>();
    for (const list of this.byCodec.values()) {
      const sorted = [...list].sort((x, y) => x.rawBytes - y.rawBytes);
      const n = Math.min(SAMPLES_PER_CODEC, sorted.length);
      const at = new Set(Array.from({ length: n }, (_, k) => (n === 1 ? 0 : Math.round((k * (sorted.length - 1)) / (n - 1)))));
      for (const i of at) out.set(`${CODEC_SAMPLE_PREFIX}${out.size}`, sorted[i]!);
    }
    return out;
  }
}

/** Times decoding each coded tensor on its own (as profileCodecs does): one warm-up, then `runs` runs. */
export async function measureCodecDecode(samples: ReadonlyMap<string, CodedTensor>, runs = CODEC_RUNS): Promise<CodecDecodeTimes> {
  const out: CodecDecodeTimes = [];
  for (const [tensor, c] of samples) {
    const payload = { tensors: new Map<string, HostTensor>(), coded: new Map([[tensor, c]]) };
    const ms: number[] = [];
    for (let r = -1; r < runs; r++) {
      const t0 = performance.now();
      await decodeTensors(payload);
      if (r >= 0) ms.push(performance.now() - t0);
    }
    out.push({ tensor, ms });
  }
  return out;
}

/** Whether a payload tensor is a decode sample of a profile request. */
export const isCodecSample = (name: string): boolean => name.startsWith(CODEC_SAMPLE_PREFIX);
