/**
 * A loaded ONNX model: its bytes, the decoded message, and the byte ranges of the graph's
 * nodes, weights and value infos, so that parts can be assembled from the original bytes.
 */
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { FileError, OnnxFormatError } from '../errors.js';
import { readUserFile } from '../files.js';
import { decodeModel } from './codec.js';
import { partHash } from './part-hash.js';
import type { ModelProto, TensorProto } from './types.js';
import type { FieldRange } from '../proto/reader.js';
import { scanOrThrow } from './wire.js';

export const MODEL_FIELD = { graph: 7, trainingInfo: 20 } as const;
export const GRAPH_FIELD = {
  node: 1,
  name: 2,
  initializer: 5,
  docString: 10,
  input: 11,
  output: 12,
  valueInfo: 13,
  quantizationAnnotation: 14,
  sparseInitializer: 15,
  metadataProps: 16,
} as const;

export interface GraphLayout {
  node: FieldRange[];
  initializer: FieldRange[];
  sparseInitializer: FieldRange[];
  input: FieldRange[];
  output: FieldRange[];
  valueInfo: FieldRange[];
  quantizationAnnotation: FieldRange[];
  /** name, doc_string, metadata_props and any other graph-level field. */
  other: FieldRange[];
}

export interface ModelLayout {
  /** Top-level fields other than graph and training_info, in file order. */
  header: FieldRange[];
  graph: GraphLayout;
}

export interface ExternalRef {
  /** Absolute path of the data file. */
  file: string;
  offset: number;
  length: number;
}

export class LoadedModel {
  private hash?: string;
  constructor(
    readonly bytes: Uint8Array,
    readonly proto: ModelProto,
    readonly layout: ModelLayout,
    /** Directory that external data locations are relative to. */
    readonly dir: string,
    /** The file it came from, for messages and the manifest. */
    readonly file?: string,
  ) {}

  get sha256(): string {
    this.hash ??= partHash(this.bytes);
    return this.hash;
  }

  get label(): string {
    return this.file ?? 'model';
  }
}

function scanLayout(bytes: Uint8Array, proto: ModelProto, file?: string): ModelLayout {
  const top = scanOrThrow(bytes, 0, bytes.length, 'model', file);
  const header: FieldRange[] = [];
  const graph: GraphLayout = {
    node: [],
    initializer: [],
    sparseInitializer: [],
    input: [],
    output: [],
    valueInfo: [],
    quantizationAnnotation: [],
    other: [],
  };
  const byField = new Map<number, FieldRange[]>([
    [GRAPH_FIELD.node, graph.node],
    [GRAPH_FIELD.initializer, graph.initializer],
    [GRAPH_FIELD.sparseInitializer, graph.sparseInitializer],
    [GRAPH_FIELD.input, graph.input],
    [GRAPH_FIELD.output, graph.output],
    [GRAPH_FIELD.valueInfo, graph.valueInfo],
    [GRAPH_FIELD.quantizationAnnotation, graph.quantizationAnnotation],
  ]);
  for (const f of top) {
    if (f.field === MODEL_FIELD.graph && f.wireType === 2) {
      for (const g of scanOrThrow(bytes, f.dataStart, f.end, 'graph', file)) {
        (byField.get(g.field) ?? graph.other).push(g);
      }
    } else if (f.field !== MODEL_FIELD.trainingInfo) {
      header.push(f);
    }
  }
  const g = proto.graph!;
  const check = (what: string, ranges: FieldRange[], items: unknown[] | undefined) => {
    if (ranges.length !== (items?.length ?? 0)) {
      throw new OnnxFormatError(`${file ?? 'model'}: not a valid ONNX model (graph ${what} count mismatch)`, { file });
    }
  };
  check('node', graph.node, g.node);
  check('initializer', graph.initializer, g.initializer);
  check('input', graph.input, g.input);
  check('output', graph.output, g.output);
  check('value_info', graph.valueInfo, g.valueInfo);
  check('sparse_initializer', graph.sparseInitializer, g.sparseInitializer);
  return { header, graph };
}

/** Builds a LoadedModel from bytes already in memory. */
export function modelFromBytes(bytes: Uint8Array, options: { file?: string; dir?: string } = {}): LoadedModel {
  const proto = decodeModel(bytes, options.file);
  const layout = scanLayout(bytes, proto, options.file);
  const dir = options.dir ?? (options.file ? path.dirname(path.resolve(options.file)) : process.cwd());
  return new LoadedModel(bytes, proto, layout, dir, options.file);
}

/** Reads and decodes an ONNX file, and checks that its external data files are there. */
export async function loadModel(file: string): Promise<LoadedModel> {
  const bytes = await readUserFile(file);
  const model = modelFromBytes(bytes, { file });
  await checkExternalData(model);
  return model;
}

/** Where an initializer's data lives when it is stored outside the model file, else undefined. */
export function externalRef(model: LoadedModel, t: TensorProto): ExternalRef | undefined {
  if (t.dataLocation !== 1) return undefined;
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) {
    throw new OnnxFormatError(`${model.label}: tensor '${t.name}' is marked external but has no location`, { file: model.file });
  }
  if (path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
    throw new OnnxFormatError(`${model.label}: tensor '${t.name}' has an external data location outside the model's folder: ${location}`, {
      file: model.file,
    });
  }
  const offset = Number(entries.get('offset') ?? 0);
  const lengthText = entries.get('length');
  return { file: path.join(model.dir, location), offset, length: lengthText === undefined ? -1 : Number(lengthText) };
}

async function checkExternalData(model: LoadedModel): Promise<void> {
  const sizes = new Map<string, number>();
  for (const t of model.proto.graph?.initializer ?? []) {
    const ref = externalRef(model, t);
    if (!ref) continue;
    let size = sizes.get(ref.file);
    if (size === undefined) {
      try {
        size = (await stat(ref.file)).size;
      } catch (err) {
        throw new FileError(`${model.label}: external data file ${path.relative(model.dir, ref.file)} for tensor '${t.name}' is missing`, {
          cause: err,
          file: model.file,
        });
      }
      sizes.set(ref.file, size);
    }
    const end = ref.length >= 0 ? ref.offset + ref.length : ref.offset;
    if (end > size) {
      throw new FileError(
        `${model.label}: external data file ${path.relative(model.dir, ref.file)} is too short for tensor '${t.name}' (needs ${end} bytes, has ${size})`,
        { file: model.file },
      );
    }
  }
}
