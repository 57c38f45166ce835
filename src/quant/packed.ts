/**
 * Small per-channel constants of the quantised Convs (weight scales, biases) stored together in
 * 16 bits: every scale of one rank in one float16 tensor, every bias in another, each made
 * float32 by one Cast and cut back into the per-Conv tensors by one Split. All of it is constant,
 * so onnxruntime folds it when it loads the model, like the weights' own Cast and Mul.
 *
 * One tensor per kind instead of one per Conv: a tensor of its own costs its name, header and a
 * Cast node of its own, as much as the bytes that 16 bits save on a small Conv. (bfloat16, with
 * float32's range, would spare the multiplier below, but Cast takes it only from opset 13, and
 * quantised models are at opset 11 and up.)
 *
 * - Scales are float16 times one power of two per tensor, which puts the largest scale near
 *   2^15: every scale within 2^29 of the largest is a normal float16. They are chosen as such
 *   values (rounded up to 11 significant bits from max|w| / 127, see scaleAtLeast, so no weight
 *   is clipped), and the weights are quantised against exactly the scale stored; the cost is a
 *   step up to 2^-10 coarser than the float32 one.
 * - Biases are float16 (relative error at most 2^-11, absolute at most 2^-25 below 2^-14); a
 *   bias with a value float16 cannot hold (beyond +-65504) stays float32 on its own.
 */
import type { NodeProto, TensorProto } from '../onnx/types.js';
import { halfBits } from '../tensor/codecs/fp16.js';
import { FLOAT } from './tensor-values.js';

const FLOAT16 = 10;
const INT64 = 7;
const FLOAT16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest float32 >= `x` (x > 0, finite) with 11 significant bits, as float16 holds them. */
export function scaleAtLeast(x: number): number {
  f32[0] = x;
  const low = (1 << 13) - 1;
  if ((u32[0]! & low) !== 0) u32[0] = (u32[0]! | low) + 1;
  return f32[0]!;
}

function f16Bits(x: number): number {
  f32[0] = x;
  return halfBits(u32[0]!);
}

/** Whether every value of `v` is a finite float16. */
export function fitsFloat16(v: Float32Array): boolean {
  return v.every((x) => Number.isFinite(x) && Math.abs(x) <= FLOAT16_MAX);
}

interface Group {
  /** Shape of one element's slot after the channel axis (scales: [1, 1, ...] to broadcast over a weight). */
  tail: number[];
  /** Scales: stored as value / 2^k with one k for the tensor. */
  scaled: boolean;
  values: number[];
  outputs: string[];
  sizes: number[];
}

export class PackedConstants {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly fresh: (base: string) => string,
    /** The model's default-domain opset: Split takes its sizes as an input from 13 on. */
    private readonly opset: number,
  ) {}

  private add(key: string, scaled: boolean, tail: number[], output: string, values: Float32Array): void {
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { tail, scaled, values: [], outputs: [], sizes: [] }));
    g.values.push(...values);
    g.outputs.push(output);
    g.sizes.push(values.length);
  }

  /** `scales` (each a scaleAtLeast value) as the float32 tensor `output` of shape [C, ...tail]. */
  scale(output: string, scales: Float32Array, tail: number[]): void {
    this.add(`scale${tail.length}`, true, tail, output, scales);
  }

  /** `bias` (float16-safe, see fitsFloat16) as the float32 tensor `output` of shape [C]. */
  bias(output: string, bias: Float32Array): void {
    this.add('bias', false, [], output, bias);
  }

  /** The packed tensors, and the Cast (+ Split) nodes that unpack them, to go before every other node. */
  emit(): { initializers: TensorProto[]; nodes: NodeProto[] } {
    const initializers: TensorProto[] = [];
    const nodes: NodeProto[] = [];
    for (const [key, g] of this.groups) {
      const packed = this.fresh(`packed_${key}s`);
      // Scales: the largest near 2^15, by a power of two (exact).
      const largest = Math.max(...g.values.map(Math.abs));
      const shift = g.scaled && largest > 0 ? 15 - Math.ceil(Math.log2(largest)) : 0;
      const bits = Uint16Array.from(g.values, (v) => f16Bits(v * 2 ** shift));
      initializers.push({ name: packed, dataType: FLOAT16, dims: [bits.length, ...g.tail], rawData: new Uint8Array(bits.buffer) });
      const single = g.outputs.length === 1;
      const asFloat = single ? g.outputs[0]! : this.fresh(`${packed}_float`);
      const cast = shift === 0 ? asFloat : this.fresh(`${packed}_shifted`);
      nodes.push({ name: this.fresh(`${packed}_Cast`), opType: 'Cast', input: [packed], output: [cast], attribute: [{ name: 'to', type: 2, i: FLOAT }] });
      if (shift !== 0) {
        const factor = this.fresh(`${packed}_factor`);
        initializers.push({ name: factor, dataType: FLOAT, dims: [], rawData: new Uint8Array(Float32Array.of(2 ** -shift).buffer) });
        nodes.push({ name: this.fresh(`${packed}_Mul`), opType: 'Mul', input: [cast, factor], output: [asFloat] });
      }
      if (single) continue;
      const split: NodeProto = { name: this.fresh(`${packed}_Split`), opType: 'Split', input: [asFloat], output: g.outputs, attribute: [{ name: 'axis', type: 2, i: 0 }] };
      if (this.opset >= 13) {
        const sizes = this.fresh(`${packed}_sizes`);
        initializers.push({ name: sizes, dataType: INT64, dims: [g.sizes.length], rawData: new Uint8Array(BigInt64Array.from(g.sizes.map(BigInt)).buffer) });
        split.input!.push(sizes);
      } else {
        split.attribute!.push({ name: 'split', type: 7, ints: g.sizes });
      }
      nodes.push(split);
    }
    return { initializers, nodes };
  }
}
