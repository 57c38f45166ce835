/**
 * Benchmark of the emulated link (not a test): `node dist/bench/link-bench.js` (also part of
 * `npm run bench`).
 *
 * The project's store client (openLinkedStore: the minio client dialling the shaping proxy) puts
 * and gets random payloads of 100 KB and more on the embedded S3 server through a link of 5, 50 and
 * 500 Mbit/s with rtt 20 ms, on a warm keep-alive connection, and compares each median with the
 * model
 *
 *   model_ms = (bytes up + bytes down) x 8 / bandwidth + rtt x (1 + new connections)
 *
 * where the bytes are those the proxy counted for that request (payload plus HTTP headers both
 * ways) and each request is one round trip (a put is one PUT and its answer, a get one GET and
 * its answer; no HEAD or bucket-location lookup, the region being known), plus one more for a
 * connection the request had to open. Goal: measured/model within 10% for every payload.
 *
 * Beside it, the same request on the same store without the link (direct_ms: the client's SigV4
 * payload hash, the server's hash check and file write, the loopback transfer) and the ratio
 * measured / (model + direct), which is what the link should add to what the store costs anyway.
 *
 * Prints the table and writes results/bench/link.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from '../src/profile/stats.js';
import { startEmbeddedStore } from '../src/storage/embedded.js';
import { openLinkedStore } from '../src/storage/linked-store.js';
import type { ObjectStore } from '../src/storage/store.js';
import { machineInfo } from './machine.js';

export const LINK_GOAL = 0.1;
const RTT_MS = 20;
const BUCKET = 'link-bench';

export interface LinkCase {
  bandwidthMbit: number;
  bytes: number;
}

/** The payloads per rate: 100 KB and 1 MB everywhere, 4 MB where it takes under two seconds. */
const CASES: LinkCase[] = [5, 50, 500].flatMap((bw) => [100_000, 1_000_000, 4_000_000].filter((b) => (b * 8) / (bw * 1000) < 2000).map((bytes) => ({ bandwidthMbit: bw, bytes })));

export interface LinkRow extends LinkCase {
  op: 'put' | 'get';
  reps: number;
  wireUp: number;
  wireDown: number;
  newConnections: number;
  modelMs: number;
  measuredMs: number;
  ratio: number;
  directMs: number;
  ratioWithStore: number;
  meetsGoal: boolean;
}

export interface LinkBenchOptions {
  /** Repetitions per case (default 5 below 1 s of transfer, else 3). */
  reps?: number;
  print?: boolean;
  /** Where to write the JSON (default results/bench/link.json; null: do not write). */
  outFile?: string | null;
}

function defaultOutFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.join(here, '..', '..', 'results', 'bench', 'link.json');
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Median time of `op` on the store without the link. */
async function direct(store: ObjectStore, op: 'put' | 'get', data: Buffer, reps: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) times.push(await timed(() => (op === 'put' ? store.put('direct', data) : store.get('direct'))));
  return median(times);
}

export async function runLinkBench(opts: LinkBenchOptions = {}): Promise<{ rows: LinkRow[]; meetsGoal: boolean }> {
  const started = performance.now();
  const embedded = await startEmbeddedStore({ bucket: BUCKET });
  const rows: LinkRow[] = [];
  try {
    for (const bw of [...new Set(CASES.map((c) => c.bandwidthMbit))]) {
      const linked = await openLinkedStore(
        { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey },
        { bucket: BUCKET, region: embedded.region },
        { bandwidthMbit: bw, rttMs: RTT_MS },
      );
      const { proxy, store } = linked;
      try {
        await store.put('warm', Buffer.alloc(1)); // the keep-alive connection, opened once
        for (const c of CASES.filter((x) => x.bandwidthMbit === bw)) {
          const data = randomBytes(c.bytes);
          await embedded.store.put('direct', data);
          const reps = opts.reps ?? ((c.bytes * 8) / (bw * 1000) < 1000 ? 5 : 3);
          for (const op of ['put', 'get'] as const) {
            const times: number[] = [];
            const wire: { up: number; down: number; conns: number }[] = [];
            for (let r = 0; r < reps; r++) {
              const before = { ...proxy.bytes, conns: proxy.connections };
              times.push(await timed(() => (op === 'put' ? store.put('payload', data) : store.get('payload'))));
              wire.push({ up: proxy.bytes.up - before.up, down: proxy.bytes.down - before.down, conns: proxy.connections - before.conns });
            }
            const wireUp = median(wire.map((w) => w.up));
            const wireDown = median(wire.map((w) => w.down));
            const newConnections = median(wire.map((w) => w.conns));
            const modelMs = ((wireUp + wireDown) * 8) / (bw * 1000) + RTT_MS * (1 + newConnections);
            const measuredMs = median(times);
            const directMs = await direct(embedded.store, op, data, 5);
            const ratio = measuredMs / modelMs;
            rows.push({ ...c, op, reps, wireUp, wireDown, newConnections, modelMs, measuredMs, ratio, directMs, ratioWithStore: measuredMs / (modelMs + directMs), meetsGoal: Math.abs(ratio - 1) <= LINK_GOAL });
          }
        }
      } finally {
        await linked.stop();
      }
    }
  } finally {
    await embedded.stop();
  }
  const meetsGoal = rows.every((r) => r.meetsGoal);
  if (opts.print ?? true) {
    console.log(`link bench: embedded store through the shaping proxy, rtt ${RTT_MS} ms, warm connection; model = wire bytes x 8 / bandwidth + rtt per request`);
    const head = ['Mbit/s', 'payload', 'op', 'wire up', 'wire down', 'model ms', 'measured', 'ratio', 'direct ms', 'meas/(model+direct)'];
    console.log(head.map((h, i) => (i < 3 ? h.padEnd(8) : h.padStart(i === 9 ? 20 : 10))).join(' '));
    for (const r of rows) {
      console.log(
        [String(r.bandwidthMbit).padEnd(8), `${r.bytes / 1000} KB`.padEnd(8), r.op.padEnd(8), String(r.wireUp).padStart(10), String(r.wireDown).padStart(10),
          r.modelMs.toFixed(1).padStart(10), r.measuredMs.toFixed(1).padStart(10), r.ratio.toFixed(3).padStart(10), r.directMs.toFixed(1).padStart(10), r.ratioWithStore.toFixed(3).padStart(20)].join(' '),
      );
    }
    console.log(`goal: measured within ${LINK_GOAL * 100}% of the model for every payload >= 100 KB: ${meetsGoal ? 'met' : `NOT met (${rows.filter((r) => !r.meetsGoal).length} of ${rows.length})`}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const outFile = opts.outFile === undefined ? defaultOutFile() : opts.outFile;
  if (outFile !== null) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    const tmp = `${outFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ rttMs: RTT_MS, goal: LINK_GOAL, meetsGoal, rows, machine: { ...machineInfo(), loadAverage: os.loadavg() } }, null, 2)}\n`);
    renameSync(tmp, outFile);
    if (opts.print ?? true) console.log(`wrote ${outFile}`);
  }
  return { rows, meetsGoal };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Goals are reported (table and JSON), not enforced: timings depend on the machine and its load.
  await runLinkBench();
}
