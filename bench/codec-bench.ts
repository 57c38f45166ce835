/**
 * Benchmark of the tensor codecs (not a test): `node dist/bench/codec-bench.js [model ...]`.
 *
 * The cut tensors of real split points of zoo models (default resnet18 and mobilenet_v2 at
 * 224x224, every 4th split point), each codec's encode and decode over all of them, timed
 * `runs` times (plus one warm-up), medians reported (int8:axis=1 too): bytes sent, ratio, encode, decode and
 * encode+decode in MB/s of raw tensor bytes (1 MB = 1e6 bytes), and encode+decode against memcpy's
 * speed in the same run (the machine's load slows both). Baselines in the same run: a
 * memcpy of the same bytes (Buffer.from copy) and raw (payload encode + concat + decode, no codec).
 * Goal: fp16 and int8 at least 1 GB/s encode+decode; lossless codecs reported as they are.
 * encode+decode MB/s = raw bytes / (encode ms + decode ms), each the median of the runs; encode is
 * the codec plus the payload's encoding into one buffer (encodeCodedPayload: each body written in
 * its place, CRC-32 of coded bodies included; the same bytes as encodeTensors + encodePayload +
 * concat), decode the payload's decoding (CRC check) plus the codec. Rows `<codec> scalar` time fp16, bf16 and int8 with
 * the SIMD kernels turned off (their element-by-element definitions): before and after, same run.
 * Column "by CPU time" gives encode+decode MB/s by the process's CPU time instead (other load on
 * the machine stretches wall time much more than CPU time); "best run" encode+decode MB/s of the
 * fastest encode and fastest decode run (the machine's speed between other people's work) and
 * "best/memcpy" that over memcpy's fastest run; "codec only" the codec's encode and
 * decode alone (encodeTensors and decodeTensors, wall time), without the payload's framing and
 * the CRC-32 of its coded bodies.
 *
 * `--compare path/to/other/dist` (opts.compare) also times another build (say, main's) of raw, fp16,
 * int8 and int8:axis=1, interleaved with this one rep by rep with a memcpy between, so that both see
 * the same moments of a loaded machine: a second table, and `compared` in the JSON.
 *
 * Prints a table and writes results/bench/codec.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostTensor } from '../src/runtime/session.js';
import { decodeTensors, encodeCodedPayload, encodeTensors, TENSOR_CODECS } from '../src/tensor/codecs/index.js';
import { useSimd } from '../src/tensor/codecs/simd/index.js';
import { decodePayload, encodePayload, type Payload } from '../src/tensor/payload/index.js';
import { cutTensors } from '../test/tensor/cut-tensors.js';
import { machineInfo } from './machine.js';

const GOAL_MB_PER_S = 1000;

interface CodecRow {
  codec: string;
  rawBytes: number;
  sentBytes: number;
  ratio: number;
  encodeMs: number;
  decodeMs: number;
  encodeMBps: number;
  decodeMBps: number;
  roundTripMBps: number;
  /** encode+decode speed over memcpy's in the same run (a loaded machine slows both). */
  vsMemcpy: number;
  /** encode+decode MB/s by process CPU time instead of wall time (less stretched by other load). */
  cpuRoundTripMBps: number;
  /** encode+decode MB/s of the fastest encode run and the fastest decode run (wall time), and that over memcpy's fastest run. */
  bestRoundTripMBps: number;
  bestVsMemcpy: number;
  /** The codec alone (encodeTensors, decodeTensors of decoded payloads), without the payload's framing and CRC-32: ms and encode+decode MB/s. */
  codecEncodeMs: number;
  codecDecodeMs: number;
  codecRoundTripMBps: number;
  goal?: { mbPerS: number; met: boolean };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Process CPU ms of each timed run, by the last call of timed() (a loaded machine stretches wall time, not CPU time). */
let lastCpuMs = 0;
/** The fastest run's wall ms, by the last call of timed(): what the machine does between other people's work. */
let lastBestMs = 0;

async function timed(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1e3);
  }
  lastCpuMs = median(cpu);
  lastBestMs = Math.min(...ms);
  return median(ms);
}

const payloadOf = (tensors: Map<string, HostTensor>): Payload => ({ kind: 'input', runId: 'bench', splitIndex: 1, rep: 0, nextModels: [], timings: [], tensors });

/** A build's payload encoder with a codec, and its decoder of such payloads. */
interface Build {
  encode(tensors: Map<string, HostTensor>, codec: string): Promise<Uint8Array>;
  decode(wire: Uint8Array): Promise<unknown>;
}

const thisBuild: Build = { encode: (m, codec) => encodeCodedPayload(payloadOf(m), codec), decode: (w) => decodeTensors(decodePayload(w)) };

/** The build whose dist folder is `dist` (its codecs and payload modules). */
async function otherBuild(dist: string): Promise<Build> {
  const file = (f: string): string => path.join(dist, 'src', 'tensor', f, 'index.js');
  if (!existsSync(file('codecs')) || !existsSync(file('payload'))) throw new Error(`--compare needs a build's dist folder: ${dist} has no src/tensor/codecs/index.js and src/tensor/payload/index.js`);
  const codecs = (await import(pathToFileURL(file('codecs')).href)) as typeof import('../src/tensor/codecs/index.js');
  const payload = (await import(pathToFileURL(file('payload')).href)) as typeof import('../src/tensor/payload/index.js');
  return { encode: (m, codec) => codecs.encodeCodedPayload(payloadOf(m), codec), decode: (w) => codecs.decodeTensors(payload.decodePayload(w)) };
}

/** One codec of both builds, timed interleaved: encode+decode MB/s of the median and of the fastest reps, and over memcpy's in the same reps. */
interface ComparedRow {
  codec: string;
  roundTripMBps: number;
  comparedRoundTripMBps: number;
  vsMemcpy: number;
  comparedVsMemcpy: number;
  bestRoundTripMBps: number;
  comparedBestRoundTripMBps: number;
}

export async function runCodecBench(opts: { models?: string[]; every?: number; runs?: number; outFile?: string | null; compare?: string; compareRuns?: number } = {}): Promise<CodecRow[]> {
  // Loaded first: a wrong path is refused before the runs.
  const other = opts.compare ? await otherBuild(opts.compare) : undefined;
  const loadStart = os.loadavg();
  const models = opts.models ?? ['resnet18', 'mobilenet_v2'];
  const runs = opts.runs ?? 5;
  const all = new Map<string, HostTensor>();
  for (const m of models) for (const [k, t] of await cutTensors(m, opts.every ?? 4)) all.set(`${m}/${k}`, t);
  let rawBytes = 0;
  for (const t of all.values()) rawBytes += (t.data as ArrayBufferView).byteLength;
  const mbps = (ms: number): number => Math.round(rawBytes / 1e6 / (ms / 1000));
  const rows: CodecRow[] = [];
  const views = [...all.values()].map((t) => t.data as ArrayBufferView);
  const copyMs = await timed(runs, () => views.map((v) => Buffer.from(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength)).map((b) => Buffer.from(b)));
  const copyBestMs = lastBestMs;
  rows.push({ codec: 'memcpy', rawBytes, sentBytes: rawBytes, ratio: 1, encodeMs: copyMs, decodeMs: 0, encodeMBps: mbps(copyMs), decodeMBps: 0, roundTripMBps: mbps(copyMs), vsMemcpy: 1, cpuRoundTripMBps: mbps(lastCpuMs), bestRoundTripMBps: mbps(copyBestMs), bestVsMemcpy: 1, codecEncodeMs: copyMs, codecDecodeMs: 0, codecRoundTripMBps: mbps(copyMs) });
  // fp16, bf16 and int8 also with their element-by-element definitions (no SIMD kernels): before and after in the same run.
  const cases = [...[...TENSOR_CODECS, 'int8:axis=1'].map((codec) => ({ codec, simd: true })), ...['fp16', 'bf16', 'int8', 'int8:axis=1'].map((codec) => ({ codec, simd: false }))];
  for (const { codec, simd } of cases) {
    useSimd(simd);
    // One payload per cut tensor, as a sweep sends them.
    const items = [...all].map(([k, t]) => new Map([[k, t]]));
    const encoded = await Promise.all(items.map((m) => encodeTensors(m, codec)));
    const wires = encoded.map((e) => Buffer.from(encodePayload({ ...payloadOf(e.tensors), coded: e.coded }).concat()));
    const sentBytes = wires.reduce((s, w) => s + w.length, 0);
    const encodeMs = await timed(runs, async () => {
      for (const m of items) await encodeCodedPayload(payloadOf(m), codec);
    });
    const encodeCpuMs = lastCpuMs;
    const encodeBestMs = lastBestMs;
    const decodeMs = await timed(runs, async () => {
      for (const w of wires) await decodeTensors(decodePayload(w));
    });
    const decodeCpuMs = lastCpuMs;
    const decodeBestMs = lastBestMs;
    const codecEncodeMs = await timed(runs, async () => {
      for (const m of items) await encodeTensors(m, codec);
    });
    const received = wires.map((w) => decodePayload(w));
    const codecDecodeMs = await timed(runs, async () => {
      for (const p of received) await decodeTensors(p);
    });
    useSimd(true);
    const row: CodecRow = {
      codec: simd ? codec : `${codec} scalar`,
      rawBytes,
      sentBytes,
      ratio: Math.round((sentBytes / rawBytes) * 1000) / 1000,
      encodeMs,
      decodeMs,
      encodeMBps: mbps(encodeMs),
      decodeMBps: mbps(decodeMs),
      roundTripMBps: mbps(encodeMs + decodeMs),
      vsMemcpy: Math.round((copyMs / (encodeMs + decodeMs)) * 1000) / 1000,
      cpuRoundTripMBps: mbps(encodeCpuMs + decodeCpuMs),
      bestRoundTripMBps: mbps(encodeBestMs + decodeBestMs),
      bestVsMemcpy: Math.round((copyBestMs / (encodeBestMs + decodeBestMs)) * 1000) / 1000,
      codecEncodeMs,
      codecDecodeMs,
      codecRoundTripMBps: mbps(codecEncodeMs + codecDecodeMs),
    };
    if (simd && (codec === 'fp16' || codec === 'int8' || codec === 'int8:axis=1')) row.goal = { mbPerS: GOAL_MB_PER_S, met: row.roundTripMBps >= GOAL_MB_PER_S };
    rows.push(row);
  }
  const compared: ComparedRow[] = [];
  if (other) {
    const reps = opts.compareRuns ?? 20;
    const items = [...all].map(([k, t]) => new Map([[k, t]]));
    const clock = async (fn: () => Promise<unknown> | unknown): Promise<number> => {
      const t = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    for (const codec of ['raw', 'fp16', 'int8', 'int8:axis=1']) {
      const builds = [thisBuild, other];
      // Each build decodes what it encodes.
      const wires = await Promise.all(builds.map(async (b) => Promise.all(items.map(async (m) => Buffer.from(await b.encode(m, codec))))));
      const copy: number[] = [];
      const trips = builds.map(() => [] as number[]);
      for (let r = 0; r <= reps; r++) {
        const c = await clock(() => views.map((v) => Buffer.from(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength)).map((b) => Buffer.from(b)));
        const t = [];
        for (const [i, b] of builds.entries()) {
          const e = await clock(async () => {
            for (const m of items) await b.encode(m, codec);
          });
          const d = await clock(async () => {
            for (const w of wires[i]!) await b.decode(w);
          });
          t.push(e + d);
        }
        // The first rep warms up.
        if (r === 0) continue;
        copy.push(c);
        t.forEach((ms, i) => trips[i]!.push(ms));
      }
      const [mine, theirs] = trips.map(median) as [number, number];
      const [mineBest, theirsBest] = trips.map((t) => Math.min(...t)) as [number, number];
      const round = (v: number): number => Math.round(v * 1000) / 1000;
      compared.push({
        codec,
        roundTripMBps: mbps(mine),
        comparedRoundTripMBps: mbps(theirs),
        vsMemcpy: round(median(copy) / mine),
        comparedVsMemcpy: round(median(copy) / theirs),
        bestRoundTripMBps: mbps(mineBest),
        comparedBestRoundTripMBps: mbps(theirsBest),
      });
    }
  }
  console.log(`cut tensors: ${all.size} of ${models.join(', ')} (${(rawBytes / 1e6).toFixed(1)} MB raw), median of ${runs} runs, MB/s of raw bytes; load average ${loadStart.map((l) => l.toFixed(1)).join(' ')} at the start`);
  console.log(['codec', 'sent bytes', 'ratio', 'encode MB/s', 'decode MB/s', 'enc+dec MB/s', '/ memcpy', 'goal', 'by CPU time', 'best run', 'best/memcpy', 'codec only'].map((h) => h.padStart(13)).join(''));
  for (const r of rows) {
    const goal = r.goal ? (r.goal.met ? `>=${r.goal.mbPerS} met` : `<${r.goal.mbPerS} NOT met`) : '';
    console.log([r.codec, r.sentBytes, r.ratio, r.encodeMBps, r.decodeMBps || '', r.roundTripMBps, r.vsMemcpy, goal, r.cpuRoundTripMBps, r.bestRoundTripMBps, r.bestVsMemcpy, r.codecRoundTripMBps].map((v) => String(v).padStart(13)).join(''));
  }
  if (opts.compare) {
    console.log(`interleaved with ${opts.compare}, ${opts.compareRuns ?? 20} reps: encode+decode MB/s (median, over memcpy's median in the same reps; fastest rep)`);
    console.log(['codec', 'this', '/ memcpy', 'compared', '/ memcpy', 'this/compared', 'this best', 'compared best'].map((h) => h.padStart(14)).join(''));
    for (const r of compared) {
      console.log([r.codec, r.roundTripMBps, r.vsMemcpy, r.comparedRoundTripMBps, r.comparedVsMemcpy, (r.roundTripMBps / r.comparedRoundTripMBps).toFixed(2), r.bestRoundTripMBps, r.comparedBestRoundTripMBps].map((v) => String(v).padStart(14)).join(''));
    }
  }
  const outFile = opts.outFile === undefined ? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'results', 'bench', 'codec.json') : opts.outFile;
  if (outFile) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), ...machineInfo(), loadAverage: { start: loadStart, end: os.loadavg() }, models, tensors: all.size, runs, rows, ...(opts.compare ? { compared: { build: opts.compare, reps: opts.compareRuns ?? 20, rows: compared } } : {}) }, null, 2) + '\n');
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--compare');
  const compare = at >= 0 && args[at + 1] ? path.resolve(args[at + 1]!) : undefined;
  const models = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  try {
    if (at >= 0 && !compare) throw new Error("--compare needs the path of another build's dist folder");
    await runCodecBench({ ...(models.length ? { models } : {}), ...(compare ? { compare } : {}) });
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('--compare')) throw err;
    console.error(`codec-bench: ${err.message}`);
    process.exitCode = 2;
  }
}
