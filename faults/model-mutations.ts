/**
 * Mutated models: a seeded corpus of damaged ONNX files made from the test zoo's small models,
 * bit flips and truncation at the byte level, and field mutations through the project's own
 * ONNX codec (dims, element types, node inputs renamed or looped into cycles, nodes removed or
 * doubled, operators and opsets changed, initializers reshaped).
 */
import { decodeModel, encodeModel } from '../src/onnx/codec.js';
import type { ModelProto, NodeProto, ValueInfoProto } from '../src/onnx/types.js';
import { zoo } from '../test/models/zoo.js';
import { byteMutation, Rng } from './rng.js';

/** The zoo models mutated: a chain, branches, reused inputs, constant nodes, many dtypes, two outputs. */
export const MODEL_BASES = ['lenet5', 'input_reuse', 'constant_nodes', 'mixed_dtypes', 'two_outputs', 'inception_like'] as const;

export interface MutatedModel {
  index: number;
  base: string;
  what: string;
  bytes: Uint8Array;
}

const baseBytes = new Map<string, Uint8Array>();

export function baseModelBytes(name: string): Uint8Array {
  let b = baseBytes.get(name);
  if (!b) {
    const z = zoo.find((m) => m.name === name);
    if (!z) throw new Error(`no zoo model ${name}`);
    b = encodeModel(z.build());
    baseBytes.set(name, b);
  }
  return b;
}

/** Element types: every ONNX one, and numbers no type has. */
const ELEM_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 99, -1];
const DIMS = [0, 1, 2, 3, 7, 1e6, 1e9, 2 ** 31, 2 ** 53, -1, -7];

function valueInfos(m: ModelProto): ValueInfoProto[] {
  const g = m.graph!;
  return [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])];
}

function tensorNames(m: ModelProto): string[] {
  const g = m.graph!;
  return [...(g.input ?? []).map((i) => i.name ?? ''), ...(g.node ?? []).flatMap((n) => n.output ?? []), ...(g.initializer ?? []).map((t) => t.name ?? '')].filter((n) => n);
}

type FieldMutation = (rng: Rng, m: ModelProto) => string | undefined;

const FIELD_MUTATIONS: FieldMutation[] = [
  // A declared dim of an input, a value_info or an output.
  (rng, m) => {
    const vis = valueInfos(m).filter((v) => v.type?.tensorType?.shape?.dim?.length);
    if (!vis.length) return undefined;
    const v = rng.pick(vis);
    const dims = v.type!.tensorType!.shape!.dim!;
    const k = rng.int(dims.length);
    const to = rng.pick(DIMS);
    dims[k] = rng.next() < 0.15 ? { dimParam: 'N' } : { dimValue: to };
    return `dim ${k} of ${v.name} set to ${JSON.stringify(dims[k])}`;
  },
  // A dim added or removed.
  (rng, m) => {
    const vis = valueInfos(m).filter((v) => v.type?.tensorType?.shape);
    if (!vis.length) return undefined;
    const v = rng.pick(vis);
    const dims = (v.type!.tensorType!.shape!.dim ??= []);
    if (dims.length && rng.next() < 0.5) {
      dims.pop();
      return `last dim of ${v.name} removed`;
    }
    dims.push({ dimValue: 1 + rng.int(4) });
    return `dim added to ${v.name}`;
  },
  // A declared element type.
  (rng, m) => {
    const vis = valueInfos(m).filter((v) => v.type?.tensorType);
    if (!vis.length) return undefined;
    const v = rng.pick(vis);
    const t = rng.pick(ELEM_TYPES);
    v.type!.tensorType!.elemType = t;
    return `element type of ${v.name} set to ${t}`;
  },
  // An initializer's dims or type (its data left as it was).
  (rng, m) => {
    const inits = m.graph!.initializer ?? [];
    if (!inits.length) return undefined;
    const t = rng.pick(inits);
    if (rng.next() < 0.5) {
      t.dataType = rng.pick(ELEM_TYPES);
      return `initializer ${t.name} type set to ${t.dataType}`;
    }
    const dims = (t.dims ??= []);
    if (dims.length && rng.next() < 0.6) dims[rng.int(dims.length)] = rng.pick(DIMS);
    else dims.push(1 + rng.int(3));
    return `initializer ${t.name} dims set to [${dims.join(',')}]`;
  },
  // A node input renamed: to nothing, to a name no tensor has, or to another tensor.
  (rng, m) => {
    const nodes = (m.graph!.node ?? []).filter((n) => n.input?.length);
    if (!nodes.length) return undefined;
    const n = rng.pick(nodes);
    const k = rng.int(n.input!.length);
    const to = rng.pick(['', 'no_such_tensor', rng.pick(tensorNames(m))]);
    const from = n.input![k];
    n.input![k] = to;
    return `input ${k} of node ${n.name} renamed ${from} -> '${to}'`;
  },
  // A cycle: a node reads the output of a node after it.
  (rng, m) => {
    const nodes = m.graph!.node ?? [];
    if (nodes.length < 2) return undefined;
    const i = rng.int(nodes.length - 1);
    const j = i + 1 + rng.int(nodes.length - 1 - i);
    const a = nodes[i]!;
    const b = nodes[j]!;
    if (!a.input?.length || !b.output?.length) return undefined;
    a.input[rng.int(a.input.length)] = b.output[0]!;
    return `cycle: node ${a.name} reads ${b.output[0]} of later node ${b.name}`;
  },
  // A node removed, or doubled (two producers of its outputs).
  (rng, m) => {
    const nodes = m.graph!.node ?? [];
    if (!nodes.length) return undefined;
    const i = rng.int(nodes.length);
    if (rng.next() < 0.5) {
      const [n] = nodes.splice(i, 1);
      return `node ${n!.name} removed`;
    }
    const copy: NodeProto = { ...nodes[i]!, name: `${nodes[i]!.name}_again` };
    nodes.splice(i + 1 + rng.int(nodes.length - i), 0, copy);
    return `node ${nodes[i]!.name} doubled`;
  },
  // An operator changed: to an unknown one, another real one, or another domain.
  (rng, m) => {
    const nodes = m.graph!.node ?? [];
    if (!nodes.length) return undefined;
    const n = rng.pick(nodes);
    const choice = rng.int(3);
    const from = n.opType;
    if (choice === 0) n.opType = 'NoSuchOp';
    else if (choice === 1) n.opType = rng.pick(['Relu', 'Add', 'Conv', 'MatMul', 'Reshape', 'Concat', 'Identity', 'Loop', 'If', 'Split']);
    else n.domain = 'com.example';
    return choice === 2 ? `node ${n.name} moved to domain com.example` : `node ${n.name} op ${from} -> ${n.opType}`;
  },
  // An attribute removed or set to a nonsense value.
  (rng, m) => {
    const nodes = (m.graph!.node ?? []).filter((n) => n.attribute?.length);
    if (!nodes.length) return undefined;
    const n = rng.pick(nodes);
    const k = rng.int(n.attribute!.length);
    const a = n.attribute![k]!;
    if (rng.next() < 0.5) {
      n.attribute!.splice(k, 1);
      return `attribute ${a.name} of ${n.name} removed`;
    }
    a.ints = [rng.pick(DIMS), rng.pick(DIMS)];
    a.i = rng.pick(DIMS);
    return `attribute ${a.name} of ${n.name} set to nonsense`;
  },
  // A graph input, output or initializer removed, doubled or renamed.
  (rng, m) => {
    const g = m.graph!;
    const lists = [g.input ?? [], g.output ?? [], g.initializer ?? []].filter((l) => l.length);
    const list = rng.pick(lists) as { name?: string }[];
    const k = rng.int(list.length);
    const what = rng.int(3);
    const name = list[k]!.name;
    if (what === 0) list.splice(k, 1);
    else if (what === 1) list.push({ ...list[k]! });
    else list[k]!.name = rng.pick(['', 'renamed', rng.pick(tensorNames(m))]);
    return `${['removed', 'doubled', 'renamed'][what]} graph entry ${name}`;
  },
  // The opset or the IR version.
  (rng, m) => {
    if (rng.next() < 0.5) {
      const o = (m.opsetImport ??= [{ domain: '', version: 13 }]);
      o[0]!.version = rng.pick([0, 1, 6, 7, 22, 999, -3]);
      return `opset set to ${String(o[0]!.version)}`;
    }
    m.irVersion = rng.pick([0, 1, 2, 3, 12, 99, 1000]);
    return `ir_version set to ${String(m.irVersion)}`;
  },
];

/** Mutated model number `i` of the corpus made with `seed`: the same bytes on every run. */
export function mutatedModel(seed: number, i: number): MutatedModel {
  const rng = Rng.forItem(seed, i);
  const base = MODEL_BASES[i % MODEL_BASES.length]!;
  const bytes = baseModelBytes(base);
  // A third of the corpus damaged as bytes, the rest through the codec (one to three fields).
  if (rng.next() < 1 / 3) {
    const b = byteMutation(rng, bytes);
    return { index: i, base, what: b.what, bytes: b.bytes };
  }
  const m = decodeModel(Uint8Array.from(bytes));
  const done: string[] = [];
  const n = 1 + rng.int(3);
  for (let tries = 0; done.length < n && tries < 20; tries++) {
    const what = rng.pick(FIELD_MUTATIONS)(rng, m);
    if (what) done.push(what);
  }
  let out: Uint8Array;
  try {
    out = encodeModel(m);
  } catch (err) {
    // A mutation the encoder cannot write (a negative dim in a uint field...): the bytes damaged instead.
    const b = byteMutation(rng, bytes);
    return { index: i, base, what: `${b.what} (after ${done.join('; ')} did not encode: ${String(err).split('\n')[0]})`, bytes: b.bytes };
  }
  return { index: i, base, what: done.join('; '), bytes: out };
}
