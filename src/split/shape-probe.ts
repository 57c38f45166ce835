/**
 * Shapes the model does not state, measured: parts of the model are run in onnxruntime with a
 * Shape node reading each missing tensor, and the element types are onnxruntime's own.
 */
import { GraphError, messageLine, SplitError } from '../errors.js';
import { dtypeFromName, findDtypeByOnnx, tensorBytes } from '../onnx/dtypes.js';
import type { GraphIndex } from '../onnx/graph.js';
import type { LoadedModel } from '../onnx/model.js';
import { declaredShapes, type InputShapeOptions, type TensorInfo } from '../onnx/shapes.js';
import { shapeText } from '../onnx/declared-checks.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import { hostTensorBytes, zeroTensor } from '../tensor/host.js';
import { assemblePart } from './assemble.js';
import { readSegments } from './external-data.js';

export interface ShapeOptions extends InputShapeOptions {
  /** Input tensors to run the model on instead of zeros. */
  feeds?: Readonly<Record<string, HostTensor>>;
  /** Creates the sessions for the shape runs (injected so this module stays free of the runtime). */
  createSession: (model: Uint8Array, options: SessionOptions) => Promise<Session>;
  /** Told before the shapes the model does not declare are measured: how many tensors, on how many bytes of inputs. */
  onProbe?: (tensors: number, inputBytes: number) => void;
}

/**
 * Types and shapes of every tensor the split engine needs: model inputs, weights, and the
 * outputs of every data-dependent node.
 */
export async function inferShapes(model: LoadedModel, index: GraphIndex, options: ShapeOptions): Promise<Map<string, TensorInfo>> {
  const { infos, bound } = declaredShapes(model, index, options);
  const needed: string[] = [];
  for (const n of index.dataNodes) {
    for (const o of index.nodes[n]!.output ?? []) if (o && !infos.has(o)) needed.push(o);
  }
  if (needed.length === 0) return infos;

  // Each probe measures one group of tensors in execution order: the model up to the last of
  // them, with a Shape node reading each one, and only the Shape nodes' outputs (a few int64
  // each) fetched. onnxruntime runs those Shape nodes late and keeps the group's tensors alive
  // until then, so a group holds about PROBE_GROUP_BYTES or half the model's bytes (sized from the last tensor seen, at most
  // doubling from one probe to the next, so that a jump from small to huge tensors costs a few
  // probes, not thousands). The tensors are graph outputs too, never fetched, for the element
  // types onnxruntime infers for them when it loads the probe; string tensors, whose bytes are
  // their content, are fetched.
  const feeds: Record<string, HostTensor> = {};
  let inputBytes = 0;
  for (const [name, b] of bound) {
    inputBytes += tensorBytes(b.elemType, b.dims);
    if (inputBytes > PROBE_INPUT_BYTES) throw tooCostly(model.label, `input '${name}' (${shapeText(b.dims)}) brings the inputs to ${inputBytes} bytes`);
  }
  options.onProbe?.(needed.length, inputBytes);
  for (const [name, b] of bound) feeds[name] = options.feeds?.[name] ?? probeInput(model.label, name, b);
  const shapeOf = new Map(shapeOutputNames(index, needed).map((s, i) => [needed[i]!, s]));
  const budget = Math.max(model.bytes.length / 2, PROBE_GROUP_BYTES);
  let estimate = 0;
  let most = 1;
  for (let i = 0; i < needed.length; most *= 2) {
    const group: string[] = [];
    let bytes = 0;
    do {
      group.push(needed[i++]!);
      bytes += estimate;
    } while (i < needed.length && group.length < most && bytes + estimate <= budget);
    for (const [name, info] of await probeGroup(model, index, group, shapeOf, feeds, infos, options)) {
      if (info.bytes > PROBE_TENSOR_BYTES) throw tooCostly(model.label, `tensor '${name}' measured ${shapeText(info.dims)} (${info.bytes} bytes)`);
      infos.set(name, info);
      estimate = Math.max(info.bytes, 1);
    }
  }
  return infos;
}

/** One shape run (see inferShapes): the types and shapes of the tensors of `group` that are tensors. */
async function probeGroup(model: LoadedModel, index: GraphIndex, group: readonly string[], shapeOf: ReadonlyMap<string, string>, feeds: Record<string, HostTensor>, infos: ReadonlyMap<string, TensorInfo>, options: Pick<ShapeOptions, 'createSession'>): Promise<Map<string, TensorInfo>> {
  const shapes = group.map((t) => shapeOf.get(t)!);
  const last = Math.max(...group.map((t) => index.position[index.producer.get(t)!]!));
  const extraNodes = group.map((t, i) => ({ after: index.producer.get(t)!, node: { opType: 'Shape', input: [t], output: [shapes[i]!], name: shapes[i]! } }));
  const probe = assemblePart(model, index, { name: 'shape_probe', nodes: index.order.slice(0, last + 1), inputs: index.inputs, outputs: [...group, ...shapes] }, { shapes: infos, extraNodes });
  const sessionOptions: SessionOptions = { graphOptimizationLevel: 'disabled', enableCpuMemArena: false };
  if (probe.external) sessionOptions.externalData = [{ path: probe.external.location, data: await readSegments(probe.external) }];
  const session = await options.createSession(probe.model.concat(), sessionOptions).catch((err: unknown) => {
    throw refusedByRuntime(model.label, err);
  });
  try {
    const types = session.outputTypes;
    const strings = group.filter((t) => types[t] === 'string');
    const results = await session.run(feeds, [...shapes, ...strings]).catch((err: unknown) => {
      throw failedOnInputs(model.label, feeds, err);
    });
    const out = new Map<string, TensorInfo>();
    group.forEach((name, i) => {
      const type = types[name];
      const shape = results[shapes[i]!];
      if (type === undefined || !shape) return;
      const elemType = dtypeFromName(type).onnx;
      const dims = Array.from(shape.data as BigInt64Array, Number);
      out.set(name, { name, elemType, dims, bytes: type === 'string' ? hostTensorBytes(results[name]!) : tensorBytes(elemType, dims), source: 'run' });
    });
    return out;
  } finally {
    await session.release();
  }
}

/** Names for the Shape node of each tensor in `tensors` that no tensor, input or weight of the model has. */
function shapeOutputNames(index: GraphIndex, tensors: readonly string[]): string[] {
  const taken = new Set<string>([...index.inputs, ...index.initializers.keys(), ...index.producer.keys()]);
  let prefix = 'onnx_manager_shape_probe';
  while (tensors.some((_, i) => taken.has(`${prefix}_${i}`))) prefix += '_';
  return tensors.map((_, i) => `${prefix}_${i}`);
}

/**
 * Bounds of the shape runs: each run repeats the model up to the tensors it measures, so inputs or
 * tensors this large would take minutes and gigabytes where the model could simply declare them.
 */
const PROBE_INPUT_BYTES = 256 * 2 ** 20;
/** The tensors one shape run keeps alive, at least (see inferShapes): 8 MiB took PP-OCRv4's text detector 73 runs at 640x640, 64 MiB 13, at a lower peak memory. */
const PROBE_GROUP_BYTES = 64 * 2 ** 20;
const PROBE_TENSOR_BYTES = 512 * 2 ** 20;

function tooCostly(label: string, what: string): SplitError {
  return new SplitError(
    `${label}: ${what}, too large to measure the shapes the model does not declare by running it (at most ${PROBE_INPUT_BYTES} bytes of inputs and ${PROBE_TENSOR_BYTES} per tensor): declare them as value_info, or give a smaller --input_shape`,
  );
}

/**
 * A shape run onnxruntime failed, naming the inputs it was given (zeros of the bound shapes, or
 * the feeds): a free dimension the model cannot take (--input_shape) fails only once it runs.
 */
function failedOnInputs(label: string, feeds: Readonly<Record<string, HostTensor>>, err: unknown): GraphError {
  const inputs = Object.entries(feeds)
    .map(([name, t]) => `${name} ${shapeText(t.dims)}`)
    .join(', ');
  const why = messageLine(err).replace(/^inference failed: /, '');
  return new GraphError(`${label}: onnxruntime failed to run the model on inputs ${inputs} (to measure the shapes it does not declare): ${why}; check --input_shape`, { cause: err });
}

/** A model onnxruntime does not load, named with onnxruntime's reason. */
export function refusedByRuntime(label: string, err: unknown): GraphError {
  return new GraphError(`${label}: onnxruntime cannot load the model: ${messageLine(err).replace(/^onnxruntime could not load the model: /, '')}`, { cause: err });
}

/** The zeros a shape run feeds an input; an element type without host data is refused, naming the input. */
function probeInput(label: string, name: string, b: { elemType: number; dims: number[] }): HostTensor {
  const dtype = findDtypeByOnnx(b.elemType)?.name ?? `element type ${b.elemType}`;
  try {
    return zeroTensor(dtype, b.dims);
  } catch (err) {
    throw new SplitError(`${label}: input '${name}' is ${dtype}, which has no host tensor here, so the shapes the model does not declare cannot be measured`, { cause: err });
  }
}
