/**
 * Benchmark of the payload codec (not a test): `node dist/bench/payload-bench.js`.
 *
 * One float32 tensor of 100 MB: encode to Chunks, concatenate to one Buffer (as an upload of
 * one body would), decode (aligned input: views, no copy; and, for reference, the same bytes
 * at an odd offset, where the decoder has to copy). Baseline in the same run: a plain
 * Buffer.from copy of the same 100 MB (memcpy speed plus allocation). Each step is timed
 * `runs` times (plus one warm-up); the median is reported, in ms and GB/s (1 GB = 1e9 bytes).
 *
 * Prints a table and writes results/bench/payload.json.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostTensor } from '../src/runtime/session.js';
import { decodePayload, encodePayload, payloadTensorBytes, type Payload } from '../src/tensor/payload/index.js';

export interface PayloadBenchOptions {
  /** Tensor size in bytes (default 100e6). */
  bytes?: number;
  /** Timed runs per step (default 5). */
  runs?: number;
  /** Where to write the JSON (default results/bench/payload.json; null: do not write). */
  outFile?: string | null;
  /** Print the table (default true). */
  print?: boolean;
}

export interface StepResult {
  step: string;
  medianMs: number;
  gbPerS: number;
  runsMs: number[];
}

export interface PayloadBenchResult {
  date: string;
  node: string;
  platform: string;
  cpuModel: string;
  tensorBytes: number;
  transferBytes: number;
  headerBytes: number;
  runs: number;
  steps: StepResult[];
  /** encode + concat + decode (aligned), medians summed. */
  roundTrip: { ms: number; gbPerS: number; goalGbPerS: number; meetsGoal: boolean; overBaseline: number };
}

const GOAL_GB_PER_S = 1;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function time<T>(fn: () => T): [ms: number, result: T] {
  const t = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}

function defaultOutFile(): string {
  // dist/bench/payload-bench.js -> project root
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.join(here, '..', '..', 'results', 'bench', 'payload.json');
}

export function runPayloadBench(opts: PayloadBenchOptions = {}): PayloadBenchResult {
  const bytes = opts.bytes ?? 100e6;
  const runs = opts.runs ?? 5;
  const count = Math.floor(bytes / 4);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = Math.sin(i) * 100; // touch every page; not constant
  const tensor: HostTensor = { type: 'float32', dims: [1, count], data };
  const payload: Payload = {
    kind: 'input',
    runId: 'bench',
    splitIndex: 7,
    rep: 0,
    nextModels: ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    timings: [{ name: 'edge_ms', ms: 12.3 }],
    host: os.hostname(),
    tensors: new Map([['/layer3/Relu_output_0', tensor]]),
  };
  const tensorBytes = payloadTensorBytes(payload);
  const sample = encodePayload(payload);
  const transferBytes = sample.byteLength;
  const wire = Buffer.from(sample.concat()); // own, 8-aligned copy for the decode runs
  // The same bytes at byte offset 1 of a buffer: raw_data is misaligned, the decoder copies.
  const oddBacking = Buffer.allocUnsafeSlow(wire.length + 1);
  wire.copy(oddBacking, 1);
  const odd = oddBacking.subarray(1);

  const steps: { step: string; fn: () => unknown; check?: (r: unknown) => void }[] = [
    { step: 'encode (to Chunks)', fn: () => encodePayload(payload) },
    { step: 'concat (Chunks -> one Buffer)', fn: () => encodePayload(payload).concat() },
    {
      step: 'decode (aligned, zero-copy)',
      fn: () => decodePayload(wire),
      check: (r) => {
        const t = (r as Payload).tensors.get('/layer3/Relu_output_0')!;
        if ((t.data as Float32Array).buffer !== wire.buffer) throw new Error('bench: aligned decode copied');
      },
    },
    { step: 'decode (odd offset, copies)', fn: () => decodePayload(odd) },
    { step: 'baseline: Buffer.from copy', fn: () => Buffer.from(wire) },
  ];

  const results: StepResult[] = [];
  for (const s of steps) {
    const [, warm] = time(s.fn);
    s.check?.(warm);
    const runsMs: number[] = [];
    for (let i = 0; i < runs; i++) runsMs.push(time(s.fn)[0]);
    results.push({ step: s.step, medianMs: median(runsMs), gbPerS: 0, runsMs });
  }
  // concat was measured together with its encode; keep concat alone.
  const encodeMs = results[0]!.medianMs;
  results[1]!.runsMs = results[1]!.runsMs.map((ms) => Math.max(ms - encodeMs, 0));
  results[1]!.medianMs = median(results[1]!.runsMs);
  for (const r of results) r.gbPerS = transferBytes / 1e9 / (r.medianMs / 1e3);

  const rtMs = results[0]!.medianMs + results[1]!.medianMs + results[2]!.medianMs;
  const rtGb = transferBytes / 1e9 / (rtMs / 1e3);
  const baselineMs = results[4]!.medianMs;
  const result: PayloadBenchResult = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    tensorBytes,
    transferBytes,
    headerBytes: transferBytes - tensorBytes,
    runs,
    steps: results,
    roundTrip: { ms: rtMs, gbPerS: rtGb, goalGbPerS: GOAL_GB_PER_S, meetsGoal: rtGb >= GOAL_GB_PER_S, overBaseline: rtMs / baselineMs },
  };

  if (opts.print ?? true) {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    console.log(`payload bench: float32 tensor ${mb(tensorBytes)} MB, ${transferBytes} bytes on the wire (header ${result.headerBytes} bytes), median of ${runs}`);
    console.log(`${'step'.padEnd(32)} ${'ms'.padStart(9)} ${'GB/s'.padStart(9)}`);
    for (const r of results) console.log(`${r.step.padEnd(32)} ${r.medianMs.toFixed(2).padStart(9)} ${r.gbPerS.toFixed(2).padStart(9)}`);
    console.log(
      `${'encode+concat+decode'.padEnd(32)} ${rtMs.toFixed(2).padStart(9)} ${rtGb.toFixed(2).padStart(9)}   ` +
        `goal >= ${GOAL_GB_PER_S} GB/s: ${result.roundTrip.meetsGoal ? 'met' : 'NOT met'}; ${result.roundTrip.overBaseline.toFixed(2)}x the memcpy baseline`,
    );
  }
  const outFile = opts.outFile === undefined ? defaultOutFile() : opts.outFile;
  if (outFile !== null) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    const tmp = `${outFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(result, null, 2)}\n`);
    renameSync(tmp, outFile); // nothing half-written
    if (opts.print ?? true) console.log(`wrote ${outFile}`);
  }
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Goals are reported (table and JSON), not enforced: timings depend on the machine and its load.
  runPayloadBench();
}
