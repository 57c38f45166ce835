/**
 * Shapes the model does not state, measured: small parts of the model are run in onnxruntime
 * with the missing tensors exposed as outputs.
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

  // Each probe exposes one group of tensors (about `budget` bytes, sized from the last tensor
  // seen) and holds only the nodes up to the last of them, so the run keeps one group alive at a
  // time; without an arena its memory goes back when the session is released. The first probe
  // measures one tensor, and each next one at most twice as many as the one before.
  const feeds: Record<string, HostTensor> = {};
  let inputBytes = 0;
  for (const [name, b] of bound) {
    inputBytes += tensorBytes(b.elemType, b.dims);
    if (inputBytes > PROBE_INPUT_BYTES) throw tooCostly(model.label, `input '${name}' (${shapeText(b.dims)}) brings the inputs to ${inputBytes} bytes`);
  }
  options.onProbe?.(needed.length, inputBytes);
  for (const [name, b] of bound) feeds[name] = options.feeds?.[name] ?? probeInput(model.label, name, b);
  const budget = Math.max(model.bytes.length / 2, 8 * 2 ** 20);
  let estimate = 0;
  // Groups at most double from one probe to the next, so that a jump from small to huge tensors costs a few of them, not thousands.
  let most = 1;
  for (let i = 0; i < needed.length; most *= 2) {
    const group: string[] = [];
    let bytes = 0;
    do {
      group.push(needed[i++]!);
      bytes += estimate;
    } while (i < needed.length && group.length < most && bytes + estimate <= budget);
    const last = Math.max(...group.map((t) => index.position[index.producer.get(t)!]!));
    const probe = assemblePart(model, index, { name: 'shape_probe', nodes: index.order.slice(0, last + 1), inputs: index.inputs, outputs: group }, { shapes: infos });
    const sessionOptions: SessionOptions = { graphOptimizationLevel: 'disabled', enableCpuMemArena: false };
    if (probe.external) sessionOptions.externalData = [{ path: probe.external.location, data: await readSegments(probe.external) }];
    const session = await options.createSession(probe.model.concat(), sessionOptions).catch((err: unknown) => {
      throw refusedByRuntime(model.label, err);
    });
    try {
      const results = await session.run(feeds).catch((err: unknown) => {
        throw failedOnInputs(model.label, feeds, err);
      });
      for (const name of group) {
        const t = results[name];
        if (!t) continue;
        const elemType = dtypeFromName(t.type).onnx;
        const dims = [...t.dims];
        const size = t.type === 'string' ? hostTensorBytes(t) : tensorBytes(elemType, dims);
        if (size > PROBE_TENSOR_BYTES) throw tooCostly(model.label, `tensor '${name}' measured ${shapeText(dims)} (${size} bytes)`);
        infos.set(name, { name, elemType, dims, bytes: size, source: 'run' });
        estimate = Math.max(size, 1);
      }
    } finally {
      await session.release();
    }
  }
  return infos;
}

/**
 * Bounds of the shape runs: each run repeats the model up to the tensors it measures, so inputs or
 * tensors this large would take minutes and gigabytes where the model could simply declare them.
 */
const PROBE_INPUT_BYTES = 256 * 2 ** 20;
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
