/**
 * onnxruntime's profile (a Chrome trace, see SessionOptions.profileFilePrefix) read into runs:
 * each `model_run` event with the `<node>_kernel_time` events inside it, by the node names of the
 * graph onnxruntime ran (after its optimisations: fused nodes have new names).
 */
import { readFile } from 'node:fs/promises';
import { RuntimeError } from './ort.js';

export interface KernelTime {
  /** The node's name in the graph onnxruntime ran. */
  node: string;
  opType: string;
  provider: string;
  ms: number;
}

export interface TracedRun {
  /** The run() as onnxruntime timed it (`model_run`). */
  runMs: number;
  /** Kernel times in the order they ran (a node that ran more than once has one entry per run of it). */
  kernels: KernelTime[];
}

interface TraceEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

const KERNEL_SUFFIX = '_kernel_time';

/** The runs of a trace, in order; kernels outside any `model_run` are left out. */
export function parseTrace(text: string, file = 'the profile'): TracedRun[] {
  let events: TraceEvent[];
  try {
    events = JSON.parse(text) as TraceEvent[];
  } catch (err) {
    throw new RuntimeError(`${file}: not a JSON trace (${(err as Error).message})`, { cause: err });
  }
  if (!Array.isArray(events)) throw new RuntimeError(`${file}: not a Chrome trace (a JSON array of events)`);
  const runs = events
    .filter((e) => e.name === 'model_run' && typeof e.ts === 'number' && typeof e.dur === 'number')
    .map((e) => ({ start: e.ts!, end: e.ts! + e.dur!, run: { runMs: e.dur! / 1000, kernels: [] as KernelTime[] } }))
    .sort((a, b) => a.start - b.start);
  const kernels = events
    .filter((e) => e.cat === 'Node' && e.name?.endsWith(KERNEL_SUFFIX) && typeof e.ts === 'number' && typeof e.dur === 'number')
    .sort((a, b) => a.ts! - b.ts!);
  let r = 0;
  for (const k of kernels) {
    while (r < runs.length && runs[r]!.end < k.ts!) r++;
    const run = runs[r];
    if (!run || k.ts! < run.start) continue;
    run.run.kernels.push({
      node: k.name!.slice(0, -KERNEL_SUFFIX.length),
      opType: k.args?.op_name ?? '',
      provider: k.args?.provider ?? '',
      ms: k.dur! / 1000,
    });
  }
  return runs.map((x) => x.run);
}

export async function readTrace(file: string): Promise<TracedRun[]> {
  return parseTrace(await readFile(file, 'utf8'), file);
}
