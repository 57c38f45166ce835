/**
 * Benchmark of onnx-cloud's start-up (not a test): `node dist/bench/cloud-start-bench.js` (also
 * part of `npm run bench`).
 *
 * An OSCAR or Kubernetes job starts a fresh onnx-cloud for every payload, so what it costs before
 * and after the part's own work is paid on every row. Measured here, in the same run:
 *
 *  - bare: `node -e 0` from spawn to exit (the Node start-up no tool can avoid);
 *  - part: in this process, the part's session load plus its one run on the payload (what the
 *    job has to do; median of 5 fresh sessions);
 *  - file: `onnx-cloud --onnx_file part.onnx --input_file in.pb --save_results out.pb`, from spawn
 *    to exit (the result is written before it exits);
 *  - store: `onnx-cloud --input_key .. --output_key ..` against the embedded S3 server (a
 *    Kubernetes Job's way), the part fetched from the store: spawn to exit.
 *
 * Goal: file - part <= 150 ms (onnx-cloud from process start to result written within 150 ms
 * plus the part's session load). Each figure is the median of 9 runs, interleaved.
 * Models: squeezenet_like (the whole model as the cloud part, as split 0 sends it) and lenet5.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeModel } from '../src/onnx/codec.js';
import { partHash } from '../src/onnx/part-hash.js';
import { median } from '../src/profile/stats.js';
import { createSession } from '../src/runtime/ort.js';
import { startEmbeddedStore } from '../src/storage/embedded.js';
import { storeKeys } from '../src/storage/store.js';
import { encodePayload } from '../src/tensor/payload/index.js';
import { lenet5 } from '../test/models/zoo.js';
import { machineInfo, writeBenchJson } from './machine.js';
import { squeezenetLike } from './threads-bench.js';

export const CLOUD_START_GOAL_MS = 150;
const RUNS = 9;

const here = path.dirname(fileURLToPath(import.meta.url));
const onnxCloud = path.join(here, '..', 'cloud', 'onnx-cloud.js');

/** Milliseconds from spawn to exit; rejects on a non-zero exit. */
function timed(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')} exited ${code}: ${err}`))));
  });
}

export interface CloudStartResult {
  model: string;
  bareMs: number;
  partMs: number;
  fileMs: number;
  storeMs: number;
  /** fileMs - partMs: onnx-cloud's own cost from process start to result written. */
  fileOverheadMs: number;
  storeOverheadMs: number;
  pass: boolean;
}

export async function runCloudStartBench(opts: { outFile?: string | null; print?: boolean } = {}): Promise<{ models: CloudStartResult[] }> {
  const print = opts.print ?? true;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onnx-manager-cloud-start-'));
  const bucket = 'cloud-start';
  const store = await startEmbeddedStore({ bucket });
  const env = { ...process.env, MINIO_ENDPOINT: store.endpoint, MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey, MINIO_BUCKET: bucket, MINIO_REGION: store.region };
  const models: CloudStartResult[] = [];
  const loadStart = os.loadavg();
  try {
    const specs = [
      { name: 'squeezenet_like', build: squeezenetLike, dims: [1, 3, 224, 224] },
      { name: 'lenet5', build: lenet5, dims: [1, 1, 28, 28] },
    ];
    for (const m of specs) {
      const bytes = encodeModel(m.build());
      const hash = partHash(bytes);
      const n = m.dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n).map((_, i) => Math.sin(i));
      const input = { type: 'float32', dims: m.dims, data };
      const payload = encodePayload({ kind: 'input', runId: 'bench', splitIndex: 0, rep: 0, nextModels: [hash], timings: [], tensors: new Map([['input', input]]) }).concat();
      const part = path.join(dir, `${m.name}.onnx`);
      const inFile = path.join(dir, `${m.name}.in.pb`);
      await writeFile(part, bytes);
      await writeFile(inFile, payload);
      await store.store.put(storeKeys.model(hash), bytes);
      const inputKey = storeKeys.input('bench', 0, m.name);
      await store.store.put(inputKey, payload);
      const bare: number[] = [];
      const partTimes: number[] = [];
      const file: number[] = [];
      const fromStore: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        bare.push(await timed(['-e', '0']));
        if (i < 5) {
          const t0 = performance.now();
          const s = await createSession(bytes, {});
          await s.run({ input });
          partTimes.push(performance.now() - t0);
          await s.release();
        }
        file.push(await timed([onnxCloud, '--onnx_file', part, '--input_file', inFile, '--save_results', path.join(dir, `${m.name}.out.pb`)], env));
        fromStore.push(await timed([onnxCloud, '--input_key', inputKey, '--output_key', storeKeys.output('bench', 0, `${m.name}-${i}`)], env));
      }
      const r = { model: m.name, bareMs: median(bare), partMs: median(partTimes), fileMs: median(file), storeMs: median(fromStore), fileOverheadMs: 0, storeOverheadMs: 0, pass: false };
      r.fileOverheadMs = r.fileMs - r.partMs;
      r.storeOverheadMs = r.storeMs - r.partMs;
      r.pass = r.fileOverheadMs <= CLOUD_START_GOAL_MS;
      models.push(r);
    }
  } finally {
    await store.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (print) {
    console.log(`onnx-cloud from spawn to exit (result written), median of ${RUNS}; part = session load + one run in-process; goal: file - part <= ${CLOUD_START_GOAL_MS} ms`);
    console.log('model            node -e 0  part ms  file ms  file - part  store ms  store - part');
    for (const r of models) {
      console.log(
        `${r.model.padEnd(16)} ${r.bareMs.toFixed(0).padStart(9)}  ${r.partMs.toFixed(0).padStart(7)}  ${r.fileMs.toFixed(0).padStart(7)}  ${r.fileOverheadMs.toFixed(0).padStart(7)} ${r.pass ? 'PASS' : 'FAIL'}  ${r.storeMs.toFixed(0).padStart(8)}  ${r.storeOverheadMs.toFixed(0).padStart(12)}`,
      );
    }
  }
  const result = { date: new Date().toISOString(), machine: { ...machineInfo(), loadAverage: { start: loadStart, end: os.loadavg() } }, goalMs: CLOUD_START_GOAL_MS, models };
  writeBenchJson('cloud-start', result, opts.outFile, print);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCloudStartBench();
}
