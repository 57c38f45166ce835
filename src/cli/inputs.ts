/**
 * Model inputs from the command line: a payload file (--input_file), an image (--image_file) or
 * a folder of images (--image_batch); none of them means a deterministic random input.
 */
import { FileError, UsageError } from '../errors.js';
import { contentKind } from '../content-kind.js';
import { indexGraph } from '../onnx/graph.js';
import type { LoadedModel } from '../onnx/model.js';
import { readUserFile } from '../files.js';
import { toNumber } from '../onnx/types.js';
import type { HostTensor } from '../runtime/session.js';
import { imageFolderToTensor, imageToTensor, layoutFromInputShape, NORMALISATION_PRESETS, type Normalisation } from '../tensor/images.js';
import { decodePayload } from '../tensor/payload/index.js';
import { PayloadError } from '../tensor/payload/errors.js';
import { dtypeFromOnnx } from '../onnx/dtypes.js';

export interface InputArgs {
  input_file?: string;
  image_file?: string;
  image_batch?: string;
  image_size_x?: number;
  image_size_y?: number;
  image_is_grayscale?: boolean;
  normalisation?: string;
  mean?: number[];
  std?: number[];
  scale?: number;
  image_limit?: number;
  seed?: number;
}

function normalisation(args: InputArgs): Normalisation {
  const base = { ...(NORMALISATION_PRESETS[args.normalisation ?? 'unit'] ?? {}) };
  if (args.scale !== undefined) base.scale = args.scale;
  if (args.mean) base.mean = args.mean;
  if (args.std) base.std = args.std;
  return base;
}

/**
 * Refuses a per-channel --mean or --std (or a preset's) of another count than the channels the
 * input takes, naming the flag or the preset it came from.
 */
function checkNormalisationChannels(args: InputArgs, channels: number, input: string): void {
  const takes = `input '${input}' takes ${channels} channel${channels === 1 ? '' : 's'}`;
  for (const flag of ['mean', 'std'] as const) {
    const v = args[flag];
    if (v && v.length !== 1 && v.length !== channels) throw new UsageError(`--${flag} has ${v.length} values, but ${takes}; give 1${channels === 1 ? '' : ` or ${channels}`}`);
  }
  const preset = NORMALISATION_PRESETS[args.normalisation ?? 'unit'];
  const off = (['mean', 'std'] as const).map((k) => (args[k] ? undefined : preset?.[k]?.length)).find((n) => n !== undefined && n !== 1 && n !== channels);
  if (off !== undefined) {
    throw new UsageError(`--normalisation ${args.normalisation} has a mean and std for ${off} colour channels, but ${takes}; give --mean and --std with ${channels === 1 ? 'one value each' : `1 or ${channels} values each`} (or --normalisation unit or raw)`);
  }
}

/**
 * The payload of --input_file: a file of another kind (a model, a CSV, an empty file) is named as
 * such, and one that does not decode is a file refused (exit 2), as a wrong --onnx_file is.
 */
function payloadFile(file: string, bytes: Uint8Array): ReturnType<typeof decodePayload> {
  const kind = contentKind(bytes);
  if (kind !== undefined && kind !== 'a payload file (.pb)' && kind !== 'binary content') {
    throw new FileError(`${file}: not a payload file (.pb) (it looks like ${kind}); data_processing makes one from images`, { file });
  }
  try {
    return decodePayload(bytes, { file });
  } catch (err) {
    if (err instanceof PayloadError) throw new FileError(err.message, { cause: err, file });
    throw err;
  }
}

/**
 * Input tensors given on the command line, or undefined when none was. With `fixedBatch`, the
 * pictures must number what a fixed batch dimension takes (the model is run on them as one input;
 * quant_model instead runs them one sample at a time).
 */
export async function inputsFromArgs(model: LoadedModel, args: InputArgs, options: { fixedBatch?: boolean } = {}): Promise<Record<string, HostTensor> | undefined> {
  const given = [args.input_file, args.image_file, args.image_batch].filter(Boolean).length;
  if (given > 1) throw new UsageError('give only one of --input_file, --image_file and --image_batch');
  if (given === 0) return undefined;
  const index = indexGraph(model.proto.graph!, model.label);
  if (args.input_file) {
    const bytes = await readUserFile(args.input_file);
    const payload = payloadFile(args.input_file, bytes);
    const feeds: Record<string, HostTensor> = {};
    for (const name of index.inputs) {
      const t = payload.tensors.get(name);
      if (!t) throw new UsageError(`${args.input_file} has no tensor '${name}' (the model's inputs: ${index.inputs.join(', ')}; the file has: ${[...payload.tensors.keys()].join(', ')})`);
      feeds[name] = t;
    }
    return feeds;
  }
  const name = index.inputs[0]!;
  if (index.inputs.length > 1) throw new UsageError(`${model.label} has ${index.inputs.length} inputs; images can feed only a single-input model (use --input_file)`);
  const declared = (model.proto.graph?.input ?? []).find((v) => v.name === name)!;
  const dims = (declared.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : null));
  const elem = declared.type?.tensorType?.elemType ?? 1;
  const dtype = dtypeFromOnnx(elem).name;
  if (dtype !== 'float32' && dtype !== 'uint8' && dtype !== 'float16') throw new UsageError(`input '${name}' is ${dtype}; images can feed float32, float16 or uint8 inputs`);
  const sizes: Parameters<typeof layoutFromInputShape>[1] = { dtype };
  if (args.image_size_x !== undefined) sizes.width = args.image_size_x;
  if (args.image_size_y !== undefined) sizes.height = args.image_size_y;
  if (args.image_is_grayscale !== undefined) sizes.grayscale = args.image_is_grayscale;
  const layout = layoutFromInputShape(dims, sizes);
  checkNormalisationChannels(args, layout.channels, name);
  const tensor = args.image_file
    ? await imageToTensor(args.image_file, layout, normalisation(args))
    : await imageFolderToTensor(args.image_batch!, layout, normalisation(args), args.image_limit !== undefined ? { limit: args.image_limit } : {});
  // A fixed batch dimension takes exactly that many pictures: onnxruntime's own message for
  // another count breaks off before the numbers.
  const batch = dims[0];
  const count = tensor.dims[0];
  if (options.fixedBatch && typeof batch === 'number' && batch > 0 && count !== undefined && count !== batch) {
    const shape = dims.map((d) => d ?? '?').join('x');
    const source = args.image_file ? `--image_file ${args.image_file}: 1 picture` : `--image_batch ${args.image_batch}: ${count} pictures`;
    throw new UsageError(`${source}, but input '${name}' takes a fixed batch of ${batch} (${shape}); give ${batch === 1 ? 'one picture (--image_file, or --image_limit 1)' : `${batch} pictures (--image_limit ${batch} takes the first ${batch})`}, or a model whose batch dimension is free`);
  }
  return { [name]: tensor };
}
