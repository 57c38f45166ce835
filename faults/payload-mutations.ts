/**
 * Mutated payloads: a seeded corpus of damaged input payloads made from real cycles (the edge
 * part of a split run on the original inputs, its cut tensors encoded raw and with each tensor
 * codec): bit flips and truncation of the bytes, and field mutations through the project's own
 * payload codec (names, dims, element types, data, kind, error, next parts, outputs, run ids,
 * codec parameters and bodies).
 */
import { partHash } from '../src/onnx/part-hash.js';
import { createSession } from '../src/runtime/ort.js';
import { runChain } from '../src/runtime/chain.js';
import type { HostTensor } from '../src/runtime/session.js';
import { analyzeModel } from '../src/split/analysis.js';
import { buildParts } from '../src/split/split.js';
import { encodeTensors } from '../src/tensor/codecs/index.js';
import { randomTensor } from '../src/tensor/host.js';
import { encodePayload, type CodedTensor, type Payload } from '../src/tensor/payload/index.js';
import { modelFromBytes } from '../src/onnx/model.js';
import { zoo } from '../test/models/zoo.js';
import { baseModelBytes } from './model-mutations.js';
import { byteMutation, Rng } from './rng.js';

/** A base payload: the cycle it comes from and the cloud parts it names. */
export interface PayloadBase {
  label: string;
  payload: Payload;
  /** Cloud part bytes by sha256. */
  parts: Map<string, Uint8Array>;
  /** The cloud parts in order, by sha256. */
  order: string[];
}

const BASES: readonly { model: string; at: number; codec: string }[] = [
  { model: 'lenet5', at: 0.5, codec: 'raw' },
  { model: 'lenet5', at: 0.3, codec: 'fp16' },
  { model: 'lenet5', at: 0.7, codec: 'int8' },
  { model: 'lenet5', at: 0.5, codec: 'deflate' },
  { model: 'inception_like', at: 0.5, codec: 'raw' },
  { model: 'inception_like', at: 0.4, codec: 'zstd' },
  { model: 'mixed_dtypes', at: 0.5, codec: 'raw' },
  { model: 'two_outputs', at: 0.6, codec: 'bf16' },
  { model: 'input_reuse', at: 0.5, codec: 'raw' },
];

let bases: Promise<PayloadBase[]> | undefined;

async function makeBase(spec: (typeof BASES)[number]): Promise<PayloadBase> {
  const z = zoo.find((m) => m.name === spec.model)!;
  const model = modelFromBytes(baseModelBytes(spec.model), { file: `${spec.model}.onnx` });
  const a = await analyzeModel(model, { createSession, inputShapes: Object.fromEntries(z.inputs.map((s) => [s.name, s.dims])) });
  const interior = a.splitPoints.filter((p) => p.position > 0 && p.position < a.index.dataNodes.length);
  const point = interior[Math.floor(spec.at * (interior.length - 1))]!;
  const built = buildParts(a, [point.position]);
  const edge = await createSession(built[0]!.part.model.concat(), { graphOptimizationLevel: 'disabled' });
  const feeds = Object.fromEntries(
    z.inputs.map((s, i) => [s.name, randomTensor(s.dtype ?? 'float32', s.dims, 5 + i)]),
  );
  const run = await runChain([edge], feeds);
  await edge.release();
  const cut = new Map(point.cutTensors.map((c) => [c.name, run.tensors.get(c.name)!] as const));
  const parts = new Map<string, Uint8Array>();
  const order: string[] = [];
  for (const b of built.slice(1)) {
    const bytes = b.part.model.concat();
    const h = partHash(bytes);
    parts.set(h, bytes);
    order.push(h);
  }
  const coded = spec.codec === 'raw' ? { tensors: cut, coded: new Map<string, CodedTensor>() } : await encodeTensors(cut, spec.codec);
  const payload: Payload = {
    kind: 'input',
    runId: 'faults',
    splitIndex: point.index,
    rep: 0,
    nextModels: order,
    timings: [{ name: 'edge_ms', ms: 1.5 }],
    outputs: a.index.outputs.filter((o) => !run.tensors.has(o) || cut.has(o)),
    tensors: coded.tensors,
    ...(coded.coded.size ? { coded: coded.coded } : {}),
  };
  return { label: `${spec.model} split ${point.index} ${spec.codec}`, payload, parts, order };
}

export function payloadBases(): Promise<PayloadBase[]> {
  bases ??= Promise.all(BASES.map(makeBase));
  return bases;
}

type Mutation = (rng: Rng, p: Payload, base: PayloadBase) => string | undefined;

function anyTensor(rng: Rng, p: Payload): [string, HostTensor] | undefined {
  const all = [...p.tensors];
  return all.length ? rng.pick(all) : undefined;
}

function anyCoded(rng: Rng, p: Payload): [string, CodedTensor] | undefined {
  const all = [...(p.coded ?? new Map<string, CodedTensor>())];
  return all.length ? rng.pick(all) : undefined;
}

function allNames(p: Payload): string[] {
  return [...p.tensors.keys(), ...(p.coded?.keys() ?? [])];
}

function rename(p: Payload, from: string, to: string): void {
  if (p.tensors.has(from)) {
    const t = p.tensors.get(from)!;
    p.tensors.delete(from);
    p.tensors.set(to, t);
  } else if (p.coded?.has(from)) {
    const c = p.coded.get(from)!;
    p.coded.delete(from);
    p.coded.set(to, c);
  }
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, int8: 1, float16: 2, int64: 8, float64: 8, bool: 1, uint16: 2, int16: 2, uint32: 4, uint64: 8 };
const ARRAYS: Record<string, new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView> = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  float16: Uint16Array,
  int64: BigInt64Array,
  float64: Float64Array,
  bool: Uint8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};

function bytesOf(t: HostTensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

/** A tensor of `type` over a copy of `bytes` (whole elements), shaped `dims`. */
function reinterpret(bytes: Uint8Array, type: string, dims?: number[]): HostTensor {
  const n = Math.floor(bytes.length / BYTES[type]!);
  const copy = new Uint8Array(n * BYTES[type]!);
  copy.set(bytes.subarray(0, copy.length));
  return { type, dims: dims ?? [n], data: new ARRAYS[type]!(copy.buffer, 0, n) };
}

const MUTATIONS: Mutation[] = [
  (rng, p) => {
    const names = allNames(p);
    if (!names.length) return undefined;
    const n = rng.pick(names);
    const to = rng.pick([`${n}_renamed`, 'x', n.toUpperCase(), `${n}\u0000`, 'a'.repeat(300)]);
    rename(p, n, to);
    return `tensor ${n} renamed`;
  },
  (rng, p) => {
    const t = anyTensor(rng, p);
    if (!t) return undefined;
    p.tensors.set(rng.pick(['extra', `${t[0]}_copy`, 'unused_tensor']), t[1]);
    return `extra tensor beside ${t[0]}`;
  },
  (rng, p) => {
    const names = allNames(p);
    if (!names.length) return undefined;
    const n = rng.pick(names);
    p.tensors.delete(n);
    p.coded?.delete(n);
    return `tensor ${n} removed`;
  },
  // Dims reshaped, keeping the element count.
  (rng, p) => {
    const t = anyTensor(rng, p);
    if (!t) return undefined;
    const n = t[1].dims.reduce((a, b) => a * b, 1);
    const dims = rng.pick([[n], [1, n], [...t[1].dims].reverse(), [n, 1, 1, 1], [...t[1].dims, 1]]);
    p.tensors.set(t[0], { ...t[1], dims });
    return `tensor ${t[0]} reshaped [${t[1].dims}] -> [${dims}]`;
  },
  // Fewer elements, dims to match.
  (rng, p) => {
    const t = anyTensor(rng, p);
    if (!t || !ArrayBuffer.isView(t[1].data)) return undefined;
    const b = bytesOf(t[1]);
    const keep = rng.int(b.length);
    const shorter = reinterpret(b.subarray(0, keep), t[1].type);
    p.tensors.set(t[0], shorter);
    return `tensor ${t[0]} cut to ${shorter.dims[0]} elements`;
  },
  // Another element type over the same bytes.
  (rng, p) => {
    const t = anyTensor(rng, p);
    if (!t || !ArrayBuffer.isView(t[1].data)) return undefined;
    const type = rng.pick(Object.keys(BYTES).filter((x) => x !== t[1].type));
    const r = reinterpret(bytesOf(t[1]), type);
    const sameCount = r.dims[0] === t[1].dims.reduce((a, b) => a * b, 1);
    p.tensors.set(t[0], sameCount ? { ...r, dims: t[1].dims } : r);
    return `tensor ${t[0]} read as ${type}`;
  },
  // Values no one expects: NaN, infinities, huge numbers.
  (rng, p) => {
    const t = anyTensor(rng, p);
    if (!t || !(t[1].data instanceof Float32Array)) return undefined;
    const d = Float32Array.from(t[1].data);
    const v = rng.pick([NaN, Infinity, -Infinity, 3.4e38, -0]);
    for (let k = 0; k < 1 + rng.int(d.length); k++) d[rng.int(d.length)] = v;
    p.tensors.set(t[0], { ...t[1], data: d });
    return `tensor ${t[0]} given ${v}`;
  },
  (rng, p) => {
    const what = rng.int(2);
    if (what === 0) p.kind = 'output';
    else p.error = rng.pick(['edge failed', '', 'x'.repeat(5000), 'two\nlines']);
    return what === 0 ? 'kind set to output' : 'error set';
  },
  (rng, p, base) => {
    const what = rng.int(5);
    if (what === 0) p.nextModels = [];
    else if (what === 1) p.nextModels = ['0'.repeat(64)];
    else if (what === 2) p.nextModels = [...base.order, ...base.order];
    else if (what === 3) p.nextModels = [...base.order].reverse().concat(['f'.repeat(64)]);
    else p.nextModels = [partHash(new Uint8Array([1, 2, 3]))];
    return `next models set to ${p.nextModels.map((h) => h.slice(0, 6)).join(',') || 'none'}`;
  },
  (rng, p) => {
    const what = rng.int(4);
    if (what === 0) p.outputs = ['no_such_output'];
    else if (what === 1) delete p.outputs;
    else if (what === 2) p.outputs = [...(p.outputs ?? []), ...(p.outputs ?? [])];
    else p.outputs = allNames(p).slice(0, 1);
    return `outputs set to ${JSON.stringify(p.outputs)}`;
  },
  (rng, p) => {
    const what = rng.int(3);
    if (what === 0) p.runId = rng.pick(['', 'r'.repeat(256), 'ok-run.1', 'sp ace']);
    else if (what === 1) p.splitIndex = rng.pick([0, 2 ** 32 - 1, 999999]);
    else p.rep = rng.pick([2 ** 32 - 1, 7]);
    return `header field ${['run id', 'split index', 'rep'][what]} changed`;
  },
  (rng, p) => {
    p.timings = Array.from({ length: rng.int(3000) }, (_, k) => ({ name: `t${k}`, ms: rng.pick([0, -1, 1e308, 5]) }));
    return `${p.timings.length} timings`;
  },
  // A coded tensor's codec, parameters or body.
  (rng, p) => {
    const c = anyCoded(rng, p);
    if (!c) return undefined;
    const [name, t] = c;
    const what = rng.int(6);
    const m: CodedTensor = { ...t, body: Uint8Array.from(t.body) };
    if (what === 0) m.codec = rng.pick(['rot13', 'raw', '', 'FP16', 'zstd', 'deflate', 'fp16', 'int8']);
    else if (what === 1) m.scale = rng.pick([NaN, 0, -1, Infinity, 1e-300]);
    else if (what === 2) m.zeroPoint = rng.pick([300, -300, 1.5, 2 ** 40]);
    else if (what === 3 && m.body.length) for (let k = 0; k < 1 + rng.int(4); k++) m.body[rng.int(m.body.length)]! ^= 1 << rng.int(8);
    else if (what === 4) m.body = m.body.subarray(0, rng.int(m.body.length + 1));
    else m.dims = rng.pick([[...t.dims, 2], t.dims.slice(1), [2 ** 40], [0]]);
    p.coded!.set(name, m);
    return `coded tensor ${name}: ${['codec', 'scale', 'zero point', 'body bits', 'body cut', 'dims'][what]} changed`;
  },
];

export interface MutatedPayload {
  index: number;
  base: PayloadBase;
  what: string;
  bytes: Uint8Array;
}

function concat(chunks: ReturnType<typeof encodePayload>): Uint8Array {
  return chunks.concat();
}

/** Mutated payload number `i` of the corpus made with `seed`. */
export async function mutatedPayload(seed: number, i: number): Promise<MutatedPayload> {
  const all = await payloadBases();
  const rng = Rng.forItem(seed, i);
  const base = all[i % all.length]!;
  const original = concat(encodePayload(base.payload));
  if (rng.next() < 1 / 3) {
    const b = byteMutation(rng, original);
    return { index: i, base, what: b.what, bytes: b.bytes };
  }
  const p: Payload = {
    ...base.payload,
    nextModels: [...base.payload.nextModels],
    timings: [...base.payload.timings],
    tensors: new Map(base.payload.tensors),
    ...(base.payload.coded ? { coded: new Map(base.payload.coded) } : {}),
    ...(base.payload.outputs ? { outputs: [...base.payload.outputs] } : {}),
  };
  const done: string[] = [];
  const n = 1 + rng.int(2);
  for (let tries = 0; done.length < n && tries < 20; tries++) {
    const what = rng.pick(MUTATIONS)(rng, p, base);
    if (what) done.push(what);
  }
  try {
    return { index: i, base, what: done.join('; '), bytes: concat(encodePayload(p)) };
  } catch (err) {
    // The encoder refuses to write it (its checks are the first line of defence): damage the bytes instead.
    const b = byteMutation(rng, original);
    return { index: i, base, what: `${b.what} (${done.join('; ')} was refused by the encoder: ${(err as Error).message})`, bytes: b.bytes };
  }
}
