/**
 * What a tensor codec makes of one cut tensor of any cut, for the DAG optimum: the bytes of its
 * coded body and the codec's encode and decode time (the profile's codec_speed fit: per tensor
 * plus per MB of raw bytes).
 *
 * - fp16, bf16, int8 and int8 per channel code float32 tensors, to sizes their formats fix
 *   (2, 2 and 1 byte per element; int8c adds 8 bytes and 5 per channel, or is int8 where the
 *   codec falls back to it); other tensors travel raw. A tensor holding NaN or Inf, which they
 *   send raw, cannot be told from its shape.
 * - deflate and zstd code every numeric tensor, to a size only the data gives: a tensor that is
 *   a split point's only cut tensor has its own size from the profile's codec_wire row there,
 *   others the codec's ratio over all the profile's split points.
 */
import { UsageError } from '../errors.js';
import { codecMs, type CodecSpeed } from '../profile/codec-profile.js';
import type { LayerProfile } from '../profile/layer-profile.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { int8ChannelAxis } from '../tensor/codecs/int8-channel.js';
import { wireBytes } from './payload-size.js';

const FLOAT = 1;
const STRING = 8;

export interface TensorCodecCost {
  /** Bytes of the tensor's coded body, or undefined when the codec sends it raw. */
  codedBytes(tensor: string): number | undefined;
  /** Encode plus decode ms of a coded tensor of `bytes` raw bytes. */
  codecMs(bytes: number): number;
}

/** Body bytes of lossless codec `codec` for each tensor from the profile's payloads (see the module comment). */
function losslessBytes(a: ModelAnalysis, p: LayerProfile, codec: string, label: string): (tensor: string, raw: number) => number {
  const own = new Map<string, number>();
  let body = 0;
  let raw = 0;
  for (const sp of a.splitPoints) {
    const w = p.codecs?.wire[sp.index]?.[codec];
    if (!w || w.codedTensors === 0) continue;
    // The payload less its raw form leaves the coded bodies less their raw bytes.
    const b = Math.max(0, w.wireBytes - wireBytes(a, sp).input + w.codedTensorBytes);
    body += b;
    raw += w.codedTensorBytes;
    if (sp.cutTensors.length === 1 && w.codedTensors === 1) own.set(sp.cutTensors[0]!.name, b);
  }
  if (raw === 0 && a.splitPoints.some((sp) => sp.transferBytes > 0)) throw new UsageError(`${label} has no ${codec} payloads: profile the model again`);
  const ratio = raw > 0 ? body / raw : 1;
  return (tensor, bytes) => own.get(tensor) ?? bytes * ratio;
}

/** The codec's cost on each tensor of `a`, from profile `p` (UsageError when it has no measurements of the codec). */
export function tensorCodecCost(a: ModelAnalysis, p: LayerProfile, codec: string, label = 'the profile'): TensorCodecCost {
  const speed: CodecSpeed | undefined = p.codecs?.speed[codec];
  if (!speed) throw new UsageError(`${label} has no measurements of tensor codec ${codec} (made before the codecs were profiled): profile the model again`);
  const lossless = codec === 'deflate' || codec === 'zstd' ? losslessBytes(a, p, codec, label) : undefined;
  const axis = int8ChannelAxis(codec);
  const codedBytes = (tensor: string): number | undefined => {
    const info = a.shapes.get(tensor);
    if (!info || info.elemType === STRING) return undefined;
    if (lossless) return lossless(tensor, info.bytes);
    if (info.elemType !== FLOAT) return undefined;
    const n = info.bytes / 4;
    if (codec === 'fp16' || codec === 'bf16') return 2 * n;
    if (axis === undefined) return n;
    const at = axis < 0 ? info.dims.length + axis : axis;
    const channels = info.dims[at];
    return channels === undefined || at < 0 || 5 * channels >= n ? n : 8 + 5 * channels + n;
  };
  return { codedBytes, codecMs: (bytes) => codecMs(speed.encode, 1, bytes) + codecMs(speed.decode, 1, bytes) };
}
