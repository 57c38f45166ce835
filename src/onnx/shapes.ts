/**
 * Tensor types and shapes: from the model's value_info where it gives a complete static shape,
 * otherwise from one onnxruntime run of the whole model with every needed tensor exposed as an
 * output. Each tensor records where its shape came from.
 */
import { SplitError, UsageError } from '../errors.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import { assemblePart } from '../split/assemble.js';
import { hostTensorBytes, zeroTensor } from '../tensor/host.js';
import { dtypeFromName, dtypeFromOnnx, tensorBytes } from './dtypes.js';
import type { GraphIndex } from './graph.js';
import type { LoadedModel } from './model.js';
import { toNumber, type TensorProto, type ValueInfoProto } from './types.js';

export type ShapeSource = 'input' | 'value_info' | 'output' | 'initializer' | 'run';

export interface TensorInfo {
  name: string;
  /** ONNX element type number. */
  elemType: number;
  dims: number[];
  /** Size of the dense data in bytes. */
  bytes: number;
  source: ShapeSource;
}

export interface ShapeOptions {
  /** Batch size bound to a symbolic first dimension of the inputs. Default 1. */
  batch?: number;
  /** Full shapes for named inputs, overriding what the model declares. */
  inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** Input tensors to run the model on instead of zeros. */
  feeds?: Readonly<Record<string, HostTensor>>;
  /** Creates the session for the shape run (injected so this module stays free of the runtime). */
  createSession: (model: Uint8Array, options: SessionOptions) => Promise<Session>;
}

function staticInfo(v: ValueInfoProto, source: ShapeSource): TensorInfo | undefined {
  const tt = v.type?.tensorType;
  if (!tt || !tt.elemType || !tt.shape) return undefined;
  const dims: number[] = [];
  for (const d of tt.shape.dim ?? []) {
    if (d.dimValue === undefined || d.dimValue === null || (d.dimParam ?? '') !== '') return undefined;
    const n = toNumber(d.dimValue);
    if (n < 0) return undefined;
    dims.push(n);
  }
  const bytes = tensorBytes(tt.elemType, dims);
  if (bytes < 0) return undefined;
  return { name: v.name ?? '', elemType: tt.elemType, dims, bytes, source };
}

export function initializerInfo(t: TensorProto): TensorInfo {
  const dims = (t.dims ?? []).map(toNumber);
  const elemType = t.dataType ?? 1;
  return { name: t.name ?? '', elemType, dims, bytes: Math.max(0, tensorBytes(elemType, dims)), source: 'initializer' };
}

/** The concrete shape each model input is run with: declared dims, symbolic batch bound, overrides applied. */
export function boundInputShapes(model: LoadedModel, index: GraphIndex, options: Pick<ShapeOptions, 'batch' | 'inputShapes'>): Map<string, { elemType: number; dims: number[] }> {
  const out = new Map<string, { elemType: number; dims: number[] }>();
  const declared = new Map((model.proto.graph?.input ?? []).map((v) => [v.name ?? '', v]));
  for (const name of Object.keys(options.inputShapes ?? {})) {
    if (!index.inputs.includes(name)) throw new UsageError(`--input_shape names '${name}', which is not an input of ${model.label} (inputs: ${index.inputs.join(', ')})`);
  }
  for (const name of index.inputs) {
    const v = declared.get(name)!;
    const tt = v.type?.tensorType;
    if (!tt?.elemType) throw new SplitError(`${model.label}: input '${name}' is not a tensor with a known element type`);
    const given = options.inputShapes?.[name];
    if (given) {
      out.set(name, { elemType: tt.elemType, dims: [...given] });
      continue;
    }
    const dims = (tt.shape?.dim ?? []).map((d, i) => {
      const known = d.dimValue !== undefined && d.dimValue !== null && !d.dimParam ? toNumber(d.dimValue) : -1;
      if (known >= 0) return known;
      if (i === 0) return options.batch ?? 1;
      const all = tt.shape?.dim ?? [];
      const example = all.map((x, j) => (j === 0 ? String(options.batch ?? 1) : x.dimValue !== undefined && x.dimValue !== null && !x.dimParam ? String(toNumber(x.dimValue)) : `<d${j}>`)).join('x');
      const image = all.length === 4 ? ' (for an image input: --image_size_x W --image_size_y H)' : '';
      throw new UsageError(
        `${model.label}: input '${name}' has a free dimension ${d.dimParam ? `'${d.dimParam}' ` : ''}at position ${i}; bind it with --input_shape ${name}:${example}${image}`,
      );
    });
    out.set(name, { elemType: tt.elemType, dims });
  }
  return out;
}

/**
 * Types and shapes of every tensor the split engine needs: model inputs, weights, and the
 * outputs of every data-dependent node.
 */
export async function inferShapes(model: LoadedModel, index: GraphIndex, options: ShapeOptions): Promise<Map<string, TensorInfo>> {
  const g = model.proto.graph!;
  const infos = new Map<string, TensorInfo>();
  const bound = boundInputShapes(model, index, options);
  for (const [name, b] of bound) {
    infos.set(name, { name, elemType: b.elemType, dims: b.dims, bytes: Math.max(0, tensorBytes(b.elemType, b.dims)), source: 'input' });
  }
  for (const t of g.initializer ?? []) infos.set(t.name ?? '', initializerInfo(t));
  const anySymbolicInput = index.inputs.some((n) => {
    const v = (g.input ?? []).find((x) => x.name === n);
    return (v?.type?.tensorType?.shape?.dim ?? []).some((d) => d.dimParam || d.dimValue === undefined || d.dimValue === null);
  });
  // Declared shapes are trusted only when the inputs are exactly as the model declares them.
  if (!anySymbolicInput && Object.keys(options.inputShapes ?? {}).length === 0) {
    for (const v of g.valueInfo ?? []) {
      const info = staticInfo(v, 'value_info');
      if (info && !infos.has(info.name)) infos.set(info.name, info);
    }
    for (const v of g.output ?? []) {
      const info = staticInfo(v, 'output');
      if (info && !infos.has(info.name)) infos.set(info.name, info);
    }
  }
  const needed: string[] = [];
  for (const n of index.dataNodes) {
    for (const o of index.nodes[n]!.output ?? []) if (o && !infos.has(o)) needed.push(o);
  }
  if (needed.length === 0) return infos;

  // Each probe exposes one group of tensors (about `budget` bytes, sized from the last tensor
  // seen) and holds only the nodes up to the last of them, so the run keeps one group alive at a
  // time; without an arena its memory goes back when the session is released.
  const feeds: Record<string, HostTensor> = {};
  for (const [name, b] of bound) feeds[name] = options.feeds?.[name] ?? zeroTensor(dtypeFromOnnx(b.elemType).name, b.dims);
  const budget = Math.max(model.bytes.length / 2, 8 * 2 ** 20);
  let estimate = 0;
  for (let i = 0; i < needed.length; ) {
    const group: string[] = [];
    let bytes = 0;
    do {
      group.push(needed[i++]!);
      bytes += estimate;
    } while (i < needed.length && (estimate === 0 ? group.length < 8 : bytes + estimate <= budget));
    const last = Math.max(...group.map((t) => index.position[index.producer.get(t)!]!));
    const probe = assemblePart(model, index, { name: 'shape_probe', nodes: index.order.slice(0, last + 1), inputs: index.inputs, outputs: group }, { shapes: infos });
    const sessionOptions: SessionOptions = { graphOptimizationLevel: 'disabled', enableCpuMemArena: false };
    if (probe.external) {
      const { readSegments } = await import('../split/external-data.js');
      sessionOptions.externalData = [{ path: probe.external.location, data: await readSegments(probe.external) }];
    }
    const session = await options.createSession(probe.model.concat(), sessionOptions);
    try {
      const results = await session.run(feeds);
      for (const name of group) {
        const t = results[name];
        if (!t) continue;
        const elemType = dtypeFromName(t.type).onnx;
        const dims = [...t.dims];
        const size = t.type === 'string' ? hostTensorBytes(t) : tensorBytes(elemType, dims);
        infos.set(name, { name, elemType, dims, bytes: size, source: 'run' });
        estimate = Math.max(size, 1);
      }
    } finally {
      await session.release();
    }
  }
  return infos;
}
