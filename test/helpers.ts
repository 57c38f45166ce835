/**
 * Shared test helpers: analysing zoo and real models, running split parts, comparing outputs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { encodeModel } from '../src/onnx/codec.js';
import { loadModel, modelFromBytes, type LoadedModel } from '../src/onnx/model.js';
import { createSession } from '../src/runtime/ort.js';
import type { HostTensor, Session, SessionOptions } from '../src/runtime/session.js';
import { analyzeModel, type ModelAnalysis } from '../src/split/analysis.js';
import type { BuiltPart } from '../src/split/split.js';
import { readSegments } from '../src/split/external-data.js';
import { randomTensor } from '../src/tensor/host.js';
import type { TensorSpec, ZooModel, RealModel } from './models/zoo.js';

export interface TestSubject {
  name: string;
  model: LoadedModel;
  inputs: TensorSpec[];
}

export function zooSubject(z: ZooModel): TestSubject {
  return { name: z.name, model: modelFromBytes(encodeModel(z.build()), { file: `${z.name}.onnx` }), inputs: z.inputs };
}

export async function realSubject(r: RealModel): Promise<TestSubject> {
  return { name: r.name, model: await loadModel(r.path), inputs: r.inputs };
}

export function inputShapes(inputs: TensorSpec[]): Record<string, number[]> {
  return Object.fromEntries(inputs.map((i) => [i.name, i.dims]));
}

export async function analyze(s: TestSubject): Promise<ModelAnalysis> {
  return analyzeModel(s.model, { createSession, inputShapes: inputShapes(s.inputs) });
}

/** Deterministic random inputs of the model's input types. */
export function feedsFor(a: ModelAnalysis, seed = 7): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  a.index.inputs.forEach((name, i) => {
    const info = a.shapes.get(name)!;
    const type = ({ 1: 'float32', 7: 'int64', 6: 'int32', 10: 'float16' } as Record<number, string>)[info.elemType] ?? 'float32';
    feeds[name] = randomTensor(type, info.dims, seed + i);
  });
  return feeds;
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
