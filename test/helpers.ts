/**
 * Shared test helpers: analysing zoo and real models, running split parts, comparing outputs.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import * as ort from 'onnxruntime-node';
import { randomInputs } from '../src/split/random-inputs.js';
import { encodeModel } from '../src/onnx/codec.js';
import { loadModel, modelFromBytes, type LoadedModel } from '../src/onnx/model.js';
import type { ModelProto } from '../src/onnx/types.js';
import { createSession } from '../src/runtime/ort.js';
import type { HostTensor, Session, SessionOptions } from '../src/runtime/session.js';
import { analyzeModel, type ModelAnalysis } from '../src/split/analysis.js';
import type { BuiltPart } from '../src/split/split.js';
import type { CloudBackend } from '../src/backends/backend.js';
import type { SweepContext } from '../src/profile/sweep.js';
import type { ObjectStore } from '../src/storage/store.js';
import { readSegments } from '../src/split/external-data.js';
import { GraphBuilder } from './models/builder.js';
import { installed, zoo, type TensorSpec, type ZooModel, type RealModel } from './models/zoo.js';

export interface TestSubject {
  name: string;
  model: LoadedModel;
  inputs: TensorSpec[];
}

export function zooSubject(z: ZooModel): TestSubject {
  return { name: z.name, model: modelFromBytes(encodeModel(z.build()), { file: `${z.name}.onnx` }), inputs: z.inputs };
}

export async function realSubject(r: RealModel): Promise<TestSubject> {
  return { name: r.name, model: await loadModel(installed(r.path)), inputs: r.inputs };
}

export function inputShapes(inputs: TensorSpec[]): Record<string, number[]> {
  return Object.fromEntries(inputs.map((i) => [i.name, i.dims]));
}

export async function analyze(s: TestSubject): Promise<ModelAnalysis> {
  return analyzeModel(s.model, { createSession, inputShapes: inputShapes(s.inputs) });
}

/** Deterministic random inputs, each of its input's own element type (the CLI's random input). */
export function feedsFor(a: ModelAnalysis, seed = 7): Record<string, HostTensor> {
  return randomInputs(a, seed);
}

/**
 * Bytes per element of the numeric types onnxruntime-node exchanges, as the ONNX specification
 * sizes them: written here, apart from the project's dtype table, to check its byte counts.
 */
export const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  float16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/**
 * The number of split points of a plain chain (every node reads only the previous node's output,
 * the first one the single graph input, besides weights): one cut after each node, plus cloud
 * only. Counted from the graph itself, apart from the split engine; throws if it is no chain.
 */
export function chainSplitPoints(model: ModelProto): number {
  const g = model.graph!;
  const weights = new Set((g.initializer ?? []).map((t) => t.name));
  const nodes = g.node ?? [];
  if ((g.input ?? []).length !== 1) throw new Error(`${g.name}: not a chain (${(g.input ?? []).length} inputs)`);
  let previous = g.input![0]!.name;
  for (const n of nodes) {
    const data = (n.input ?? []).filter((i) => i && !weights.has(i));
    if (data.length !== 1 || data[0] !== previous || (n.output ?? []).length !== 1) throw new Error(`${g.name}: node ${n.name} breaks the chain`);
    previous = n.output![0]!;
  }
  return nodes.length + 1;
}

/**
 * The execution providers of this onnxruntime-node build that load here: each one that
 * listSupportedBackends() names, tried with a real one-node session (onnxruntime directly, not the
 * project's provider check).
 */
export async function loadableProviders(): Promise<string[]> {
  const g = new GraphBuilder('probe');
  g.output(g.relu(g.input('x', [1, 2])), 'y');
  const bytes = encodeModel(g.build());
  const ok: string[] = [];
  for (const { name } of ort.listSupportedBackends()) {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: [name], logSeverityLevel: 4 }).catch(() => undefined);
    if (!session) continue;
    await session.release();
    ok.push(name);
  }
  return ok;
}

export async function partSession(p: BuiltPart, opts: SessionOptions = {}): Promise<Session> {
  const o: SessionOptions = { graphOptimizationLevel: 'disabled', ...opts };
  if (p.part.external) o.externalData = [{ path: p.part.external.location, data: await readSegments(p.part.external) }];
  return createSession(p.part.model.concat(), o);
}

export function assertSameTensor(actual: HostTensor | undefined, expected: HostTensor, what: string, relTol = 0): void {
  if (!actual) throw new Error(`${what}: missing`);
  if (JSON.stringify(actual.dims) !== JSON.stringify(expected.dims)) throw new Error(`${what}: dims ${actual.dims} != ${expected.dims}`);
  if (actual.type !== expected.type) throw new Error(`${what}: type ${actual.type} != ${expected.type}`);
  const a = actual.data as unknown as ArrayLike<number | bigint>;
  const e = expected.data as unknown as ArrayLike<number | bigint>;
  if (a.length !== e.length) throw new Error(`${what}: length ${a.length} != ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      if (relTol > 0 && Math.abs(x - y) <= relTol * Math.max(1, Math.abs(y))) continue;
    }
    throw new Error(`${what}: element ${i} is ${x}, expected ${y}`);
  }
}

/**
 * Fresh temporary folders for one test file, all removed when the file's tests end.
 * Call at the top level of a test file.
 */
export function tempDirs(): (tag: string) => Promise<string> {
  const made: string[] = [];
  after(async () => {
    for (const d of made) await rm(d, { recursive: true, force: true });
  });
  return async (tag) => {
    const d = await mkdtemp(join(tmpdir(), `onnx-manager-${tag}-`));
    made.push(d);
    return d;
  };
}

/** Writes the zoo model `name` as `<dir>/<name>.onnx` and returns its path. */
export function writeZooModel(name: string, dir: string): string {
  const z = zoo.find((m) => m.name === name);
  if (!z) throw new Error(`no zoo model named ${name}`);
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, encodeModel(z.build()));
  return file;
}

/** A sweep on the CPU, optimisation off, over `store` with `backend` as the cloud side; the run id is `<tag>-<random>`. */
export function sweepContext(analysis: ModelAnalysis, store: ObjectStore, backend: CloudBackend, o: { tag: string; timeoutMs: number; warmup: number }): SweepContext {
  return {
    analysis,
    store,
    backend,
    createSession,
    provider: { name: 'cpu' },
    execType: 'CPU',
    sessionOptions: { graphOptimizationLevel: 'disabled' },
    feeds: feedsFor(analysis),
    runId: `${o.tag}-${Math.random().toString(36).slice(2, 8)}`,
    timeoutMs: o.timeoutMs,
    warmup: o.warmup,
  };
}
