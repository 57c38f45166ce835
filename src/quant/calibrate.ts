/**
 * Calibration for data-aware rounding (./gptq.ts): the float model runs on calibration samples with
 * the input of every quantisable Conv, MatMul and Gemm exposed, and each node's input moments
 * E[x xᵀ] are gathered over the rows its weights meet: a Conv's input patches (per group: the
 * group's input channels times the kernel taps, at every output position), a MatMul's or Gemm's
 * input rows.
 *
 * Rows are subsampled (seeded) where a layer would cost more than a fixed budget of
 * multiply-adds per sample, and a node whose rows are longer than `maxDim` is left to
 * nearest rounding (its H would be too costly to invert here).
 */
import { encodeModel } from '../onnx/codec.js';
import type { LoadedModel } from '../onnx/model.js';
import { toNumber, type AttributeProto, type NodeProto } from '../onnx/types.js';
import { createSession } from '../runtime/ort.js';
import type { HostTensor, SessionOptions } from '../runtime/session.js';
import { InputMoments, inverseFactor, type Calibration } from './gptq.js';
import { quantisableNodes, type QuantisableNode } from './quantise.js';

export type { Calibration } from './gptq.js';


export interface CalibrateOptions {
  session?: SessionOptions;
  /** Longest weight row (inputs per output channel) calibrated; default 1024. */
  maxDim?: number;
  /** Multiply-adds spent on one node's moments per sample (at least 32 rows are taken); default 4e6. */
  budget?: number;
  seed?: number;
}

const ints = (n: NodeProto, name: string): number[] | undefined => (n.attribute ?? []).find((a: AttributeProto) => a.name === name)?.ints?.map(toNumber);
const int = (n: NodeProto, name: string): number | undefined => {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.i !== undefined ? toNumber(a.i) : undefined;
};

/** Seeded choice of `take` of `count` indices (all of them when take >= count). */
function pick(count: number, take: number, state: { s: number }): Int32Array {
  if (take >= count) return Int32Array.from({ length: count }, (_, i) => i);
  const out = new Int32Array(take);
  for (let k = 0; k < take; k++) {
    state.s = (Math.imul(state.s, 1664525) + 1013904223) >>> 0;
    out[k] = Math.floor((state.s / 2 ** 32) * count);
  }
  return out;
}

/** Rows taken from each sample however costly the layer. */
const MIN_ROWS = 32;

interface Gatherer {
  dim: number;
  moments: InputMoments[];
  add(x: HostTensor, state: { s: number }): void;
}

function convGatherer(q: QuantisableNode, budget: number): Gatherer | undefined {
  const n = q.node;
  const [, cg, ...kernel] = q.weightDims as [number, number, ...number[]];
  if (kernel.length < 1 || kernel.length > 2) return undefined;
  const autoPad = (n.attribute ?? []).find((a) => a.name === 'auto_pad')?.s;
  const autoPadText = autoPad ? Buffer.from(autoPad).toString() : 'NOTSET';
  if (autoPadText !== 'NOTSET' && autoPadText !== 'VALID') return undefined;
  const [kh, kw] = kernel.length === 2 ? (kernel as [number, number]) : [1, kernel[0]!];
  const two = (v: number[] | undefined, d: number) => (v ? (kernel.length === 2 ? v : [d, v[0]!]) : [d, d]);
  const [sh, sw] = two(ints(n, 'strides'), 1) as [number, number];
  const [dh, dw] = two(ints(n, 'dilations'), 1) as [number, number];
  const pads = ints(n, 'pads');
  const [pt, pl] = pads ? (kernel.length === 2 ? [pads[0]!, pads[1]!] : [0, pads[0]!]) : [0, 0];
  const [pb, pr] = pads ? (kernel.length === 2 ? [pads[2]!, pads[3]!] : [0, pads[1]!]) : [0, 0];
  const groups = int(n, 'group') ?? 1;
  const dim = cg * kh * kw;
  const moments = Array.from({ length: groups }, () => new InputMoments(dim));
  const patch = new Float64Array(dim);
  return {
    dim,
    moments,
    add(x, state) {
      const v = x.data as Float32Array;
      const [batch, channels] = x.dims as [number, number];
      const [h, w] = x.dims.length === 4 ? [x.dims[2]!, x.dims[3]!] : [1, x.dims[2]!];
      if (channels !== cg * groups) return;
      const oh = Math.floor((h + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
      const ow = Math.floor((w + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
      if (oh <= 0 || ow <= 0) return;
      const take = Math.max(MIN_ROWS, Math.floor(budget / (groups * dim * dim)));
      const positions = pick(batch * oh * ow, take, state);
      for (const p of positions) {
        const b = Math.floor(p / (oh * ow));
        const oy = Math.floor(p / ow) % oh;
        const ox = p % ow;
        for (let g = 0; g < groups; g++) {
          let k = 0;
          for (let c = 0; c < cg; c++) {
            const plane = (b * channels + g * cg + c) * h * w;
            for (let ky = 0; ky < kh; ky++) {
              const y = oy * sh - pt + ky * dh;
              for (let kx = 0; kx < kw; kx++) {
                const xx = ox * sw - pl + kx * dw;
                patch[k++] = y >= 0 && y < h && xx >= 0 && xx < w ? v[plane + y * w + xx]! : 0;
              }
            }
          }
          moments[g]!.add(patch);
        }
      }
    },
  };
}

function matMulGatherer(q: QuantisableNode, budget: number): Gatherer {
  const transB = q.node.opType === 'Gemm' && int(q.node, 'transB') === 1;
  const dim = transB ? q.weightDims[1]! : q.weightDims[0]!;
  const moments = [new InputMoments(dim)];
  const row = new Float64Array(dim);
  return {
    dim,
    moments,
    add(x, state) {
      const v = x.data as Float32Array;
      if (x.dims.at(-1) !== dim) return;
      const rows = pick(v.length / dim, Math.max(MIN_ROWS, Math.floor(budget / (dim * dim))), state);
      for (const r of rows) {
        for (let j = 0; j < dim; j++) row[j] = v[r * dim + j]!;
        moments[0]!.add(row);
      }
    },
  };
}

/** Input moments of every quantisable node on `samples`, as inverse factors for gptqRound. */
export async function calibrate(model: LoadedModel, samples: readonly Record<string, HostTensor>[], options: CalibrateOptions = {}): Promise<Calibration> {
  const maxDim = options.maxDim ?? 1024;
  const budget = options.budget ?? 4e6;
  const g = model.proto.graph!;
  const gatherers = new Map<string, { input: string; gather: Gatherer }>();
  for (const q of quantisableNodes(model)) {
    // A ConvTranspose's weights are rounded to nearest (with balanced kernels).
    if (q.node.opType === 'ConvTranspose') continue;
    const gather = q.node.opType === 'Conv' ? convGatherer(q, budget) : matMulGatherer(q, budget);
    if (gather && gather.dim <= maxDim) gatherers.set(q.label, { input: q.node.input![0]!, gather });
  }
  const graphInputs = new Set((g.input ?? []).map((v) => v.name));
  const outputs = new Set((g.output ?? []).map((v) => v.name));
  const exposed = [...new Set([...gatherers.values()].map((x) => x.input))].filter((name) => !graphInputs.has(name) && !outputs.has(name));
  const bytes = encodeModel({ ...model.proto, graph: { ...g, output: [...(g.output ?? []), ...exposed.map((name) => ({ name }))] } });
  const session = await createSession(bytes, options.session);
  const state = { s: (options.seed ?? 1) >>> 0 };
  try {
    for (const s of samples) {
      const out = await session.run(s);
      for (const { input, gather } of gatherers.values()) {
        const x = out[input] ?? s[input];
        if (x && x.data instanceof Float32Array) gather.add(x, state);
      }
    }
  } finally {
    await session.release();
  }
  const result: Calibration = new Map();
  for (const [label, { gather }] of gatherers) {
    if (gather.moments.some((m) => m.rows === 0)) continue;
    const factors = gather.moments.map(inverseFactor);
    if (factors.every((f) => f !== undefined)) result.set(label, { dim: gather.dim, factors: factors as Float64Array[] });
  }
  return result;
}
