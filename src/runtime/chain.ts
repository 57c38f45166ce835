/**
 * Runs parts in order, each fed by name from the model inputs and earlier parts' outputs.
 */
import { performance } from 'node:perf_hooks';
import { GraphError } from '../errors.js';
import type { HostTensor, Session } from './session.js';

export interface ChainOptions {
  /** The error for a tensor a part needs that nothing provides (`part` counts from 1). Default: a GraphError naming both. */
  missing?: (tensor: string, part: number) => Error;
}

export interface ChainResult {
  /** Every tensor there was: the inputs and what each part produced. */
  tensors: Map<string, HostTensor>;
  /** What the parts produced that no later part read, in the order produced. */
  produced: Map<string, HostTensor>;
  /** Inference time of each part in milliseconds: its run alone, not the building of its feeds. */
  partMs: number[];
  /**
   * CPU time of each part's run in milliseconds (user + system, every thread of this process, over
   * the same span as partMs): onnxruntime's threads, spinning within the run included, and whatever
   * else the process did meanwhile.
   */
  partCpuMs: number[];
}

/**
 * Runs the sessions in order on `inputs`. Sessions may come from an async iterable, so that a
 * caller can load each part only when the previous one has run.
 */
export async function runChain(
  sessions: Iterable<Session> | AsyncIterable<Session>,
  inputs: ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>,
  options: ChainOptions = {},
): Promise<ChainResult> {
  const tensors = new Map<string, HostTensor>(inputs instanceof Map ? inputs : Object.entries(inputs));
  const produced = new Map<string, HostTensor>();
  const partMs: number[] = [];
  const partCpuMs: number[] = [];
  for await (const s of sessions) {
    const part = partMs.length + 1;
    const feeds: Record<string, HostTensor> = {};
    for (const name of s.inputNames) {
      const t = tensors.get(name);
      if (!t) throw options.missing?.(name, part) ?? new GraphError(`part ${part} needs tensor '${name}', which neither the inputs nor an earlier part provide`);
      feeds[name] = t;
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await s.run(feeds);
    partMs.push(performance.now() - t0);
    partCpuMs.push(cpuMsSince(c0));
    for (const name of s.inputNames) produced.delete(name);
    for (const [name, t] of Object.entries(out)) {
      tensors.set(name, t);
      produced.set(name, t);
    }
  }
  return { tensors, produced, partMs, partCpuMs };
}

/** CPU time (user + system, all threads of this process) since `start`, in milliseconds. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}
