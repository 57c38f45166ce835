/** The tensor codecs by name (--tensor_codec). 'raw' is no codec: tensors travel as they are. */
import { UsageError } from '../../errors.js';
import { bf16 } from './bf16.js';
import { deflate } from './deflate.js';
import { fp16 } from './fp16.js';
import { int8 } from './int8.js';
import { INT8_CHANNEL_WIRE, int8Channel, int8ChannelAxis } from './int8-channel.js';
import { CodecError, type TensorCodec } from './types.js';
import { zstd } from './zstd.js';

export const TENSOR_CODECS = ['raw', 'fp16', 'bf16', 'int8', 'deflate', 'zstd'] as const;
export type TensorCodecName = (typeof TENSOR_CODECS)[number];

/** Codecs by the name they write into the payload (int8 per channel writes int8c). */
const CODECS: ReadonlyMap<string, TensorCodec> = new Map([...[fp16, bf16, int8, deflate, zstd].map((c) => [c.name, c] as const), [INT8_CHANNEL_WIRE, int8Channel(0)] as const]);

/** Whether `name` is a codec --tensor_codec takes: one of TENSOR_CODECS, or int8:axis=N (per channel along axis N). */
export function isTensorCodecName(name: unknown): name is string {
  return typeof name === 'string' && ((TENSOR_CODECS as readonly string[]).includes(name) || int8ChannelAxis(name) !== undefined);
}

/** The names --tensor_codec takes, for messages. */
export const TENSOR_CODEC_CHOICES = `${TENSOR_CODECS.join(', ')}, int8:axis=N`;

/** The codec named `name` (undefined for 'raw'); a UsageError for an unknown name. */
export function tensorCodec(name: string): TensorCodec | undefined {
  if (name === 'raw') return undefined;
  const axis = int8ChannelAxis(name);
  if (axis !== undefined) return int8Channel(axis);
  const c = (TENSOR_CODECS as readonly string[]).includes(name) ? CODECS.get(name) : undefined;
  if (!c) throw new UsageError(`unknown tensor codec '${name}' (choose from ${TENSOR_CODEC_CHOICES})`);
  return c;
}

/** The codec that encoded a received tensor; a CodecError naming the tensor for one this build does not know. */
export function receivedCodec(name: string, tensor: string): TensorCodec {
  const c = CODECS.get(name);
  if (!c) throw new CodecError(`tensor ${JSON.stringify(tensor)} is encoded with unknown codec '${name}' (this build knows ${[...CODECS.keys()].join(', ')})`);
  return c;
}
