/**
 * What the tensor codecs cost on this model and this machine, measured on the real cut tensors
 * of the profiled inputs: for every split point and codec the exact input payload a cycle sends
 * (the cut tensors coded, in the sweep's envelope: lossless ratios are these tensors' own), and
 * for every codec its encode and decode speed, fitted over the distinct cut tensors as a time per
 * coded tensor plus a time per MB of raw tensor bytes it takes in (decode: gives back).
 *
 * Both speeds are measured in the profiling process (the edge); the profile operation then has
 * the cloud time decoding a few of the same coded tensors where it runs (codec-decode.ts) and
 * fits the decode speed on those times instead (cloudDecodeSpeed).
 */
import { performance } from 'node:perf_hooks';
import type { HostTensor } from '../runtime/session.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { hostTensorBytes } from '../tensor/host.js';
import { decodeTensors, encodeTensors, TENSOR_CODECS } from '../tensor/codecs/index.js';
import type { CodedTensor } from '../tensor/payload/types.js';
import { inputPayloadBytes } from '../predict/payload-size.js';
import { forEachCutGroup, type CreateSession } from './cut-values.js';
import type { SessionOptions } from '../runtime/session.js';
import { median } from './stats.js';
import { CODEC_RUNS, type CodecDecodeTimes, type CodecSample, type CodecSamples } from './codec-decode.js';

/** ms = callMs x coded tensors + perMbMs x MB of raw tensor bytes (1 MB = 1e6 bytes). */
export interface CodecCost {
  callMs: number;
  perMbMs: number;
}

export interface CodecSpeed {
  encode: CodecCost;
  decode: CodecCost;
  /** Tensors and repetitions the fit is over. */
  tensors: number;
  runs: number;
}

/** One split point's input payload with one codec. */
export interface CodecWire {
  /** Bytes of the input payload as a sweep sends it (repetition >= 1). */
  wireBytes: number;
  /** Raw bytes of the cut tensors the codec coded (the others travel raw). */
  codedTensorBytes: number;
  codedTensors: number;
}

export interface CodecProfile {
  /**
   * The codecs measured, raw excluded (rows of kind `codec`); absent in profiles made before
   * the codecs could be chosen, which hold the codecs of `speed`.
   */
  profiled?: string[];
  /** Per codec other than raw. */
  speed: Record<string, CodecSpeed>;
  /** split_index -> codec -> its payload (plain objects: the profile is plain data). */
  wire: Record<number, Record<string, CodecWire>>;
}

/** The codecs a profile measures: every one but raw, and int8 per channel along axis 1 (NCHW's channels). */
export const PROFILED_CODECS: readonly string[] = [...TENSOR_CODECS.filter((c) => c !== 'raw'), 'int8:axis=1'];

/** Least squares of ms over (tensors, MB) per sample, each sample one tensor: ms = call + perMb x MB; non-negative. */
export function fitCodecCost(samples: readonly { mb: number; ms: number }[]): CodecCost {
  const n = samples.length;
  if (n === 0) return { callMs: 0, perMbMs: 0 };
  const mx = samples.reduce((s, p) => s + p.mb, 0) / n;
  const my = samples.reduce((s, p) => s + p.ms, 0) / n;
  const sxx = samples.reduce((s, p) => s + (p.mb - mx) ** 2, 0);
  const sxy = samples.reduce((s, p) => s + (p.mb - mx) * (p.ms - my), 0);
  const throughOrigin = (): CodecCost => ({ callMs: 0, perMbMs: mx > 0 ? my / mx : 0 });
  // Tensors all of one size say nothing about the fixed part: all of it per MB.
  if (sxx <= 1e-12 * Math.max(1, mx * mx) * n) return throughOrigin();
  const perMb = sxy / sxx;
  const call = my - perMb * mx;
  if (perMb < 0) return { callMs: Math.max(0, my), perMbMs: 0 };
  if (call < 0) return throughOrigin();
  return { callMs: call, perMbMs: perMb };
}

async function timedMs(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** The codecs of `asked` a profile measures: each once, in order, raw left out (it costs nothing and sends the tensors as they are). */
export function codecsToProfile(asked: readonly string[]): string[] {
  return [...new Set(asked.filter((c) => c !== 'raw'))];
}

/**
 * Measures `codecs` (default PROFILED_CODECS; raw is left out) on the cut tensors of `feeds`
 * (onnxruntime with `options`): wire bytes per split point, and each codec's speed over the
 * distinct cut tensors (`runs` timed runs after one warm-up, the median per tensor; the encode
 * that gives the wire bytes is the warm-up). With no codec to measure the model is not run.
 * `samples`, when given, is offered every distinct coded tensor.
 */
export async function profileCodecs(
  a: ModelAnalysis,
  feeds: Readonly<Record<string, HostTensor>>,
  create: CreateSession,
  options: SessionOptions,
  runs = CODEC_RUNS,
  codecs: readonly string[] = PROFILED_CODECS,
  samples?: CodecSamples,
): Promise<CodecProfile> {
  const profiled = codecsToProfile(codecs);
  const wire: Record<number, Record<string, CodecWire>> = {};
  const fits = new Map<string, { enc: { mb: number; ms: number }[]; dec: { mb: number; ms: number }[] }>(profiled.map((c) => [c, { enc: [], dec: [] }]));
  const timed = new Set<string>();
  if (profiled.length === 0) return { profiled, speed: {}, wire };
  await forEachCutGroup(a, feeds, create, options, async (points, values) => {
    const coded = new Map<string, Map<string, CodedTensor>>(profiled.map((c) => [c, new Map()]));
    for (const [name, t] of values) {
      for (const codec of profiled) {
        const one = new Map([[name, t]]);
        const e = await encodeTensors(one, codec);
        const c = e.coded.get(name);
        if (!c) continue;
        coded.get(codec)!.set(name, c);
        if (timed.has(name)) continue;
        const enc: number[] = [];
        const dec: number[] = [];
        const payload = { tensors: new Map<string, HostTensor>(), coded: e.coded };
        // The encode above warmed the encoder up; one untimed decode warms the decoder.
        await decodeTensors(payload);
        for (let r = 0; r < runs; r++) {
          enc.push(await timedMs(() => encodeTensors(one, codec)));
          dec.push(await timedMs(() => decodeTensors(payload)));
        }
        const mb = hostTensorBytes(t) / 1e6;
        samples?.offer(codec, hostTensorBytes(t), c);
        fits.get(codec)!.enc.push({ mb, ms: median(enc) });
        fits.get(codec)!.dec.push({ mb, ms: median(dec) });
      }
      timed.add(name);
    }
    for (const p of points) {
      const per: Record<string, CodecWire> = {};
      for (const codec of profiled) {
        const tensors = new Map<string, HostTensor>();
        const codedHere = new Map<string, CodedTensor>();
        let codedTensorBytes = 0;
        for (const t of p.cutTensors) {
          const c = coded.get(codec)!.get(t.name);
          if (c) {
            codedHere.set(t.name, c);
            codedTensorBytes += t.bytes;
          } else tensors.set(t.name, values.get(t.name)!);
        }
        per[codec] = { wireBytes: inputPayloadBytes(a, p, tensors, codedHere), codedTensorBytes, codedTensors: codedHere.size };
      }
      wire[p.index] = per;
    }
  });
  const speed: Record<string, CodecSpeed> = {};
  for (const [codec, s] of fits) speed[codec] = { encode: fitCodecCost(s.enc), decode: fitCodecCost(s.dec), tensors: s.enc.length, runs };
  return { profiled, speed, wire };
}

/**
 * `speed` with each codec's decode cost fitted on the cloud's `times` of the `samples` it was
 * sent (codecs the cloud timed nothing of keep theirs).
 */
export function cloudDecodeSpeed(speed: Readonly<Record<string, CodecSpeed>>, samples: ReadonlyMap<string, CodecSample>, times: CodecDecodeTimes): Record<string, CodecSpeed> {
  const per = new Map<string, { mb: number; ms: number }[]>();
  for (const t of times) {
    const s = samples.get(t.tensor);
    if (!s || t.ms.length === 0) continue;
    per.set(s.codec, [...(per.get(s.codec) ?? []), { mb: s.rawBytes / 1e6, ms: median(t.ms) }]);
  }
  const out: Record<string, CodecSpeed> = {};
  for (const [codec, s] of Object.entries(speed)) out[codec] = per.has(codec) ? { ...s, decode: fitCodecCost(per.get(codec)!) } : s;
  return out;
}

/** A codec's predicted time for `tensors` coded tensors of `bytes` raw bytes. */
export function codecMs(c: CodecCost, tensors: number, bytes: number): number {
  return tensors === 0 ? 0 : c.callMs * tensors + (c.perMbMs * bytes) / 1e6;
}
