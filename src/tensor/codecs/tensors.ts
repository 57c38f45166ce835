/**
 * A payload's tensors through a codec: encodeTensors splits them into the ones the codec
 * encoded (payload.coded) and the ones it leaves raw; decodeTensors restores them all, and
 * refuses the first body that does not decode, before anything runs on the tensors.
 */
import type { HostTensor } from '../../runtime/session.js';
import type { CodedTensor, Payload } from '../payload/types.js';
import { receivedCodec, tensorCodec } from './registry.js';
import { CodecError } from './types.js';

export interface EncodedTensors {
  tensors: Map<string, HostTensor>;
  coded: Map<string, CodedTensor>;
}

export async function encodeTensors(tensors: ReadonlyMap<string, HostTensor>, codecName: string): Promise<EncodedTensors> {
  const codec = tensorCodec(codecName);
  const out: EncodedTensors = { tensors: new Map(), coded: new Map() };
  for (const [name, t] of tensors) {
    const c = codec ? await codec.encode(t) : undefined;
    if (c === undefined) out.tensors.set(name, t);
    else out.coded.set(name, { ...c, type: t.type, dims: [...t.dims] });
  }
  return out;
}

/** Every tensor of the payload, the coded ones decoded to the type and shape they were sent with. */
export async function decodeTensors(p: Pick<Payload, 'tensors' | 'coded'>): Promise<Map<string, HostTensor>> {
  if (!p.coded || p.coded.size === 0) return p.tensors;
  const all = new Map(p.tensors);
  for (const [name, c] of p.coded) {
    const codec = receivedCodec(c.codec, name);
    try {
      all.set(name, await codec.decode(c, c.type, c.dims));
    } catch (err) {
      if (err instanceof CodecError) throw new CodecError(`tensor ${JSON.stringify(name)}: ${err.message}`, { cause: err });
      throw err;
    }
  }
  return all;
}
