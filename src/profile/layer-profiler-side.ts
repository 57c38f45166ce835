/**
 * One side's measurement, in the process where that side runs (the edge, or the cloud worker):
 * the model under onnxruntime's profiler with the side's session options, every kernel mapped to
 * the model's own nodes it covers, and the side's fixed costs measured directly on small
 * models with the same options. Plain JSON, so the cloud worker can send it back as it is.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import { readTrace, type TracedRun } from '../runtime/trace.js';
import { hostTensorBytes } from '../tensor/host.js';
import type { CodecDecodeTimes } from './codec-decode.js';
import type { FixedCost } from './layer-profile.js';
import { coverKernels } from './layer-profiler-attribution.js';
import { median } from './stats.js';

type CreateSession = (model: Uint8Array, options: SessionOptions) => Promise<Session>;

export interface SideMeasurement {
  /** Per kernel of the graph onnxruntime ran: the original nodes it covers and its ms in each recorded run. */
  kernels: { node: string; opType: string; covers: string[]; shared: boolean; ms: number[] }[];
  /** onnxruntime's time of each recorded run (model_run), under the profiler. */
  runMs: number[];
  /** Wall time of each recorded run() of the same model without the profiler. */
  wallMs: number[];
  /** Bytes fed and fetched by one run of the model. */
  feedBytes: number;
  fetchBytes: number;
  /**
   * The profiler slows every kernel down (it records each one). Kernel times are scaled by this
   * factor so that, per run, the nodes add up to the unprofiled run's median wall time less the
   * side's fixed costs (run_call, feeding and fetching): the trace gives how a run's time divides
   * over the nodes, the unprofiled runs how long a run takes.
   */
  kernelScale: number;
  /** Each fixed cost, one value per recorded run. */
  fixed: Record<FixedCost, number[]>;
  /** The session settings it was measured with (as the side's sessions have them). */
  session: { threads?: number; graphOpt?: string };
  /** Where it was measured. */
  host: string;
  /** The decode times of the coded tensors a profile request carried (codec-decode.ts); absent when it carried none. */
  codecDecode?: CodecDecodeTimes;
  pid: number;
}

export interface SideOptions {
  rep: number;
  warmup: number;
}

/**
 * Runs a session `warmup` times, then `rep` times back to back (hot); returns the wall time of
 * the recorded runs. Hot runs are what a part costs in itself; what it costs in a sweep's cycle,
 * after other work, is measured on real cycles (cycle-calibration.ts), not by idling here.
 */
async function timedRuns(s: Session, feeds: Record<string, HostTensor>, o: SideOptions, outputs?: (r: Record<string, HostTensor>) => void): Promise<number[]> {
  for (let i = 0; i < o.warmup; i++) {
    const r = await s.run(feeds);
    outputs?.(r);
  }
  const wall: number[] = [];
  for (let i = 0; i < o.rep; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    wall.push(performance.now() - t0);
  }
  return wall;
}

/** A profiled session over `bytes`: its recorded runs as the trace has them, and the wall times. */
async function profiled(create: CreateSession, bytes: Uint8Array, options: SessionOptions, feeds: Record<string, HostTensor>, o: SideOptions, dir: string, name: string, optimised?: string) {
  const s = await create(bytes, { ...options, profileFilePrefix: path.join(dir, name), ...(optimised ? { optimizedModelFilePath: optimised } : {}) });
  let wall: number[];
  let runs: TracedRun[];
  try {
    wall = await timedRuns(s, feeds, o);
    if (!s.endProfiling) throw new Error('this runtime cannot profile (its sessions have no endProfiling)');
    runs = (await readTrace(await s.endProfiling())).slice(-o.rep);
  } finally {
    await s.release();
  }
  return { wall, runs };
}

const FLOAT = 1;
function tensorInfo(name: string, elemType: number, dims: number[]) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/** A one-node model: Identity (feeds and fetches n floats) or Shape (feeds n floats, fetches one int64). */
export function oneNodeModel(op: 'Identity' | 'Shape', n: number): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'onnx-manager',
    graph: {
      name: `${op.toLowerCase()}_${n}`,
      node: [{ opType: op, input: ['x'], output: ['y'], name: op.toLowerCase() }],
      input: [tensorInfo('x', FLOAT, [n])],
      output: [op === 'Identity' ? tensorInfo('y', FLOAT, [n]) : tensorInfo('y', 7, [1])],
    },
  });
}

/**
 * Sizes (MB of float32) the per-MB costs are fitted over: those of typical cut tensors and
 * outputs (tens of KB to a MB). Copies of a few MB behave otherwise (Identity plus fetch here:
 * about 0.7 ms/MB from 16 to 256 KB, 0.14-0.6 ms/MB and noisy at 1 and 4 MB), and a fit that
 * reaches 4 MB put 0.3 ms on a 200 KB cut tensor that costs well under 0.1.
 */
export const FIT_SIZES_MB = [0.0625, 0.25, 1] as const;

function slope(xs: readonly number[], ys: readonly number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  });
  return den > 0 ? num / den : 0;
}

/**
 * run_call: a run() of a one-element Identity beyond its kernel. feed_per_mb: the slope over
 * FIT_SIZES_MB of a Shape model's run beyond its kernel (it reads no data, so what grows is
 * the feeding). fetch_per_mb: the same slope for Identity (feed + copy kernel + fetch) with the
 * kernel left out, minus the feeding. Per recorded run, each clamped at 0.
 */
async function fixedCosts(create: CreateSession, options: SessionOptions, o: SideOptions, dir: string): Promise<Record<FixedCost, number[]>> {
  const beyondKernels = async (op: 'Identity' | 'Shape', n: number, name: string) => {
    const x: HostTensor = { type: 'float32', dims: [n], data: new Float32Array(n) };
    const { wall, runs } = await profiled(create, oneNodeModel(op, n), options, { x }, o, dir, name);
    return wall.map((w, i) => w - (runs[i]?.kernels.reduce((a, k) => a + k.ms, 0) ?? 0));
  };
  const runCall = await beyondKernels('Identity', 1, 'run_call');
  const elements = FIT_SIZES_MB.map((mb) => Math.round((mb * 1e6) / 4));
  const feed: number[][] = [];
  const both: number[][] = [];
  for (const [i, n] of elements.entries()) {
    feed.push(await beyondKernels('Shape', n, `feed_${i}`));
    both.push(await beyondKernels('Identity', n, `fetch_${i}`));
  }
  const mbs = [...FIT_SIZES_MB];
  const feedPerMb: number[] = [];
  const fetchPerMb: number[] = [];
  for (let r = 0; r < o.rep; r++) {
    const f = slope(mbs, feed.map((v) => v[r]!));
    feedPerMb.push(Math.max(0, f));
    fetchPerMb.push(Math.max(0, slope(mbs, both.map((v) => v[r]!)) - f));
  }
  return { run_call: runCall.map((v) => Math.max(0, v)), feed_per_mb: feedPerMb, fetch_per_mb: fetchPerMb };
}

/**
 * Measures one side here: `model` with `options`, fed `feeds`, `rep` recorded runs after `warmup`.
 * `outputs` is given the model's outputs of an unprofiled warm-up run.
 */
export async function measureSide(create: CreateSession, model: Uint8Array, options: SessionOptions, feeds: Record<string, HostTensor>, o: SideOptions, outputs?: (r: Record<string, HostTensor>) => void): Promise<SideMeasurement> {
  const dir = await mkdtemp(path.join(tmpdir(), 'onnx-manager-profile-'));
  try {
    const optimisedFile = path.join(dir, 'optimised.onnx');
    const { runs } = await profiled(create, model, options, feeds, o, dir, 'model', optimisedFile);
    const plain = await create(model, options);
    let fetchBytes = 0;
    let wallMs: number[];
    try {
      wallMs = await timedRuns(plain, feeds, o, (r) => {
        fetchBytes = Object.values(r).reduce((a, t) => a + hostTensorBytes(t), 0);
        outputs?.(r);
      });
    } finally {
      await plain.release();
    }
    const feedBytes = Object.values(feeds).reduce((a, t) => a + hostTensorBytes(t), 0);
    const covers = new Map(coverKernels(decodeModel(model), decodeModel(await readFile(optimisedFile))).map((c) => [c.node, c]));
    const kernels = new Map<string, SideMeasurement['kernels'][number]>();
    runs.forEach((run, r) => {
      for (const k of run.kernels) {
        let e = kernels.get(k.node);
        if (!e) kernels.set(k.node, (e = { node: k.node, opType: k.opType, covers: covers.get(k.node)?.covers ?? [], shared: covers.get(k.node)?.shared ?? false, ms: new Array<number>(runs.length).fill(0) }));
        e.ms[r]! += k.ms;
      }
    });
    const fixed = await fixedCosts(create, options, o, dir);
    const wall = median(wallMs);
    const beyondFixed = wall - median(fixed.run_call) - (median(fixed.feed_per_mb) * feedBytes) / 1e6 - (median(fixed.fetch_per_mb) * fetchBytes) / 1e6;
    // Fixed costs measured above the whole run (a busy machine) leave the nodes the whole run.
    const kernelMs = median(runs.map((r) => r.kernels.reduce((a, k) => a + k.ms, 0)));
    const kernelScale = kernelMs > 0 ? (beyondFixed > 0 ? beyondFixed : wall) / kernelMs : 1;
    const session = { ...(options.intraOpNumThreads !== undefined ? { threads: options.intraOpNumThreads } : {}), ...(options.graphOptimizationLevel ? { graphOpt: options.graphOptimizationLevel } : {}) };
    return { kernels: [...kernels.values()], runMs: runs.map((r) => r.runMs), wallMs, feedBytes, fetchBytes, kernelScale, fixed, session, host: hostname(), pid: process.pid };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
