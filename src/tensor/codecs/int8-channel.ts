/**
 * int8 per channel (`--tensor_codec int8:axis=N`): the affine quantisation of int8.ts with one
 * scale and zero point per index along axis N (negative: counted from the last), so channels of
 * very different ranges each keep their own step. The error of each element is at most its
 * channel's scale/2. A tensor without that axis (rank too small), or whose channels' parameters
 * (5 bytes each) would take as many bytes as its elements, is quantised per tensor (int8); one
 * holding NaN or +-Inf is sent raw.
 *
 * On the wire the codec is `int8c` and its body carries the parameters:
 * uint32 axis, uint32 channels (little-endian), channels x float32 scale, channels x uint8
 * zero point, then one byte per element.
 */
import { elementCount } from '../../onnx/dtypes.js';
import type { HostTensor } from '../../runtime/session.js';
import { crc32 } from '../crc32.js';
import { dequantise, finiteRange, int8, quantiseInto, quantiseRange32 } from './int8.js';
import { SIMD_MIN, simdDequantiseSpans, simdQuantiseSpans, simdSpanRanges, simdStage } from './simd/index.js';
import { CodecError, unfilled, writtenBody, type CodedBody, type PlannedBody, type TensorCodec } from './types.js';

export const INT8_CHANNEL_WIRE = 'int8c';
const HEAD = 8;


/** `int8:axis=N` -> N, or undefined when `name` is not of that form. */
export function int8ChannelAxis(name: string): number | undefined {
  const m = /^int8:axis=(-?\d{1,3})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The note for a run whose codec is int8:axis=N while some split points cut float32 tensors
 * without axis N (their rank is too small): those are quantised per tensor. Undefined for another
 * codec, or when every such tensor has the axis.
 */
export function missingAxisNote(codec: string, points: readonly { index: number; cutTensors: readonly { dtype: string; shape: readonly number[] }[] }[]): string | undefined {
  const axis = int8ChannelAxis(codec);
  if (axis === undefined) return undefined;
  const lacks = (shape: readonly number[]) => (axis < 0 ? shape.length + axis < 0 : axis >= shape.length);
  const sent = points.filter((p) => p.cutTensors.length > 0);
  const without = sent.filter((p) => p.cutTensors.some((t) => t.dtype === 'float32' && lacks(t.shape))).map((p) => p.index);
  if (without.length === 0) return undefined;
  const which = without.length <= 8 ? without.join(', ') : `${without.slice(0, 8).join(', ')}, …`;
  return `--tensor_codec ${codec}: the cut tensors of ${without.length} of ${sent.length} split points (${which}) have no axis ${axis}; those are quantised per tensor, as int8`;
}

/** The int8 codec per channel along `axis` (named `int8:axis=<axis>`). */
export function int8Channel(axis: number): TensorCodec {
  /** The channels' ranges found, the header, parameters and quantised elements still to be written. */
  const plan = (t: HostTensor): PlannedBody | undefined => {
    if (t.type !== 'float32') return undefined;
    const rank = t.dims.length;
    const a = axis < 0 ? rank + axis : axis;
    const x = t.data as Float32Array;
    if (a < 0 || a >= rank || 5 * t.dims[a]! >= x.length) return int8.plan!(t);
    const channels = t.dims[a]!;
    const inner = elementCount(t.dims.slice(a + 1));
    const outer = channels === 0 || inner === 0 ? 0 : x.length / (channels * inner);
    const lo = new Float64Array(channels);
    const hi = new Float64Array(channels);
    // Copied into the SIMD kernels' memory once, for the ranges of all channels and their quantisation.
    const staged = x.length >= SIMD_MIN ? simdStage(x) : null;
    const found = staged ? simdSpanRanges(staged, inner, channels, lo, hi) : false;
    if (found === undefined) return undefined; // NaN or +-Inf
    if (found === false) {
      lo.fill(0);
      hi.fill(0);
      for (let o = 0, i = 0; o < outer; o++) {
        for (let c = 0; c < channels; c++, i += inner) {
          const r = finiteRange(x, i, i + inner);
          if (r === undefined) return undefined; // NaN or +-Inf
          if (r.lo < lo[c]!) lo[c] = r.lo;
          if (r.hi > hi[c]!) hi[c] = r.hi;
        }
      }
    }
    const write = (body: Uint8Array): number | void => {
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      view.setUint32(0, a, true);
      view.setUint32(4, channels, true);
      const inv = new Float64Array(channels);
      const zps = new Uint8Array(channels);
      for (let c = 0; c < channels; c++) {
        // The scale as sent (float32, rounded up so the range still fits 0..255): the decoder's step is the one quantised with.
        const { scale: sent, zeroPoint } = quantiseRange32(lo[c]!, hi[c]!);
        view.setFloat32(HEAD + 4 * c, sent, true);
        zps[c] = zeroPoint;
        body[HEAD + 4 * channels + c] = zps[c]!;
        inv[c] = 1 / sent;
      }
      const q = body.subarray(HEAD + 5 * channels);
      const crc = { value: 0 };
      if (staged) {
        crc.value = crc32(body.subarray(0, HEAD + 5 * channels));
        if (simdQuantiseSpans(staged, inner, inv, zps, q, crc)) return crc.value;
      }
      for (let o = 0, i = 0; o < outer; o++) {
        for (let c = 0; c < channels; c++, i += inner) quantiseInto(x, i, i + inner, q, inv[c]!, zps[c]!);
      }
    };
    return { codec: INT8_CHANNEL_WIRE, bytes: HEAD + 5 * channels + x.length, write };
  };
  return {
    name: `int8:axis=${axis}`,
    lossless: false,
    async encode(t: HostTensor): Promise<CodedBody | undefined> {
      return writtenBody(plan(t));
    },
    plan,
    async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
      const b = coded.body;
      const what = `${INT8_CHANNEL_WIRE} body of a [${dims.join(', ')}] tensor`;
      if (b.byteLength < HEAD) throw new CodecError(`${what} has ${b.byteLength} bytes, less than its ${HEAD}-byte header (truncated)`);
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const a = view.getUint32(0, true);
      const channels = view.getUint32(4, true);
      if (a >= dims.length) throw new CodecError(`${what} names axis ${a}, which a rank-${dims.length} tensor does not have (corrupted)`);
      if (channels !== dims[a]) throw new CodecError(`${what} has ${channels} channels along axis ${a}, the tensor ${dims[a]} (corrupted)`);
      const n = elementCount(dims);
      const want = HEAD + 5 * channels + n;
      if (b.byteLength !== want) throw new CodecError(`${what} must be ${want} bytes, got ${b.byteLength} (truncated or corrupted)`);
      const scales = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        const s = view.getFloat32(HEAD + 4 * c, true);
        if (!Number.isFinite(s) || !(s > 0)) throw new CodecError(`${what}: scale of channel ${c} must be a positive finite number, got ${s}`);
        scales[c] = s;
      }
      const zp = b.subarray(HEAD + 4 * channels, HEAD + 5 * channels);
      const q = b.subarray(HEAD + 5 * channels);
      const inner = elementCount(dims.slice(a + 1));
      const out = unfilled(Float32Array, n);
      const outer = channels === 0 || inner === 0 ? 0 : n / (channels * inner);
      // q copied into the SIMD kernels' memory once for all channels; element by element without SIMD.
      if (n >= SIMD_MIN && simdDequantiseSpans(q, inner, zp, scales, out)) return { type, dims: [...dims], data: out };
      for (let o = 0, i = 0; o < outer; o++) {
        for (let c = 0; c < channels; c++, i += inner) dequantise(q, out, zp[c]!, scales[c]!, i, i + inner);
      }
      return { type, dims: [...dims], data: out };
    },
  };
}
