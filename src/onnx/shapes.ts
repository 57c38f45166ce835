/**
 * Tensor types and shapes as the model states them: the inputs (symbolic batch bound, overrides
 * applied), the weights, and value_info where it gives a complete static shape. Each tensor
 * records where its shape came from; the rest are measured by split/shape-probe.ts.
 */
import { DEFAULTS } from '../config/defaults.js';
import { SplitError, UsageError } from '../errors.js';
import { checkDeclared, checkInitializerInputs, exactTensorBytes, MAX_TENSOR_BYTES, shapeText } from './declared-checks.js';
import { dtypeFromOnnx, tensorBytes } from './dtypes.js';
import type { GraphIndex } from './graph.js';
import type { LoadedModel } from './model.js';
import { fixedDim, toNumber, type TensorProto, type ValueInfoProto } from './types.js';

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

export interface InputShapeOptions {
  /** Batch size bound to a symbolic first dimension of the inputs. Default 1. */
  batch?: number;
  /** Full shapes for named inputs, overriding what the model declares. */
  inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** Where an entry of inputShapes came from, for the errors about it (default: `--input_shape name:dims`). */
  inputShapeOrigins?: Readonly<Record<string, string>>;
}

export type BoundInputs = Map<string, { elemType: number; dims: number[] }>;

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

/**
 * Refuses an input no tensor here could hold: a dimension beyond 2^53 (not exact in a number) or
 * more bytes than one buffer takes, naming the input, its shape and the bytes it would need.
 */
function checkAllocatable(label: string, name: string, elemType: number, dims: readonly number[]): void {
  const shape = shapeText(dims);
  const huge = dims.findIndex((d) => !Number.isSafeInteger(d));
  if (huge >= 0) throw new SplitError(`${label}: input '${name}' of shape ${shape}: dimension ${shapeText([dims[huge]!])} at position ${huge} is not an exact integer here (more than 2^53)`);
  const bytes = exactTensorBytes(elemType, dims);
  if (bytes > BigInt(MAX_TENSOR_BYTES)) {
    const gib = (Number(bytes) / 2 ** 30).toFixed(1);
    throw new SplitError(`${label}: input '${name}' of shape ${shape} (${dtypeFromOnnx(elemType).name}) would need ${bytes} bytes (${gib} GiB); one tensor here holds at most ${MAX_TENSOR_BYTES} bytes`);
  }
}

/** An input's shape as the model declares it: fixed dimensions as numbers, free ones by their dim_param (or '?'). */
function declaredShapeText(v: ValueInfoProto): string {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (fixedDim(d) >= 0 ? String(fixedDim(d)) : d.dimParam || '?')).join('x') || 'a scalar';
}

/**
 * An --input_shape onnxruntime would refuse once it runs ('inference failed: Invalid rank' or
 * 'Got invalid dimensions'): a dimension of 0, another rank than the model declares, or another
 * value where the model fixes a dimension. Refused here, before anything starts.
 */
function checkGivenShape(name: string, given: readonly number[], declared: ValueInfoProto, origin?: string): void {
  const flag = origin ?? `--input_shape ${name}:${given.join('x')}`;
  const zero = given.indexOf(0);
  if (zero >= 0) throw new UsageError(`${flag}: a dimension of 0 (at position ${zero}); input '${name}' needs every dimension at least 1`);
  const dims = declared.type?.tensorType?.shape?.dim;
  if (!dims) return; // the model declares no shape: any is taken
  const fixed = dims.map(fixedDim);
  const text = declaredShapeText(declared);
  if (given.length !== fixed.length) {
    throw new UsageError(`${flag}: ${given.length} dimensions, but input '${name}' has ${fixed.length} (the model declares ${text})`);
  }
  const wrong = fixed.findIndex((d, i) => d >= 0 && d !== given[i]);
  if (wrong >= 0) {
    throw new UsageError(`${flag}: dimension ${wrong} is ${given[wrong]}, but the model fixes it at ${fixed[wrong]} for input '${name}' (declared ${text}); only its free dimensions can be chosen`);
  }
}

/**
 * A --batch other than 1 for a model none of whose inputs has a free first dimension would be
 * ignored without a word: refused, naming the fixed shapes.
 */
function checkBatchBindable(model: LoadedModel, index: GraphIndex, declared: ReadonlyMap<string, ValueInfoProto>, batch: number | undefined): void {
  if (batch === undefined || batch === 1) return;
  const firstFree = (v: ValueInfoProto | undefined) => {
    const d = v?.type?.tensorType?.shape?.dim?.[0];
    return !v?.type?.tensorType?.shape || !d || fixedDim(d) < 0;
  };
  if (index.inputs.some((n) => firstFree(declared.get(n)))) return;
  const shapes = index.inputs.map((n) => `'${n}' ${declaredShapeText(declared.get(n)!)}`).join(', ');
  throw new UsageError(`--batch ${batch}: ${model.label} fixes the first dimension of every input (${shapes}), so there is no batch to bind; run it at its own batch (leave out --batch)`);
}

/** The concrete shape each model input is run with: declared dims, symbolic batch bound, overrides applied. */
export function boundInputShapes(model: LoadedModel, index: GraphIndex, options: InputShapeOptions): BoundInputs {
  const out: BoundInputs = new Map();
  const declared = new Map((model.proto.graph?.input ?? []).map((v) => [v.name ?? '', v]));
  for (const name of Object.keys(options.inputShapes ?? {})) {
    if (!index.inputs.includes(name)) throw new UsageError(`--input_shape names '${name}', which is not an input of ${model.label} (inputs: ${index.inputs.join(', ')})`);
  }
  checkBatchBindable(model, index, declared, options.batch);
  for (const name of index.inputs) {
    const v = declared.get(name)!;
    const tt = v.type?.tensorType;
    if (!tt?.elemType) throw new SplitError(`${model.label}: input '${name}' is not a tensor with a known element type`);
    const given = options.inputShapes?.[name];
    if (given) {
      checkGivenShape(name, given, v, options.inputShapeOrigins?.[name]);
      checkAllocatable(model.label, name, tt.elemType, given);
      out.set(name, { elemType: tt.elemType, dims: [...given] });
      continue;
    }
    const dims = (tt.shape?.dim ?? []).map((d, i) => {
      const known = fixedDim(d);
      if (known >= 0) return known;
      if (i === 0) return options.batch ?? 1;
      const all = tt.shape?.dim ?? [];
      const example = all.map((x, j) => (j === 0 ? String(options.batch ?? DEFAULTS.batch) : fixedDim(x) >= 0 ? String(fixedDim(x)) : `<d${j}>`)).join('x');
      const image = all.length === 4 ? ' (for an image input: --image_size_x W --image_size_y H)' : '';
      throw new UsageError(
        `${model.label}: input '${name}' has a free dimension ${d.dimParam ? `'${d.dimParam}' ` : ''}at position ${i}; bind it with --input_shape ${name}:${example}${image}`,
      );
    });
    checkAllocatable(model.label, name, tt.elemType, dims);
    out.set(name, { elemType: tt.elemType, dims });
  }
  return out;
}

/**
 * The shapes the model states: bound inputs and weights always; value_info and graph outputs
 * only when the inputs are exactly as the model declares them.
 */
export function declaredShapes(model: LoadedModel, index: GraphIndex, options: InputShapeOptions): { infos: Map<string, TensorInfo>; bound: BoundInputs } {
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
  checkInitializerInputs(model, infos);
  if (!anySymbolicInput && Object.keys(options.inputShapes ?? {}).length === 0) {
    const declared = new Map<string, TensorInfo & { what: string }>();
    for (const [list, source, what] of [[g.valueInfo, 'value_info', 'value_info of'], [g.output, 'output', 'graph output']] as const) {
      for (const v of list ?? []) {
        const info = staticInfo(v, source);
        if (info && !infos.has(info.name) && !declared.has(info.name)) declared.set(info.name, { ...info, what });
      }
    }
    // Believed only once the graph does not contradict it.
    checkDeclared(model, index, infos, declared);
    for (const [name, { what: _what, ...info }] of declared) infos.set(name, info);
  }
  return { infos, bound };
}
