/**
 * Options shared by several operations, and turning them into library arguments.
 */
import { UsageError } from '../errors.js';
import { indexGraph } from '../onnx/graph.js';
import { loadModel, type LoadedModel } from '../onnx/model.js';
import type { HostTensor } from '../runtime/session.js';
import { fixedDim } from '../onnx/types.js';
import { createSession } from '../runtime/ort.js';
import { analyzeModel, type ModelAnalysis } from '../split/analysis.js';
import { humanBytes } from './format.js';

export interface ModelArgs {
  onnx_file?: string;
  batch?: number;
  input_shape?: string[];
  image_size_x?: number;
  image_size_y?: number;
}

export function requireFile(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`missing --${flag}`);
  return v;
}

/** Parses `name:1x3x224x224` entries. */
export function parseInputShapes(entries: readonly string[] | undefined): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const e of entries ?? []) {
    const at = e.lastIndexOf(':');
    const name = e.slice(0, at);
    const dims = e.slice(at + 1).split(/[x,]/).map((d) => Number(d));
    if (at <= 0 || dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new UsageError(`--input_shape '${e}' is not of the form name:1x3x224x224`);
    }
    out[name] = dims;
  }
  return out;
}

/** Inputs from which measuring the undeclared shapes takes long enough (minutes on a large model) to say so first. */
const PROBE_NOTE_BYTES = 32 * 2 ** 20;

/** On stderr, before a long measuring of the shapes a model does not declare: what it does, and how to skip it. */
function probeNote(label: string, tensors: number, inputBytes: number): void {
  if (inputBytes < PROBE_NOTE_BYTES) return;
  process.stderr.write(`onnx-manager: measuring the shapes of ${tensors} tensors ${label} does not declare, by running it on ${humanBytes(inputBytes)} of inputs; this can take minutes (declare them as value_info, or give a smaller --input_shape)\n`);
}

/**
 * Binds --image_size_x / --image_size_y (and --batch, default 1) to the free height, width and
 * batch of each 4-D input (NCHW or NHWC as the model declares) whose shape `inputShapes` does not
 * give yet; an input is bound only when that leaves no dimension free.
 */
export function bindImageSizes(model: LoadedModel, args: Pick<ModelArgs, 'batch' | 'image_size_x' | 'image_size_y'>, inputShapes: Record<string, number[]>): void {
  if (args.image_size_x === undefined && args.image_size_y === undefined) return;
  const index = indexGraph(model.proto.graph!, model.label);
  for (const v of model.proto.graph?.input ?? []) {
    if (!index.inputs.includes(v.name ?? '') || inputShapes[v.name ?? '']) continue;
    const dims = v.type?.tensorType?.shape?.dim ?? [];
    if (dims.length !== 4) continue;
    const known = dims.map(fixedDim);
    const nhwc = known[3] === 1 || known[3] === 3;
    const [h, w] = nhwc ? [1, 2] : [2, 3];
    if (known[0]! < 0) known[0] = args.batch ?? 1;
    if (known[h]! < 0 && args.image_size_y !== undefined) known[h] = args.image_size_y;
    if (known[w]! < 0 && args.image_size_x !== undefined) known[w] = args.image_size_x;
    if (known.every((d) => d >= 0)) inputShapes[v.name!] = known;
  }
}

/**
 * Loads and analyses the model named by --onnx_file with the shape flags applied. `prepare` may
 * supply real input tensors (from a payload or images), whose shapes then bind the model's.
 */
export async function analyzeFromArgs(
  args: ModelArgs,
  prepare?: (model: LoadedModel) => Promise<Record<string, HostTensor> | undefined>,
): Promise<ModelAnalysis & { feeds?: Record<string, HostTensor> }> {
  const file = requireFile(args.onnx_file, 'onnx_file');
  const model = await loadModel(file);
  const inputShapes = parseInputShapes(args.input_shape);
  const feeds = prepare ? await prepare(model) : undefined;
  const inputShapeOrigins: Record<string, string> = {};
  const given = args as { input_file?: string; image_file?: string; image_batch?: string };
  const from = given.input_file ? `--input_file ${given.input_file}` : given.image_batch ? `--image_batch ${given.image_batch}` : given.image_file ? `--image_file ${given.image_file}` : 'the inputs given';
  for (const [name, t] of Object.entries(feeds ?? {})) {
    inputShapes[name] = [...t.dims];
    inputShapeOrigins[name] = `${from} (input '${name}' of shape ${t.dims.join('x') || 'a scalar'})`;
  }
  bindImageSizes(model, args, inputShapes);
  const opts: Parameters<typeof analyzeModel>[1] = { createSession, inputShapes, inputShapeOrigins, onProbe: (tensors, bytes) => probeNote(model.label, tensors, bytes) };
  if (args.batch !== undefined) opts.batch = args.batch;
  if (feeds) opts.feeds = feeds;
  const analysis = await analyzeModel(model, opts);
  return feeds ? { ...analysis, feeds } : analysis;
}
