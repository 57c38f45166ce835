/**
 * The two entry points end to end, in-process: onnx-edge (edgeMain) runs the edge part of a split
 * and writes or pushes the payload; onnx-cloud (cloudMain) runs the cloud part(s) on it, by hand
 * (--onnx_file/--input_file/--save_results) and under the OSCAR contract (INPUT_FILE_PATH,
 * TMP_OUTPUT_DIR, parts fetched by content hash from the store), and fails with one clear line.
 *
 * Both entries create their sessions with the default graph optimisation ('all'), so the cloud's
 * result is compared with the full model run in onnxruntime (also 'all') within 1e-5 relative.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cloudMain } from '../../cloud/onnx-cloud.js';
import { edgeMain } from '../../edge/onnx-edge.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import type { Manifest } from '../../src/split/manifest.js';
import { writeSplitAt } from '../../src/split/split.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import type { SplitPoint } from '../../src/split/points.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { DEFAULT_BUCKET, storeKeys } from '../../src/storage/store.js';
import { decodePayload, encodePayload, type Payload } from '../../src/tensor/payload/index.js';
import { analyze, assertSameTensor, feedsFor, zooSubject } from '../helpers.js';
import { GraphBuilder } from '../models/builder.js';
import { zoo, type ZooModel } from '../models/zoo.js';

const REL_TOL = 1e-5;

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs an entry with process.stdout/stderr.write stubbed: string writes (the entries' report and
 * message lines) are captured, anything else (the test runner's own binary stream) passes through.
 */
async function capture(fn: () => Promise<number>): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write;
  const ew = process.stderr.write;
  const stub = (orig: typeof process.stdout.write, stream: NodeJS.WriteStream, sink: string[]) =>
    function (chunk: unknown, ...rest: unknown[]): boolean {
      if (typeof chunk === 'string') {
        sink.push(chunk);
        const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        cb?.();
        return true;
      }
      return (orig as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    } as typeof process.stdout.write;
  process.stdout.write = stub(ow, process.stdout, out);
  process.stderr.write = stub(ew, process.stderr, err);
  let code: number;
  try {
    code = await fn();
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** The one JSON line an entry writes on success. */
function report(c: Captured, what: string): Record<string, unknown> {
  assert.equal(c.code, 0, `${what} failed (exit ${c.code}): ${c.stderr}`);
  assert.equal(c.stderr, '', `${what} wrote to stderr`);
  const lines = c.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: one stdout line, got ${JSON.stringify(c.stdout)}`);
  assert.ok(c.stdout.endsWith('\n'));
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** The one stderr line an entry writes on failure. */
function failure(c: Captured, code: number, what: string, tool = 'onnx-cloud'): string {
  assert.equal(c.code, code, `${what}: exit ${c.code}, expected ${code}; stderr ${JSON.stringify(c.stderr)}`);
  assert.equal(c.stdout, '', `${what}: nothing on stdout`);
  assert.match(c.stderr, new RegExp(`^${tool}: [^\\n]+\\n$`), `${what}: one stderr line, got ${JSON.stringify(c.stderr)}`);
  assert.doesNotMatch(c.stderr, /unexpected error/, `${what}: a known error, not an unexpected one`);
  return c.stderr;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function writePayload(file: string, p: Payload): Promise<void> {
  await writeFile(file, encodePayload(p).concat());
}

interface Fixture {
  name: string;
  a: ModelAnalysis;
  dir: string;
  manifest: Manifest;
  manifestFile: string;
  /** Split index of the first cut (the one between edge and cloud). */
  splitIndex: number;
  /** Cut tensors of the first cut. */
  cut: string[];
  parts: string[];
  /** sha256 of each part file, in the order of `parts`. */
  sha: string[];
  feeds: Record<string, HostTensor>;
  inputFile: string;
  expected: Record<string, HostTensor>;
}

/**
 * Splits a model after the layers `pick` names (given its interior split points) into a fresh
 * folder, writes the input payload, and runs the full model for the expected output.
 */
async function fixture(root: string, z: ZooModel, pick: (interior: SplitPoint[]) => string[]): Promise<Fixture> {
  const a = await analyze(zooSubject(z));
  const m = a.index.dataNodes.length;
  const layers = pick(a.splitPoints.filter((p) => p.position > 0 && p.position < m));
  const dir = await mkdtemp(join(root, `${z.name}-`));
  const manifest = await writeSplitAt(a, layers, dir);
  assert.equal(manifest.splits.length, layers.length);
  const first = manifest.splits[0]!;
  assert.deepEqual(first.sides, ['edge', ...layers.map(() => 'cloud')]);
  const parts = first.parts.map((p) => join(dir, p));
  const sha = await Promise.all(parts.map(async (p) => sha256(await readFile(p))));
  const feeds = feedsFor(a, 11);
  const inputFile = join(dir, 'input.pb');
  await writePayload(inputFile, { kind: 'input', runId: 'data', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map(Object.entries(feeds)) });
  const full = await createSession(a.model.bytes);
  const expected = await full.run(feeds);
  await full.release();
  return {
    name: z.name,
    a,
    dir,
    manifest,
    manifestFile: join(dir, 'manifest.json'),
    splitIndex: first.index,
    cut: first.cut_tensors.map((t) => t.name),
    parts,
    sha,
    feeds,
    inputFile,
    expected,
  };
}

function assertModelOutputs(f: Fixture, result: Payload, what: string): void {
  assert.equal(result.kind, 'output', what);
  assert.equal(result.error, undefined, what);
  assert.deepEqual([...result.tensors.keys()].sort(), [...f.a.index.outputs].sort(), `${what}: result tensors`);
  for (const name of f.a.index.outputs) assertSameTensor(result.tensors.get(name), f.expected[name]!, `${what}: ${name}`, REL_TOL);
}

function assertTimings(t: unknown, parts: number, what: string): Record<string, number> {
  assert.ok(t && typeof t === 'object', `${what}: timings`);
  const timings = t as Record<string, number>;
  const names = ['cloud_download_ms', 'cloud_decode_ms', 'cloud_load_ms', 'cloud_ms', 'cloud_cpu_ms', ...Array.from({ length: parts }, (_, i) => `cloud_part${i + 1}_ms`)];
  for (const n of names) {
    assert.equal(typeof timings[n], 'number', `${what}: timing ${n} in ${JSON.stringify(timings)}`);
    assert.ok(timings[n]! >= 0 && Number.isFinite(timings[n]), `${what}: ${n} = ${timings[n]}`);
  }
  assert.equal(timings[`cloud_part${parts + 1}_ms`], undefined, `${what}: only ${parts} part(s) ran`);
  assert.ok(timings.cloud_load_ms! > 0, `${what}: the parts were loaded cold`);
  assert.ok(timings.cloud_cpu_ms! > 0, `${what}: the parts' CPU time`);
  return timings;
}

/** Runs the edge by hand into `out`, checks its report and the payload; returns the payload. */
async function runEdge(f: Fixture, out: string, extra: string[] = []): Promise<Payload> {
  const c = await capture(() =>
    edgeMain([
      '--onnx_file',
      f.parts[0]!,
      '--input_file',
      f.inputFile,
      '--manifest',
      f.manifestFile,
      '--split_index',
      String(f.splitIndex),
      '--output_file',
      out,
      ...extra,
    ]),
  );
  const r = report(c, `${f.name} edge`);
  assert.equal(typeof r.edge_ms, 'number');
  assert.ok((r.edge_ms as number) >= 0);
  assert.deepEqual(r.tensors, f.cut, 'edge report: the cut tensors');
  assert.equal(r.output_file, out);
  const bytes = await readFile(out);
  assert.equal(r.bytes, bytes.length, 'edge report: payload size');
  assert.equal(r.key, undefined, 'not pushed');
  const p = decodePayload(bytes, { file: out });
  assert.equal(p.kind, 'input');
  assert.equal(p.splitIndex, f.splitIndex);
  assert.deepEqual(p.nextModels, f.sha.slice(1), 'payload names the cloud parts by content hash');
  assert.deepEqual([...p.tensors.keys()], f.cut);
  assert.deepEqual(
    p.timings.map((t) => t.name),
    ['edge_ms'],
  );
  for (const n of f.cut) {
    const expectedDims = f.manifest.splits[0]!.cut_tensors.find((t) => t.name === n)!.shape;
    assert.deepEqual([...p.tensors.get(n)!.dims], expectedDims, `${n} dims`);
  }
  // A model input in the cut goes through unchanged.
  for (const n of f.cut) if (f.feeds[n]) assertSameTensor(p.tensors.get(n), f.feeds[n]!, `${n} passed through`);
  return p;
}

function byName(name: string): ZooModel {
  const z = zoo.find((m) => m.name === name);
  assert.ok(z, name);
  return z;
}

/**
 * A model output that later layers also read: input -> conv -> relu = 'features' (a model output)
 * -> conv -> relu -> pool -> gemm = 'logits'.
 */
const outputReadLater: ZooModel = {
  name: 'output_read_later',
  build: () => {
    const g = new GraphBuilder('output_read_later', 12);
    let x = g.input('input', [1, 3, 16, 16]);
    x = g.output(g.relu(g.conv(x, 8, 3)), 'features');
    x = g.relu(g.conv(x, 8, 3, { stride: 2 }));
    g.output(g.gemm(g.flatten(g.globalAvgPool(x)), 10), 'logits');
    return g.build();
  },
  inputs: [{ name: 'input', dims: [1, 3, 16, 16] }],
  outputs: [
    { name: 'features', dims: [1, 8, 16, 16] },
    { name: 'logits', dims: [1, 10] },
  ],
};

describe('onnx-edge + onnx-cloud', () => {
  let root: string;
  let resnet: Fixture;
  let reuse: Fixture;
  let multi: Fixture;
  let emb: EmbeddedStore;
  let env: Record<string, string>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'onnx-edge-cloud-'));
    const withInput = (ps: SplitPoint[]) => ps.filter((p) => p.cutTensors.some((t) => t.name === 'input'));
    resnet = await fixture(root, byName('resnet_like'), (ps) => [ps[Math.floor(ps.length / 2)]!.splitLayer]);
    reuse = await fixture(root, byName('input_reuse'), (ps) => {
      const w = withInput(ps);
      assert.ok(w.length >= 2, 'input_reuse has interior cuts that carry the model input');
      return [w[Math.floor(w.length / 2)]!.splitLayer];
    });
    assert.ok(reuse.cut.includes('input') && reuse.cut.length >= 2, `input_reuse cut ${reuse.cut}`);
    // Two cuts, both carrying the model input: part3 reads 'input', which part2 does not produce.
    multi = await fixture(root, byName('input_reuse'), (ps) => [withInput(ps)[0]!.splitLayer, withInput(ps).at(-1)!.splitLayer]);
    assert.equal(multi.parts.length, 3);
    emb = await startEmbeddedStore({ bucket: DEFAULT_BUCKET });
    for (const f of [resnet, reuse, multi]) {
      for (const [i, p] of f.parts.entries()) if (i > 0) await emb.store.put(storeKeys.model(f.sha[i]!), await readFile(p));
    }
    env = { MINIO_ENDPOINT: emb.endpoint, MINIO_ACCESS_KEY: emb.accessKey, MINIO_SECRET_KEY: emb.secretKey };
  });

  after(async () => {
    await emb?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** An OSCAR job's environment for a payload file. */
  function oscarEnv(input: string, outDir: string, key: string): Record<string, string> {
    const event = { EventName: 's3:ObjectCreated:Put', Key: `${DEFAULT_BUCKET}/${key}`, Records: [{ s3: { bucket: { name: DEFAULT_BUCKET }, object: { key } } }] };
    return {
      ...env,
      INPUT_FILE_PATH: input,
      TMP_OUTPUT_DIR: outDir,
      STORAGE_OBJECT_KEY: key,
      EVENT: JSON.stringify(event),
      JOB_UUID: randomUUID(),
    };
  }

  describe('by hand (onnx_first_inference / onnx_second_inference)', () => {
    for (const which of ['resnet_like', 'input_reuse'] as const) {
      it(`${which}: edge part -> payload -> cloud part reproduces the full model`, async () => {
        const f = which === 'resnet_like' ? resnet : reuse;
        const mid = join(f.dir, 'mid.pb');
        const out = join(f.dir, 'results', 'out.pb');
        const sent = await runEdge(f, mid, ['--run_id', `hand-${which}`, '--rep', '2']);
        assert.equal(sent.runId, `hand-${which}`);
        assert.equal(sent.rep, 2);
        const c = await capture(() => cloudMain(['--onnx_file', f.parts[1]!, '--input_file', mid, '--save_results', out]));
        const r = report(c, `${which} cloud`);
        assert.equal(r.result, out);
        assert.deepEqual(r.tensors, [...f.a.index.outputs]);
        assertTimings(r.timings, 1, `${which} cloud report`);
        const result = decodePayload(await readFile(out), { file: out });
        assertModelOutputs(f, result, `${which} result`);
        assert.equal(result.runId, `hand-${which}`);
        assert.equal(result.splitIndex, f.splitIndex);
        assert.equal(result.rep, 2);
        assert.deepEqual(result.nextModels, []);
        assert.ok(result.timings.some((t) => t.name === 'cloud_ms'));
        assert.equal(typeof result.host, 'string');
      });
    }

    it('the edge without --manifest sends every output of its part', async () => {
      const mid = join(resnet.dir, 'all-outputs.pb');
      const c = await capture(() => edgeMain(['--onnx_file', resnet.parts[0]!, '--input_file', resnet.inputFile, '--output_file', mid]));
      const r = report(c, 'edge without manifest');
      const p = decodePayload(await readFile(mid));
      assert.deepEqual(p.nextModels, []);
      assert.deepEqual(r.tensors, [...p.tensors.keys()]);
      // The cloud part runs on it when given by file.
      const out = join(resnet.dir, 'all-outputs-result.pb');
      report(await capture(() => cloudMain(['--onnx_file', resnet.parts[1]!, '--input_file', mid, '--save_results', out])), 'cloud');
      assertModelOutputs(resnet, decodePayload(await readFile(out)), 'result');
    });
  });

  describe('the OSCAR contract', () => {
    it('edge --push puts input/<run>/<split>/<rep>.pb into the store', async () => {
      const runId = `push-${randomUUID()}`;
      const c = await capture(() =>
        edgeMain(
          ['--onnx_file', resnet.parts[0]!, '--input_file', resnet.inputFile, '--manifest', resnet.manifestFile, '--split_index', String(resnet.splitIndex), '--run_id', runId, '--rep', '4', '--push'],
          env,
        ),
      );
      const r = report(c, 'edge --push');
      const key = storeKeys.input(runId, resnet.splitIndex, 4);
      assert.equal(r.key, `${DEFAULT_BUCKET}/${key}`);
      assert.equal(typeof r.upload_ms, 'number');
      assert.equal(r.output_file, undefined);
      assert.ok(await emb.store.exists(key), `${key} in the store`);
      const bytes = await emb.store.get(key);
      assert.equal(bytes.length, r.bytes);
      const p = decodePayload(bytes, { file: key });
      assert.equal(p.kind, 'input');
      assert.equal(p.runId, runId);
      assert.equal(p.splitIndex, resnet.splitIndex);
      assert.equal(p.rep, 4);
      assert.deepEqual(p.nextModels, [resnet.sha[1]]);
      assert.deepEqual([...p.tensors.keys()], resnet.cut);

      // What OSCAR does next: the object lands in the job as INPUT_FILE_PATH; the cloud part comes
      // from the store by the hash the payload names; the result goes to TMP_OUTPUT_DIR.
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'in', '4.pb');
      const outDir = join(job, 'out');
      await mkdir(join(job, 'in'));
      await mkdir(outDir);
      await writeFile(input, bytes);
      const cc = await capture(() => cloudMain([], oscarEnv(input, outDir, key)));
      const rr = report(cc, 'cloud (OSCAR)');
      const resultFile = join(outDir, basename(input));
      assert.equal(rr.result, resultFile);
      assertTimings(rr.timings, 1, 'cloud (OSCAR) report');
      assert.deepEqual(await readdir(outDir), ['4.pb'], 'only the result in TMP_OUTPUT_DIR');
      const result = decodePayload(await readFile(resultFile), { file: resultFile });
      assertModelOutputs(resnet, result, 'OSCAR result');
      assert.equal(result.runId, runId);
      assert.equal(result.rep, 4);
    });

    it('input_reuse: a cut carrying the model input, parts from the store', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'reuse.pb');
      await runEdge(reuse, input);
      const outDir = join(job, 'out');
      const rr = report(await capture(() => cloudMain([], oscarEnv(input, outDir, 'input/x/0/0.pb'))), 'cloud (OSCAR)');
      assert.equal(rr.result, join(outDir, 'reuse.pb'));
      assertModelOutputs(reuse, decodePayload(await readFile(join(outDir, 'reuse.pb'))), 'input_reuse OSCAR result');
    });

    it('two cloud parts (multi_split_model, 2 cuts): part2 and part3 run in order', async () => {
      assert.equal(multi.manifest.splits.length, 2);
      for (const s of multi.manifest.splits) assert.deepEqual(s.sides, ['edge', 'cloud', 'cloud']);
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'multi.pb');
      const sent = await runEdge(multi, input);
      assert.deepEqual(sent.nextModels, [multi.sha[1], multi.sha[2]]);
      // part3 reads the model input straight from the edge's payload, not through part2.
      const part3 = await createSession(await readFile(multi.parts[2]!));
      const part2 = await createSession(await readFile(multi.parts[1]!));
      assert.ok(part3.inputNames.includes('input') && !part2.outputNames.includes('input'), 'part3 needs the payload tensor directly');
      await part3.release();
      await part2.release();

      const outDir = join(job, 'out');
      const rr = report(await capture(() => cloudMain([], oscarEnv(input, outDir, 'input/m/0/0.pb'))), 'cloud (OSCAR, 2 parts)');
      assertTimings(rr.timings, 2, 'two-part report');
      assert.deepEqual(rr.tensors, [...multi.a.index.outputs], 'only the model outputs come back, not part2 -> part3 tensors');
      assertModelOutputs(multi, decodePayload(await readFile(join(outDir, 'multi.pb'))), 'two-part OSCAR result');

      // The same by hand, parts given in order as files.
      const out = join(job, 'by-hand.pb');
      const c = await capture(() => cloudMain(['--onnx_file', multi.parts[1]!, multi.parts[2]!, '--input_file', input, '--save_results', out]));
      assertTimings(report(c, 'cloud (by hand, 2 parts)').timings, 2, 'two-part by hand');
      assertModelOutputs(multi, decodePayload(await readFile(out)), 'two-part by-hand result');
    });
  });

  describe('two cloud parts with several model outputs', () => {
    /** Edge by hand, then the cloud parts from the store (OSCAR); returns the result payload. */
    async function chain(f: Fixture): Promise<Payload> {
      for (const [i, p] of f.parts.entries()) if (i > 0) await emb.store.put(storeKeys.model(f.sha[i]!), await readFile(p));
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'chain.pb');
      const sent = await runEdge(f, input);
      assert.deepEqual(sent.nextModels, f.sha.slice(1));
      const outDir = join(job, 'out');
      const rr = report(await capture(() => cloudMain([], oscarEnv(input, outDir, 'input/c/0/0.pb'))), `${f.name} cloud`);
      assertTimings(rr.timings, f.parts.length - 1, `${f.name} report`);
      return decodePayload(await readFile(join(outDir, 'chain.pb')));
    }

    it('two_outputs: part2 produces aux_logits, part3 logits; both come back', async () => {
      const f = await fixture(root, byName('two_outputs'), (ps) => [ps[0]!.splitLayer, 'aux_logits']);
      assert.equal(f.parts.length, 3);
      const part2 = await createSession(await readFile(f.parts[1]!));
      assert.ok(part2.outputNames.includes('aux_logits'), `part2 outputs ${part2.outputNames}`);
      await part2.release();
      assertModelOutputs(f, await chain(f), 'two_outputs');
    });

    it('a model output that the next cloud part also reads comes back (the payload names the outputs)', async () => {
      const f = await fixture(root, outputReadLater, (ps) => [ps[0]!.splitLayer, 'features']);
      assert.equal(f.parts.length, 3);
      assertModelOutputs(f, await chain(f), 'output_read_later');
    });
  });

  describe('failures: exit code and one line on stderr', () => {
    it('a part whose content does not match its hash -> exit 1, "wrong content"', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'p.pb');
      const p = await runEdge(resnet, input);
      // A hash whose object in the store holds other bytes (here part1's).
      const fake = sha256(Buffer.from(`not a part ${randomUUID()}`));
      await emb.store.put(storeKeys.model(fake), await readFile(resnet.parts[0]!));
      await writePayload(input, { ...p, nextModels: [fake] });
      const outDir = join(job, 'out');
      const msg = failure(await capture(() => cloudMain([], oscarEnv(input, outDir, 'input/w/0/0.pb'))), 1, 'wrong content');
      assert.match(msg, /wrong content/);
      assert.ok(msg.includes(fake.slice(0, 12)), `names the part: ${msg}`);
      assert.deepEqual(await readdir(outDir).catch(() => []), [], 'no result written');
    });

    it('a part missing from the store -> exit 1 naming its key', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'p.pb');
      const p = await runEdge(resnet, input);
      const absent = sha256(Buffer.from(`absent ${randomUUID()}`));
      await writePayload(input, { ...p, nextModels: [absent] });
      const msg = failure(await capture(() => cloudMain([], oscarEnv(input, join(job, 'out'), 'input/a/0/0.pb'))), 1, 'missing part');
      assert.ok(msg.includes(storeKeys.model(absent)), msg);
    });

    it('onnx-edge with --manifest needs the split, and refuses a part of another split', async () => {
      const base = ['--onnx_file', resnet.parts[0]!, '--input_file', resnet.inputFile, '--manifest', resnet.manifestFile, '--output_file', join(root, 'never.pb')];
      const msg = failure(await capture(() => edgeMain(base)), 2, 'no split index', 'onnx-edge');
      assert.match(msg, /--manifest needs --split_index/);
      const other = failure(await capture(() => edgeMain([...base, '--split_index', '0'])), 2, 'another split', 'onnx-edge');
      assert.match(other, /has no split 0|is not the edge part of split 0/);
    });

    it('onnx-edge --push with no store in the environment -> exit 2 naming MINIO_ENDPOINT, before it runs or writes anything', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const out = join(job, 'never.pb');
      const args = ['--onnx_file', resnet.parts[0]!, '--input_file', resnet.inputFile, '--push', '--output_file', out];
      const msg = failure(await capture(() => edgeMain(args, {})), 2, 'push without a store', 'onnx-edge');
      assert.match(msg, /--push needs the object store: set MINIO_ENDPOINT/);
      // onnx-edge takes its store from the environment only: the message offers no flag it would refuse.
      assert.doesNotMatch(msg, /--minio_endpoint/);
      const keys = failure(await capture(() => edgeMain(args, { MINIO_ENDPOINT: emb.endpoint })), 2, 'push without keys', 'onnx-edge');
      assert.match(keys, /MINIO_ACCESS_KEY and MINIO_SECRET_KEY/);
      assert.deepEqual(await readdir(job), [], 'no payload written');
    });

    it('an --output_file or --save_results that is the payload or a part read -> exit 2, the file as it was', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'input.pb');
      const part1 = join(job, 'part1.onnx');
      const part2 = join(job, 'part2.onnx');
      await writeFile(input, await readFile(resnet.inputFile));
      await writeFile(part1, await readFile(resnet.parts[0]!));
      await writeFile(part2, await readFile(resnet.parts[1]!));
      const before = await Promise.all([input, part1, part2].map((f) => readFile(f)));
      for (const over of [input, part1]) {
        const msg = failure(await capture(() => edgeMain(['--onnx_file', part1, '--input_file', input, '--output_file', over])), 2, `edge over ${over}`, 'onnx-edge');
        assert.match(msg, /^onnx-edge: --output_file .* is the (payload \(--input_file\)|edge part \(--onnx_file\)), which onnx-edge reads; name another file\n$/);
      }
      const mid = join(job, 'mid.pb');
      report(await capture(() => edgeMain(['--onnx_file', part1, '--input_file', input, '--output_file', mid])), 'edge');
      const midBytes = await readFile(mid);
      for (const over of [mid, part2]) {
        const msg = failure(await capture(() => cloudMain(['--onnx_file', part2, '--input_file', mid, '--save_results', over])), 2, `cloud over ${over}`);
        assert.match(msg, /^onnx-cloud: --save_results .* is the (payload \(--input_file\)|part \(--onnx_file\)), which onnx-cloud reads; name another file\n$/);
      }
      assert.deepEqual(await Promise.all([input, part1, part2].map((f) => readFile(f))), before);
      assert.deepEqual(await readFile(mid), midBytes);
    });

    it('onnx-cloud by hand without --onnx_file and without a store -> exit 2, saying where the parts can come from', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'p.pb');
      await runEdge(resnet, input);
      const msg = failure(await capture(() => cloudMain(['--input_file', input, '--save_results', join(job, 'r.pb')], {})), 2, 'no store, no parts');
      assert.match(msg, /^onnx-cloud: the parts .* come from the store: set MINIO_ENDPOINT .*, or give them with --onnx_file\n$/);
      assert.deepEqual(await readdir(job), ['p.pb']);
    });

    it('no INPUT_FILE_PATH and no --input_file -> exit 2', async () => {
      const msg = failure(await capture(() => cloudMain([], { ...env, TMP_OUTPUT_DIR: join(root, 'unused') })), 2, 'no input');
      assert.match(msg, /no payload: give --input_file or set INPUT_FILE_PATH/);
      const msg2 = failure(await capture(() => cloudMain(['--input_file', resnet.inputFile], { ...env })), 2, 'no output');
      assert.match(msg2, /--save_results or set TMP_OUTPUT_DIR/);
    });

    it('a payload lacking a tensor the part needs -> exit 1 naming the tensor', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'p.pb');
      const p = await runEdge(reuse, input);
      const tensors = new Map(p.tensors);
      tensors.delete('input');
      await writePayload(input, { ...p, tensors });
      const msg = failure(await capture(() => cloudMain([], oscarEnv(input, join(job, 'out'), 'input/t/0/0.pb'))), 1, 'missing tensor');
      assert.match(msg, /needs tensor 'input'/);
      // By hand too.
      const msg2 = failure(
        await capture(() => cloudMain(['--onnx_file', reuse.parts[1]!, '--input_file', input, '--save_results', join(job, 'r.pb')])),
        1,
        'missing tensor by hand',
      );
      assert.match(msg2, /'input'/);
    });

    it('onnx-edge on a payload lacking the part input -> exit 2 naming the payload, the tensor and the part', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'empty.pb');
      await writePayload(input, { kind: 'input', runId: 'data', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map() });
      const out = join(job, 'never.pb');
      const msg = failure(await capture(() => edgeMain(['--onnx_file', resnet.parts[0]!, '--input_file', input, '--output_file', out])), 2, 'edge missing tensor', 'onnx-edge');
      const [needed] = resnet.a.index.inputs;
      assert.equal(msg, `onnx-edge: ${input} has no tensor '${needed}', which ${resnet.parts[0]} needs\n`);
      assert.deepEqual(await readdir(job), ['empty.pb'], 'no payload written');
    });

    it('a corrupted payload file -> exit 1 with the payload error; a missing one -> exit 2', async () => {
      const job = await mkdtemp(join(root, 'job-'));
      const input = join(job, 'p.pb');
      await runEdge(resnet, input);
      const bytes = await readFile(input);
      // Truncated.
      await writeFile(input, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const outDir = join(job, 'out');
      const msg = failure(await capture(() => cloudMain([], oscarEnv(input, outDir, 'input/c/0/0.pb'))), 1, 'truncated payload');
      assert.ok(msg.includes(input), `names the file: ${msg}`);
      assert.match(msg, /invalid payload: truncated/);
      // Not a payload at all.
      await writeFile(input, Buffer.from('{"tensor": [1, 2, 3]}\n'));
      const msg2 = failure(await capture(() => cloudMain(['--onnx_file', resnet.parts[1]!, '--input_file', input, '--save_results', join(job, 'r.pb')])), 1, 'garbage payload');
      assert.ok(msg2.includes(input), `names the file: ${msg2}`);
      assert.match(msg2, /invalid payload/);
      assert.deepEqual(await readdir(outDir).catch(() => []), [], 'no result written');
      // A missing payload file: a file named that is not there (README's exit codes: 2), where a
      // payload that is there but corrupt failed on the way (1).
      const msg3 = failure(await capture(() => cloudMain([], oscarEnv(join(job, 'nope.pb'), outDir, 'input/c/0/1.pb'))), 2, 'missing payload');
      assert.match(msg3, /nope\.pb: no such file/);
    });
  });
});
