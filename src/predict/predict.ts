/**
 * Every split point predicted without the sweep: compute from a per-layer profile (model.ts),
 * the exact bytes on the wire (payload-size.ts), the store's measured costs (store-costs.ts) and
 * the link (link.ts). Rows carry run_all's column names, so both files join on (split_index, tensor_codec).
 */
import { cycleWaitMs, type LayerProfile } from '../profile/layer-profile.js';
import { COLUMNS, ms, type Column } from '../profile/columns.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { linkCycleMs, requestOverLinkMs, type Link } from './link.js';
import { edgeMemory, predictCompute, type SplitCompute } from './model.js';
import { wireBytes, type PayloadRun, type WireBytes } from './payload-size.js';
import { linearMs, type StoreCosts } from './store-costs.js';
import { UsageError } from '../errors.js';
import { codecMs } from '../profile/codec-profile.js';

/** One split point's predicted cycle, in the run_all columns' terms. */
export interface CycleTimes {
  edge_ms: number;
  encode_ms: number;
  upload_ms: number;
  wait_ms: number;
  cloud_ms: number;
  download_ms: number;
  decode_ms: number;
  transfer_ms: number;
  total_ms: number;
  /** The tensor codec's part of encode_ms (edge) and of the wait (the cloud's decode). */
  codec_encode_ms: number;
  cloud_codec_decode_ms: number;
}

/**
 * The cycle of one split point: the edge part, the input's encode and PUT over the link, the
 * wait (the cloud's GET, decode, its part, encode, PUT, and the edge learning of it), the
 * result's GET over the link and decode. The edge-only split is its edge part alone.
 */
export function cycleTimes(
  c: { edgeMs: number; cloudMs: number; inputBytes: number; resultBytes: number; edgeOnly: boolean; codecEncodeMs?: number; codecDecodeMs?: number },
  store: StoreCosts,
  link: Link,
): CycleTimes {
  if (c.edgeOnly) return { edge_ms: c.edgeMs, encode_ms: 0, upload_ms: 0, wait_ms: 0, cloud_ms: 0, download_ms: 0, decode_ms: 0, transfer_ms: 0, total_ms: c.edgeMs, codec_encode_ms: 0, cloud_codec_decode_ms: 0 };
  const codecEncode = c.codecEncodeMs ?? 0;
  const codecDecode = c.codecDecodeMs ?? 0;
  const encode = linearMs(store.encode, c.inputBytes) + codecEncode;
  const upload = linearMs(store.put, c.inputBytes) + requestOverLinkMs(c.inputBytes, link);
  const cloudGet = linearMs(store.get, c.inputBytes);
  const cloudPut = linearMs(store.put, c.resultBytes);
  const wait = cloudGet + linearMs(store.decode, c.inputBytes) + codecDecode + c.cloudMs + linearMs(store.encode, c.resultBytes) + cloudPut + store.notifyMs + linkCycleMs(c.inputBytes, c.resultBytes, link).notifyMs;
  const download = linearMs(store.get, c.resultBytes) + requestOverLinkMs(c.resultBytes, link);
  const decode = linearMs(store.decode, c.resultBytes);
  return {
    edge_ms: c.edgeMs,
    encode_ms: encode,
    upload_ms: upload,
    wait_ms: wait,
    cloud_ms: c.cloudMs,
    download_ms: download,
    decode_ms: decode,
    transfer_ms: upload + cloudGet + download + cloudPut,
    total_ms: c.edgeMs + encode + upload + wait + download + decode,
    codec_encode_ms: codecEncode,
    cloud_codec_decode_ms: codecDecode,
  };
}

/**
 * The store's costs with the profile's cycle wait (cycle-calibration.ts) in their notification
 * time: every predicted wait (split point, DAG cut, recommendation) holds it.
 */
export function withCycleWait(store: StoreCosts, profile: LayerProfile): StoreCosts {
  const ms = cycleWaitMs(profile);
  return ms > 0 ? { ...store, notifyMs: store.notifyMs + ms } : store;
}

/** What is known about a split point before any link is chosen. */
export interface SplitFacts {
  split_index: number;
  split_layer: string;
  cut_tensors: string;
  tensor_bytes: number;
  transfer_bytes: number;
  result_bytes: number;
  edgeMs: number;
  cloudMs: number;
  edge_memory_mb: number;
  edgeOnly: boolean;
  /** The codec of the cut tensors (raw: none), and its predicted time on each side. */
  tensor_codec: string;
  codecEncodeMs: number;
  codecDecodeMs: number;
}

/**
 * The payloads' bytes at every split point of `a`, in order (a prediction's facts without the
 * profile), shaped as `run`'s backend sends and answers them.
 */
export function allWireBytes(a: ModelAnalysis, run: PayloadRun = {}): WireBytes[] {
  return a.splitPoints.map((p) => wireBytes(a, p, 1, run));
}

/** Why `profile` cannot predict `codec`, and how to make one that can. */
function missingCodec(profile: LayerProfile, codec: string, label: string): string {
  const held = profile.codecs?.profiled;
  if (!held) return `${label} has no measurements of tensor codec ${codec} (made before the codecs were profiled): profile the model again`;
  return `${label} has no measurements of tensor codec ${codec} (it holds ${['raw', ...held].join(', ')}): profile the model again with --tensor_codec ${codec} (profile, or predict without --profile)`;
}

/** Refuses, before anything is measured, a codec `profile` holds no measurements of. */
export function checkProfileCodecs(profile: LayerProfile, codecs: readonly string[], label = 'the profile'): void {
  for (const codec of codecs) if (codec !== 'raw' && !profile.codecs?.speed[codec]) throw new UsageError(missingCodec(profile, codec, label));
}

/**
 * The facts of every split point from a profile: predicted compute, exact wire bytes, edge
 * memory, with the cut tensors sent as `codec`: its bytes from the profile's own coded cut
 * tensors, its time from the codec's speed measured there (codec-profile.ts).
 */
export function splitFacts(a: ModelAnalysis, profile: LayerProfile, codec = 'raw', label = 'the profile', wires: readonly WireBytes[] = allWireBytes(a)): SplitFacts[] {
  const compute: SplitCompute[] = predictCompute(a, profile);
  const memory = edgeMemory(a);
  const m = a.index.dataNodes.length;
  const speed = codec === 'raw' ? undefined : profile.codecs?.speed[codec];
  checkProfileCodecs(profile, [codec], label);
  return a.splitPoints.map((p, i) => {
    const w = wires[i]!;
    const coded = speed && p.position < m ? profile.codecs!.wire[p.index]?.[codec] : undefined;
    if (speed && p.position < m && !coded) throw new UsageError(`${label} has no ${codec} payload of split ${p.index}: profile the model again`);
    return {
      split_index: p.index,
      split_layer: p.splitLayer,
      cut_tensors: p.cutTensors.map((t) => t.name).join(';'),
      tensor_bytes: p.transferBytes,
      transfer_bytes: coded ? coded.wireBytes + w.storeRetryBytes : w.input,
      result_bytes: coded && coded.codedTensors > 0 ? w.codedResult : w.result,
      edgeMs: compute[i]!.edge.ms,
      cloudMs: compute[i]!.cloud.ms,
      edge_memory_mb: memory[i]!.mb,
      edgeOnly: p.position === m,
      tensor_codec: codec,
      codecEncodeMs: coded ? codecMs(speed!.encode, coded.codedTensors, coded.codedTensorBytes) : 0,
      codecDecodeMs: coded ? codecMs(speed!.decode, coded.codedTensors, coded.codedTensorBytes) : 0,
    };
  });
}

export type PredictedRow = Omit<SplitFacts, 'edgeMs' | 'cloudMs' | 'edgeOnly' | 'edge_memory_mb' | 'codecEncodeMs' | 'codecDecodeMs'> & CycleTimes & { edge_memory_mb: number };

/** What cycleTimes needs of a split point's facts. */
export function cycleOf(f: SplitFacts): Parameters<typeof cycleTimes>[0] {
  return { edgeMs: f.edgeMs, cloudMs: f.cloudMs, inputBytes: f.transfer_bytes, resultBytes: f.result_bytes, edgeOnly: f.edgeOnly, codecEncodeMs: f.codecEncodeMs, codecDecodeMs: f.codecDecodeMs };
}

/** The predicted cycle of every split point on a link. */
export function predictRows(facts: readonly SplitFacts[], store: StoreCosts, link: Link): PredictedRow[] {
  return facts.map((f) => {
    const { edgeMs: _e, cloudMs: _c, edgeOnly: _o, codecEncodeMs: _ce, codecDecodeMs: _cd, ...rest } = f;
    return { ...rest, ...cycleTimes(cycleOf(f), store, link) };
  });
}

const between = (from: Column, to: Column): Column[] => COLUMNS.slice(COLUMNS.indexOf(from), COLUMNS.indexOf(to) + 1);

/** The CSV's columns: run_all's own (split_index .. transfer_bytes, edge_ms .. total_ms), then the link and the settings. */
export const PREDICT_COLUMNS: readonly string[] = [
  ...between('split_index', 'transfer_bytes'),
  'result_bytes',
  ...between('edge_ms', 'total_ms'),
  'tensor_codec',
  'codec_encode_ms',
  'cloud_codec_decode_ms',
  'edge_memory_mb',
  'bandwidth_mbit',
  'rtt_ms',
  'exec_type',
  'threads',
  'graph_opt',
  'backend',
  'store',
  'model_sha256',
];

/** Milliseconds, MB and percentages rounded to 3 decimals for the CSV. */
export function roundRow<T extends object>(r: T): T {
  const out = { ...r } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'number' && (k.endsWith('_ms') || k.endsWith('_mb') || k.endsWith('_ape'))) out[k] = ms(v);
  return out as T;
}
