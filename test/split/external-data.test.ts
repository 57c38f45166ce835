/**
 * Models whose weights live in an external data file: loading them, splitting them to disk (each
 * part gets its own `<part>.onnx.data` holding only the tensors it uses), running the written parts
 * from their paths, and the large-part path that moves the weights of oversized parts out of the
 * protobuf. Broken external data (missing or short file, location outside the model's folder) is
 * refused at load time with a one-line message.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { FileError, OnnxFormatError } from '../../src/errors.js';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { loadModel } from '../../src/onnx/model.js';
import type { ModelProto, TensorProto } from '../../src/onnx/types.js';
import { runChain } from '../../src/runtime/chain.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor, Session } from '../../src/runtime/session.js';
import { analyzeModel, type ModelAnalysis } from '../../src/split/analysis.js';
import { buildParts, writeAllSplits, writeSplitAt } from '../../src/split/split.js';
import { analyze, assertSameTensor, feedsFor, inputShapes, partSession, zooSubject, tempDirs } from '../helpers.js';
import { resnetLike, zoo } from '../models/zoo.js';

const MIN_EXTERNAL = 1024;
const ALIGN = 64;
const resnetZoo = zoo.find((z) => z.name === 'resnet_like')!;
const inputs = resnetZoo.inputs;

const freshDir = tempDirs();

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/**
 * Moves every initializer of at least `min` bytes into `weights.bin` (packed without alignment, in
 * initializer order) and writes `model.onnx` beside it. Returns the model path.
 */
async function writeExternalModel(proto: ModelProto, dir: string, opts: { min?: number; location?: string } = {}): Promise<string> {
  const min = opts.min ?? MIN_EXTERNAL;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializer = proto.graph!.initializer!.map((t): TensorProto => {
    const raw = t.rawData;
    if (!raw || raw.length < min) return t;
    chunks.push(raw);
    const { rawData: _raw, ...rest } = t;
    const ext: TensorProto = {
      ...rest,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: opts.location ?? 'weights.bin' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.length) },
      ],
    };
    offset += raw.length;
    return ext;
  });
  await writeFile(path.join(dir, 'weights.bin'), Buffer.concat(chunks));
  const file = path.join(dir, 'model.onnx');
  await writeFile(file, encodeModel({ ...proto, graph: { ...proto.graph!, initializer } }));
  return file;
}

async function run(session: Session, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Loads every part file from disk by path and runs them in order. */
async function runPartsFromDisk(files: string[], feeds: Record<string, HostTensor>): Promise<Map<string, HostTensor>> {
  const sessions: Session[] = [];
  try {
    for (const f of files) sessions.push(await createSession(f, { graphOptimizationLevel: 'disabled' }));
    return (await runChain(sessions, feeds)).tensors;
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}

/** Big (>= 1 KiB) initializers of the original model, by name. */
function bigWeights(proto: ModelProto): Map<string, Uint8Array> {
  return new Map(
    proto.graph!.initializer!.filter((t) => (t.rawData?.length ?? 0) >= MIN_EXTERNAL).map((t) => [t.name!, t.rawData!] as [string, Uint8Array]),
  );
}

/**
 * A written part's external data: every external tensor points into `<part>.onnx.data` beside it,
 * holds the original bytes, and the file holds exactly the big weights the part's nodes read
 * (its size is their total length plus alignment padding). Returns the external tensor names.
 */
async function checkPartData(partFile: string, big: Map<string, Uint8Array>): Promise<string[]> {
  const part = decodeModel(await readFile(partFile), partFile);
  const g = part.graph!;
  const reads = new Set((g.node ?? []).flatMap((n) => n.input ?? []));
  const expected = [...big.keys()].filter((n) => reads.has(n)).sort();
  const external = (g.initializer ?? []).filter((t) => t.dataLocation === 1);
  assert.deepEqual(external.map((t) => t.name!).sort(), expected, `${partFile}: external tensors`);
  for (const t of g.initializer ?? []) {
    if (t.dataLocation !== 1) assert.ok(!big.has(t.name!), `${partFile}: big tensor '${t.name}' is inline`);
  }
  const dataFile = `${partFile}.data`;
  if (expected.length === 0) {
    assert.ok(!existsSync(dataFile), `${dataFile} should not exist`);
    return [];
  }
  const data = await readFile(dataFile);
  let sum = 0;
  for (const t of external) {
    const e = new Map((t.externalData ?? []).map((x) => [x.key, x.value]));
    assert.equal(e.get('location'), `${path.basename(partFile)}.data`, `${partFile}: '${t.name}' location`);
    const offset = Number(e.get('offset'));
    const length = Number(e.get('length'));
    assert.equal(offset % ALIGN, 0, `'${t.name}' offset aligned`);
    const original = big.get(t.name!)!;
    assert.equal(length, original.length, `'${t.name}' length`);
    assert.ok(Buffer.from(original).equals(data.subarray(offset, offset + length)), `${dataFile}: bytes of '${t.name}'`);
    sum += length;
  }
  assert.ok(data.length >= sum && data.length < sum + ALIGN * external.length, `${dataFile}: ${data.length} bytes for ${sum} bytes of tensors`);
  return expected;
}

describe('models with external data', () => {
  let srcDir: string;
  let modelFile: string;
  let weightsHash: string;
  let original: ModelProto;
  let feeds: Record<string, HostTensor>;
  let expected: Record<string, HostTensor>;
  let a: ModelAnalysis;

  before(async () => {
    original = resnetLike();
    srcDir = await freshDir('ext-src');
    modelFile = await writeExternalModel(resnetLike(), srcDir);
    weightsHash = await sha256(path.join(srcDir, 'weights.bin'));
    const model = await loadModel(modelFile);
    a = await analyzeModel(model, { createSession, inputShapes: inputShapes(inputs) });
    feeds = feedsFor(a);
    expected = await run(await createSession(encodeModel(original), { graphOptimizationLevel: 'disabled' }), feeds);
  });

  it('the converted model keeps its big weights only in weights.bin and runs from its path like the original', async () => {
    const bytes = await readFile(modelFile);
    const big = bigWeights(original);
    assert.ok(big.size >= 5);
    const total = [...big.values()].reduce((s, b) => s + b.length, 0);
    assert.ok(bytes.length < encodeModel(original).length - total + 2048, `model.onnx holds no big weights (${bytes.length} bytes)`);
    for (const t of decodeModel(bytes, modelFile).graph!.initializer!) {
      assert.equal(t.dataLocation === 1, big.has(t.name!), `'${t.name}' external iff big`);
      if (big.has(t.name!)) assert.equal(t.rawData?.length ?? 0, 0);
    }
    assert.equal((await stat(path.join(srcDir, 'weights.bin'))).size, total);
    const got = await run(await createSession(modelFile, { graphOptimizationLevel: 'disabled' }), feeds);
    for (const o of a.index.outputs) assertSameTensor(got[o], expected[o]!, `external model output ${o}`);
  });

  it('writeAllSplits: every split, loaded from disk by path, reproduces the full model; each part has its own data file', async () => {
    const outDir = await freshDir('ext-out');
    const manifest = await writeAllSplits(a, outDir);
    assert.equal(manifest.splits.length, a.splitPoints.length);
    assert.ok(manifest.splits.length > 2);
    const big = bigWeights(original);
    for (const split of manifest.splits) {
      const files = split.parts.map((p) => path.join(outDir, p));
      const pool = await runPartsFromDisk(files, feeds);
      for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `split ${split.index} (${split.split_layer}) output ${o}`);
      const covered = new Set<string>();
      for (const f of files) for (const n of await checkPartData(f, big)) covered.add(n);
      // Between them, the parts use every big weight at least once.
      assert.deepEqual([...covered].sort(), [...big.keys()].sort(), `split ${split.index}: weights covered`);
      // The split folder holds the parts and their data files, nothing else.
      const folder = path.dirname(files[0]!);
      const want = split.parts.flatMap((p) => {
        const f = path.join(outDir, p);
        return existsSync(`${f}.data`) ? [path.basename(f), `${path.basename(f)}.data`] : [path.basename(f)];
      });
      assert.deepEqual((await readdir(folder)).sort(), want.sort(), `split ${split.index}: folder contents`);
    }
    assert.equal(await sha256(path.join(srcDir, 'weights.bin')), weightsHash, 'weights.bin unchanged');
    assert.deepEqual((await readdir(srcDir)).sort(), ['model.onnx', 'weights.bin']);
  });

  it('writeSplitAt with several cuts: parts from disk reproduce the full model', async () => {
    const outDir = await freshDir('ext-multi');
    const mid = a.splitPoints.slice(1, -1);
    const layers = [mid[0]!.splitLayer, mid[Math.floor(mid.length / 2)]!.splitLayer, mid.at(-1)!.splitLayer];
    const manifest = await writeSplitAt(a, layers, outDir);
    assert.deepEqual(manifest.splits[0]!.parts, ['part1.onnx', 'part2.onnx', 'part3.onnx', 'part4.onnx']);
    const files = manifest.splits[0]!.parts.map((p) => path.join(outDir, p));
    const pool = await runPartsFromDisk(files, feeds);
    for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `multi split output ${o}`);
    for (const f of files) await checkPartData(f, bigWeights(original));
    assert.equal(await sha256(path.join(srcDir, 'weights.bin')), weightsHash, 'weights.bin unchanged');
  });

  it('in memory, parts read their external data from weights.bin', async () => {
    const point = a.splitPoints[Math.floor(a.splitPoints.length / 2)]!;
    const parts = buildParts(a, [point.position]);
    assert.equal(parts.length, 2);
    for (const p of parts) assert.equal(p.part.external?.location, `${p.file}.data`);
    const sessions = await Promise.all(parts.map((p) => partSession(p)));
    try {
      const { tensors: pool } = await runChain(sessions, feeds);
      for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `in-memory output ${o}`);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  });
});

describe('parts larger than externalThreshold', () => {
  let a: ModelAnalysis;
  let feeds: Record<string, HostTensor>;
  let expected: Record<string, HostTensor>;
  let big: Map<string, Uint8Array>;

  before(async () => {
    const subject = zooSubject(resnetZoo);
    a = await analyze(subject);
    feeds = feedsFor(a);
    expected = await run(await createSession(a.model.bytes, { graphOptimizationLevel: 'disabled' }), feeds);
    big = bigWeights(a.model.proto);
  });

  const middleLayer = () => a.splitPoints[Math.floor(a.splitPoints.length / 2)]!.splitLayer;

  it('by default an inline model gives inline parts', async () => {
    const parts = buildParts(a, [a.splitPoints[Math.floor(a.splitPoints.length / 2)]!.position]);
    for (const p of parts) assert.equal(p.part.external, undefined);
    const outDir = await freshDir('inline');
    await writeSplitAt(a, [middleLayer()], outDir);
    assert.deepEqual((await readdir(outDir)).sort(), ['manifest.json', 'part1.onnx', 'part2.onnx']);
  });

  it('buildParts moves tensors >= 1 KiB to partN.onnx.data; in-memory sessions agree', async () => {
    const point = a.splitPoints[Math.floor(a.splitPoints.length / 2)]!;
    const parts = buildParts(a, [point.position], { externalThreshold: 1000 });
    assert.equal(parts.length, 2);
    for (const p of parts) {
      assert.ok(p.part.external, `${p.file} has external data`);
      assert.equal(p.part.external.location, `${p.file}.data`);
      for (const s of p.part.external.segments) assert.ok(s.length >= MIN_EXTERNAL);
    }
    const sessions = await Promise.all(parts.map((p) => partSession(p)));
    try {
      const { tensors: pool } = await runChain(sessions, feeds);
      for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `output ${o}`);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  });

  it('writeSplitAt writes part1.onnx.data and part2.onnx.data; parts load from disk and agree', async () => {
    const outDir = await freshDir('threshold');
    const manifest = await writeSplitAt(a, [middleLayer()], outDir, { externalThreshold: 1000 });
    assert.deepEqual((await readdir(outDir)).sort(), ['manifest.json', 'part1.onnx', 'part1.onnx.data', 'part2.onnx', 'part2.onnx.data']);
    const files = manifest.splits[0]!.parts.map((p) => path.join(outDir, p));
    for (const f of files) {
      const names = await checkPartData(f, big);
      assert.ok(names.length > 0, `${f} has external tensors`);
    }
    const pool = await runPartsFromDisk(files, feeds);
    for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `output ${o}`);
  });

  it('writeAllSplits with a tiny threshold: every split loads from disk and agrees', async () => {
    const outDir = await freshDir('threshold-all');
    const manifest = await writeAllSplits(a, outDir, { externalThreshold: 1000 });
    for (const split of manifest.splits) {
      const files = split.parts.map((p) => path.join(outDir, p));
      for (const f of files) await checkPartData(f, big);
      const pool = await runPartsFromDisk(files, feeds);
      for (const o of a.index.outputs) assertSameTensor(pool.get(o), expected[o]!, `split ${split.index} output ${o}`);
    }
  });
});

describe('broken external data is refused at load time', () => {
  const oneLine = (err: Error) => assert.ok(!/[\r\n]/.test(err.message), `one line: ${JSON.stringify(err.message)}`);

  it('missing data file: FileError naming model.onnx, the data file and the tensor', async () => {
    const dir = await freshDir('ext-missing');
    const file = await writeExternalModel(resnetLike(), dir);
    await rm(path.join(dir, 'weights.bin'));
    await assert.rejects(loadModel(file), (err: Error) => {
      assert.ok(err instanceof FileError, `${err.name}: ${err.message}`);
      oneLine(err);
      assert.match(err.message, /model\.onnx/);
      assert.match(err.message, /weights\.bin/);
      assert.match(err.message, /'conv_0_W'/);
      assert.match(err.message, /missing/);
      assert.equal((err as FileError).file, file);
      return true;
    });
  });

  it('data file too short: FileError naming the file, the tensor and the sizes', async () => {
    const dir = await freshDir('ext-short');
    const file = await writeExternalModel(resnetLike(), dir);
    const weights = path.join(dir, 'weights.bin');
    const size = (await stat(weights)).size;
    await truncate(weights, size - 100);
    await assert.rejects(loadModel(file), (err: Error) => {
      assert.ok(err instanceof FileError, `${err.name}: ${err.message}`);
      oneLine(err);
      assert.match(err.message, /model\.onnx/);
      assert.match(err.message, /weights\.bin/);
      assert.match(err.message, /too short/);
      assert.match(err.message, /'gemm_0_W'/, 'the last tensor in the file is the one cut off');
      return true;
    });
  });

  it("a location with '..' is an OnnxFormatError, even when the file is there", async () => {
    const dir = await freshDir('ext-dotdot');
    const sub = path.join(dir, 'model');
    await mkdir(sub);
    // weights.bin in dir, model in dir/model referring to ../weights.bin
    await writeExternalModel(resnetLike(), dir);
    const file = await writeExternalModel(resnetLike(), sub, { location: '../weights.bin' });
    await assert.rejects(loadModel(file), (err: Error) => {
      assert.ok(err instanceof OnnxFormatError, `${err.name}: ${err.message}`);
      oneLine(err);
      assert.match(err.message, /model\.onnx/);
      assert.match(err.message, /\.\.\/weights\.bin/);
      assert.match(err.message, /outside the model's folder/);
      return true;
    });
  });

  it('an absolute location is an OnnxFormatError', async () => {
    const dir = await freshDir('ext-abs');
    const abs = path.join(dir, 'weights.bin');
    const file = await writeExternalModel(resnetLike(), dir, { location: abs });
    assert.ok(existsSync(abs));
    await assert.rejects(loadModel(file), (err: Error) => {
      assert.ok(err instanceof OnnxFormatError, `${err.name}: ${err.message}`);
      oneLine(err);
      assert.match(err.message, /model\.onnx/);
      assert.ok(err.message.includes(abs), err.message);
      return true;
    });
  });
});
