/**
 * Assembles a part (a sub-model over some of the nodes) from the original model's bytes.
 * Nodes, weights and value infos are byte ranges of the original file, so building a part
 * copies nothing: it lists chunks, and writing it is the only copy.
 */
import { encodeMessage } from '../onnx/codec.js';
import type { GraphIndex } from '../onnx/graph.js';
import { externalRef, GRAPH_FIELD, MODEL_FIELD, type ExternalRef, type LoadedModel } from '../onnx/model.js';
import type { TensorInfo } from '../onnx/shapes.js';
import type { NodeProto, TensorProto, ValueInfoProto } from '../onnx/types.js';
import type { FieldRange } from '../proto/reader.js';
import { Chunks } from '../proto/writer.js';

export interface PartSpec {
  /** Graph name of the part. */
  name: string;
  /** Node indices in execution order. */
  nodes: number[];
  /** Graph inputs of the part, in order. */
  inputs: string[];
  /** Graph outputs of the part, in order. */
  outputs: string[];
}

/** One tensor whose bytes go into the part's external data file. */
export interface ExternalSegment {
  offset: number;
  length: number;
  /** The bytes themselves when in memory, or where to read them. */
  source: Uint8Array | ExternalRef;
}

export interface AssembledPart {
  /** The encoded ModelProto as chunks. */
  model: Chunks;
  /** External data file name (relative to the part file) and its contents, when the part has any. */
  external?: { location: string; segments: ExternalSegment[]; byteLength: number };
}

export interface AssembleOptions {
  /** Tensor types and shapes for inputs and outputs that have no value_info in the model. */
  shapes?: ReadonlyMap<string, TensorInfo>;
  /** File name for the part's external data, relative to the part file. */
  dataLocation?: string;
  /** Parts whose encoding would exceed this many bytes store their larger weights externally. Default just under 2 GiB. */
  externalThreshold?: number;
  /**
   * Nodes that are not the model's (they read no weight the part does not hold), each written
   * right after the part's node `after` (a node index), so that an executor that keeps the file's
   * order among ready nodes runs it as soon as that node has.
   */
  extraNodes?: readonly { after: number; node: NodeProto }[];
}

const DEFAULT_EXTERNAL_THRESHOLD = 2 ** 31 - 64 * 2 ** 20;
const MIN_EXTERNAL_TENSOR = 1024;
const ALIGN = 64;

/** Per-model lookups the assembler needs, computed once and cached on the model. */
interface AssemblyTables {
  valueInfo: Map<string, FieldRange>;
  inputRange: Map<string, FieldRange>;
  outputRange: Map<string, FieldRange>;
  valueInfoByName: { name: string; range: FieldRange }[];
  annotations: { tensor: string; range: FieldRange }[];
  graphExtras: FieldRange[];
}
const tableCache = new WeakMap<LoadedModel, AssemblyTables>();

function tables(model: LoadedModel): AssemblyTables {
  let t = tableCache.get(model);
  if (t) return t;
  const g = model.proto.graph!;
  const lay = model.layout.graph;
  const valueInfo = new Map<string, FieldRange>();
  const inputRange = new Map<string, FieldRange>();
  const outputRange = new Map<string, FieldRange>();
  const typed = (v: ValueInfoProto) => !!v.type;
  (g.valueInfo ?? []).forEach((v, i) => typed(v) && valueInfo.set(v.name ?? '', lay.valueInfo[i]!));
  (g.output ?? []).forEach((v, i) => typed(v) && outputRange.set(v.name ?? '', lay.output[i]!));
  (g.input ?? []).forEach((v, i) => typed(v) && inputRange.set(v.name ?? '', lay.input[i]!));
  t = {
    valueInfo,
    inputRange,
    outputRange,
    valueInfoByName: (g.valueInfo ?? []).map((v, i) => ({ name: v.name ?? '', range: lay.valueInfo[i]! })),
    annotations: (g.quantizationAnnotation ?? []).map((a, i) => ({ tensor: a.tensorName ?? '', range: lay.quantizationAnnotation[i]! })),
    graphExtras: lay.other.filter((f) => f.field !== GRAPH_FIELD.name),
  };
  tableCache.set(model, t);
  return t;
}

function valueInfoPayload(model: LoadedModel, name: string, opts: AssembleOptions): Uint8Array {
  const t = tables(model);
  const range = t.inputRange.get(name) ?? t.outputRange.get(name) ?? t.valueInfo.get(name);
  if (range) return model.bytes.subarray(range.dataStart, range.end);
  const info = opts.shapes?.get(name);
  const v: ValueInfoProto = info
    ? { name, type: { tensorType: { elemType: info.elemType, shape: { dim: info.dims.map((d) => ({ dimValue: d })) } } } }
    : { name };
  return encodeMessage('ValueInfoProto', v);
}

/** Builds the ModelProto of one part. */
export function assemblePart(model: LoadedModel, index: GraphIndex, spec: PartSpec, opts: AssembleOptions = {}): AssembledPart {
  const { bytes, layout } = model;
  const g = model.proto.graph!;
  const tab = tables(model);

  // Weights the part's nodes read (and outputs that are weights themselves).
  const inits = new Set<number>();
  const sparse = new Set<number>();
  // Only needed when the model has value infos to carry over (most exported models have none).
  const produced = tab.valueInfoByName.length > 0 ? new Set<string>() : undefined;
  const addWeight = (name: string) => {
    const i = index.initializers.get(name);
    if (i !== undefined) inits.add(i);
    const s = index.sparseInitializers.get(name);
    if (s !== undefined) sparse.add(s);
  };
  for (const n of spec.nodes) {
    for (const r of index.nodeInputs[n]!) addWeight(r);
    if (produced) for (const o of index.nodes[n]!.output ?? []) if (o) produced.add(o);
  }
  for (const o of spec.outputs) addWeight(o);

  const graph = new Chunks();
  const extra = new Map<number, NodeProto[]>();
  for (const e of opts.extraNodes ?? []) extra.set(e.after, [...(extra.get(e.after) ?? []), e.node]);
  for (const n of spec.nodes) {
    const r = layout.graph.node[n]!;
    graph.push(bytes.subarray(r.start, r.end));
    for (const e of extra.get(n) ?? []) graph.field(GRAPH_FIELD.node, encodeMessage('NodeProto', e));
  }
  graph.field(GRAPH_FIELD.name, Buffer.from(spec.name, 'utf8'));

  // Initializers, in file order. Weights stored outside the model, or parts too large for one
  // protobuf, go into the part's own external data file.
  const initList = [...inits].sort((a, b) => a - b);
  let weightBytes = 0;
  for (const i of initList) weightBytes += layout.graph.initializer[i]!.end - layout.graph.initializer[i]!.start;
  const tooLarge = weightBytes > (opts.externalThreshold ?? DEFAULT_EXTERNAL_THRESHOLD);
  const location = opts.dataLocation ?? `${spec.name}.onnx.data`;
  const segments: ExternalSegment[] = [];
  let dataLength = 0;
  const placeExternal = (t: TensorProto, length: number, source: Uint8Array | ExternalRef) => {
    const offset = Math.ceil(dataLength / ALIGN) * ALIGN;
    dataLength = offset + length;
    segments.push({ offset, length, source });
    const entries = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ];
    const { rawData: _inline, ...rest } = t;
    return encodeMessage('TensorProto', { ...rest, externalData: entries, dataLocation: 1 } satisfies TensorProto);
  };
  for (const i of initList) {
    const t = g.initializer![i]!;
    const r = layout.graph.initializer[i]!;
    const ref = externalRef(model, t);
    if (ref) {
      const length = ref.length >= 0 ? ref.length : -1;
      if (length < 0) throw new RangeError(`tensor '${t.name}' has external data without a length`);
      graph.field(GRAPH_FIELD.initializer, placeExternal(t, length, ref));
    } else if (tooLarge && (t.rawData?.length ?? 0) >= MIN_EXTERNAL_TENSOR) {
      graph.field(GRAPH_FIELD.initializer, placeExternal(t, t.rawData!.length, t.rawData!));
    } else {
      graph.push(bytes.subarray(r.start, r.end));
    }
  }
  for (const s of [...sparse].sort((a, b) => a - b)) {
    const r = layout.graph.sparseInitializer[s]!;
    graph.push(bytes.subarray(r.start, r.end));
  }

  for (const name of spec.inputs) graph.field(GRAPH_FIELD.input, valueInfoPayload(model, name, opts));
  // Models older than IR 4 list their initializers among the graph inputs too; keep that.
  (g.input ?? []).forEach((v, i) => {
    const w = index.initializers.get(v.name ?? '');
    if (w !== undefined && inits.has(w)) graph.push(bytes.subarray(layout.graph.input[i]!.start, layout.graph.input[i]!.end));
  });
  for (const name of spec.outputs) graph.field(GRAPH_FIELD.output, valueInfoPayload(model, name, opts));

  const io = new Set([...spec.inputs, ...spec.outputs]);
  for (const v of tab.valueInfoByName) {
    if (produced!.has(v.name) && !io.has(v.name)) graph.push(bytes.subarray(v.range.start, v.range.end));
  }
  const inPart = tab.annotations.length > 0 ? new Set<number>(spec.nodes) : undefined;
  for (const a of tab.annotations) {
    const p = index.producer.get(a.tensor);
    const w = index.initializers.get(a.tensor);
    if ((p !== undefined && inPart!.has(p)) || (w !== undefined && inits.has(w)) || spec.inputs.includes(a.tensor)) {
      graph.push(bytes.subarray(a.range.start, a.range.end));
    }
  }
  for (const f of tab.graphExtras) graph.push(bytes.subarray(f.start, f.end));

  const modelChunks = new Chunks();
  for (const f of layout.header) modelChunks.push(bytes.subarray(f.start, f.end));
  modelChunks.field(MODEL_FIELD.graph, graph);
  const part: AssembledPart = { model: modelChunks };
  if (segments.length > 0) part.external = { location, segments, byteLength: dataLength };
  return part;
}
