/**
 * A payload's tensors through a codec: encodeTensors splits them into the ones the codec
 * encoded (payload.coded) and the ones it leaves raw; decodeTensors restores them all, and
 * refuses the first body that does not decode, before anything runs on the tensors.
 */
import { performance } from 'node:perf_hooks';
import type { HostTensor } from '../../runtime/session.js';
import { encodePayloadPlanned } from '../payload/encode.js';
import type { CodedTensor, Payload, PlannedTensor } from '../payload/types.js';
import { receivedCodec, tensorCodec } from './registry.js';
import { CodecError, type PlannedBody } from './types.js';

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

/**
 * The payload `p` with its tensors through the codec, as one message: the bytes of
 * encodePayload({ ...p, ...await encodeTensors(p.tensors, codecName) }).concat(), with each body
 * written straight into its place (codecs with a plan; the others' bodies copied there once).
 * `timing.codecMs`, when given, receives the time the codec itself took (planning and writing
 * the bodies, or encoding them), without the payload's framing and CRC-32.
 */
export async function encodeCodedPayload(p: Omit<Payload, 'coded'>, codecName: string, timing?: { codecMs: number }): Promise<Uint8Array> {
  const codec = tensorCodec(codecName);
  const raw = new Map<string, HostTensor>();
  const planned = new Map<string, PlannedTensor>();
  let codecMs = 0;
  // performance.now() only when asked for: a few microseconds a tensor.
  const now = timing ? () => performance.now() : () => 0;
  for (const [name, t] of p.tensors) {
    let c: PlannedTensor | undefined;
    const t0 = now();
    if (codec?.plan) {
      const b = codec.plan(t);
      if (b) {
        // The plan (a new object each call) completed in place: a spread costs more than the rest of a small tensor's encoding.
        const p = b as PlannedBody & Partial<PlannedTensor>;
        p.type = t.type;
        p.dims = [...t.dims];
        if (timing) {
          const { write } = b;
          p.write = (out: Uint8Array): number | void => {
            const w0 = now();
            const sum = write(out);
            codecMs += now() - w0;
            return sum;
          };
        }
        c = p as PlannedTensor;
      }
    } else if (codec) {
      const b = await codec.encode(t);
      if (b) {
        const { body, ...params } = b;
        c = { ...params, type: t.type, dims: [...t.dims], bytes: body.byteLength, write: (out) => out.set(body) };
      }
    }
    codecMs += now() - t0;
    if (c === undefined) raw.set(name, t);
    else planned.set(name, c);
  }
  const bytes = encodePayloadPlanned({ ...p, tensors: raw }, planned);
  if (timing) timing.codecMs = codecMs;
  return bytes;
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
