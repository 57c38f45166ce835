/**
 * Benchmark of onnx-cloud's start-up (not a test): `node dist/bench/cloud-start-bench.js` (also
 * part of `npm run bench`).
 *
 * An OSCAR or Kubernetes job starts a fresh onnx-cloud for every payload, so what it costs before
 * and after the part's own work is paid on every row. Measured here, in the same run:
 *
 *  - bare: `node -e 0` from spawn to exit (the Node start-up no tool can avoid);
 *  - floor: bench/cloud-start-floor.ts from spawn to exit: node, onnxruntime-node loaded, the
 *    part read, its session created, run once, its output written; nothing else (the limit a
 *    job on onnxruntime-node can reach here);
 *  - part: in this process, the part's session load plus its one run on the payload (what the
 *    job has to do; median of 5 fresh sessions);
 *  - file: `onnx-cloud --onnx_file part.onnx --input_file in.pb --save_results out.pb`, from spawn
 *    to exit (the result is written before it exits);
 *  - store: `onnx-cloud --input_key .. --output_key ..` against the embedded S3 server (a
 *    Kubernetes Job's way), the part fetched from the store: spawn to exit.
 *
 * Goal: file - part <= 150 ms (onnx-cloud from process start to result written within 150 ms
 * plus the part's session load). floor - part is what that figure cannot go below here, and
 * file / floor what onnx-cloud costs over the limit. Each figure is the median of 9 runs,
 * interleaved. Models: squeezenet_like (the whole model as the cloud part, as split 0 sends it)
 * and lenet5.
 *
 * `--compare path/to/onnx-cloud.js` also times another build of onnx-cloud (say, the previous
 * commit's) in the same runs, interleaved with this one: rows "file (compared)", "store (compared)".
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
const floorScript = path.join(here, 'cloud-start-floor.js');

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
  floorMs: number;
  partMs: number;
  fileMs: number;
  storeMs: number;
  /** fileMs - partMs: onnx-cloud's own cost from process start to result written. */
  fileOverheadMs: number;
  storeOverheadMs: number;
  /** floorMs - partMs: the least fileOverheadMs can be here. */
  floorOverheadMs: number;
  /** fileMs / floorMs and storeMs / floorMs. */
  fileToFloor: number;
  storeToFloor: number;
  pass: boolean;
  /** The same for the build given with --compare. */
  compared?: { entry: string; fileMs: number; storeMs: number; fileOverheadMs: number; fileToFloor: number; storeToFloor: number };
}

export async function runCloudStartBench(opts: { outFile?: string | null; print?: boolean; compare?: string } = {}): Promise<{ models: CloudStartResult[] }> {
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
      const floor: number[] = [];
      const partTimes: number[] = [];
      const file: number[] = [];
      const fromStore: number[] = [];
      const otherFile: number[] = [];
      const otherStore: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        bare.push(await timed(['-e', '0']));
        floor.push(await timed([floorScript, part, 'input', m.dims.join(','), path.join(dir, `${m.name}.floor.bin`)]));
        if (i < 5) {
          const t0 = performance.now();
          const s = await createSession(bytes, {});
          await s.run({ input });
          partTimes.push(performance.now() - t0);
          await s.release();
        }
        file.push(await timed([onnxCloud, '--onnx_file', part, '--input_file', inFile, '--save_results', path.join(dir, `${m.name}.out.pb`)], env));
        fromStore.push(await timed([onnxCloud, '--input_key', inputKey, '--output_key', storeKeys.output('bench', 0, `${m.name}-${i}`)], env));
        if (opts.compare) {
          otherFile.push(await timed([opts.compare, '--onnx_file', part, '--input_file', inFile, '--save_results', path.join(dir, `${m.name}.out.pb`)], env));
          otherStore.push(await timed([opts.compare, '--input_key', inputKey, '--output_key', storeKeys.output('bench', 0, `${m.name}-c${i}`)], env));
        }
      }
      const partMs = median(partTimes);
      const floorMs = median(floor);
      const fileMs = median(file);
      const storeMs = median(fromStore);
      const r: CloudStartResult = {
        model: m.name,
        bareMs: median(bare),
        floorMs,
        partMs,
        fileMs,
        storeMs,
        fileOverheadMs: fileMs - partMs,
        storeOverheadMs: storeMs - partMs,
        floorOverheadMs: floorMs - partMs,
        fileToFloor: fileMs / floorMs,
        storeToFloor: storeMs / floorMs,
        pass: fileMs - partMs <= CLOUD_START_GOAL_MS,
      };
      if (opts.compare) {
        const f = median(otherFile);
        const st = median(otherStore);
        r.compared = { entry: opts.compare, fileMs: f, storeMs: st, fileOverheadMs: f - partMs, fileToFloor: f / floorMs, storeToFloor: st / floorMs };
      }
      models.push(r);
    }
  } finally {
    await store.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (print) {
    console.log(`onnx-cloud from spawn to exit (result written), median of ${RUNS}; part = session load + one run in-process; floor = node + onnxruntime + session + run + write only`);
    console.log(`goal: file - part <= ${CLOUD_START_GOAL_MS} ms; floor - part is the least it can be here; ms, and file or store / floor`);
    const ms = (v: number, w: number) => v.toFixed(0).padStart(w);
    console.log('model            row               node -e 0  floor  part  total  - part  / floor');
    for (const r of models) {
      const line = (row: string, total: number, ratio: number | undefined, mark = '') =>
        console.log(`${r.model.padEnd(16)} ${row.padEnd(17)} ${ms(r.bareMs, 9)}  ${ms(r.floorMs, 5)}  ${ms(r.partMs, 4)}  ${ms(total, 5)}  ${ms(total - r.partMs, 6)}  ${ratio === undefined ? '' : ratio.toFixed(2).padStart(7)}${mark}`);
      line('floor', r.floorMs, undefined);
      line('file', r.fileMs, r.fileToFloor, r.pass ? '  PASS' : '  FAIL');
      line('store', r.storeMs, r.storeToFloor);
      if (r.compared) {
        line('file (compared)', r.compared.fileMs, r.compared.fileToFloor);
        line('store (compared)', r.compared.storeMs, r.compared.storeToFloor);
      }
    }
    console.log(`load average: ${loadStart.map((l) => l.toFixed(1)).join(' ')} at the start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
  }
  const result = { date: new Date().toISOString(), machine: { ...machineInfo(), loadAverage: { start: loadStart, end: os.loadavg() } }, goalMs: CLOUD_START_GOAL_MS, models };
  writeBenchJson('cloud-start', result, opts.outFile, print);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--compare');
  if (at >= 0 && !args[at + 1]) throw new Error('--compare needs the path of an onnx-cloud.js');
  await runCloudStartBench(at >= 0 ? { compare: path.resolve(args[at + 1]!) } : {});
}
