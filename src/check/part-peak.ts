/**
 * The process `check` starts to measure one part's peak memory: it reads the part's file (and its
 * external data) into memory as the runners get them, creates an onnxruntime session with the
 * run's settings, runs it twice on seeded random inputs of the part's input shapes, and prints
 * its peak resident set size as one JSON line. Given no model it does everything but the part
 * (the same modules loaded): the baseline that is subtracted.
 *
 *   node part-peak.js '<request JSON>'   ->   {"peak_kb": n, "source": "VmHWM"} (or {"error": "..."}, exit 1)
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { messageLine } from '../errors.js';
import { createSession } from '../runtime/ort.js';
import type { HostTensor, SessionOptions } from '../runtime/session.js';
import { randomTensor } from '../tensor/host.js';

export interface PeakRequest {
  /** The part's file; none: the baseline. */
  model?: string;
  /** Its external data: the location the model names, and the file that holds it. */
  external?: { location: string; file: string };
  inputs: { name: string; dtype: string; dims: number[] }[];
  seed: number;
  session: SessionOptions;
  /** Runs of the part (default 2: the first plans the memory, the second reuses it). */
  runs?: number;
}

export interface PeakReply {
  peak_kb: number;
  /** Linux /proc/self/status VmHWM, else process.resourceUsage().maxRSS. */
  source: 'VmHWM' | 'maxRSS';
  /** The part failed on its random input (the peak is then that of loading it). */
  run_error?: string;
}

/** Peak resident set size of this process so far, in KiB. */
function peakRss(): { kb: number; source: PeakReply['source'] } {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return { kb: Number(m[1]), source: 'VmHWM' };
  } catch {
    // Not Linux: the runtime's own figure.
  }
  return { kb: process.resourceUsage().maxRSS, source: 'maxRSS' };
}

async function measure(req: PeakRequest): Promise<PeakReply> {
  let runError: string | undefined;
  if (req.model) {
    const bytes = await readFile(req.model);
    const options: SessionOptions = { ...req.session };
    if (req.external) options.externalData = [{ path: req.external.location, data: await readFile(req.external.file) }];
    const session = await createSession(bytes, options);
    const feeds: Record<string, HostTensor> = {};
    req.inputs.forEach((t, i) => (feeds[t.name] = randomTensor(t.dtype, t.dims, req.seed + i)));
    try {
      for (let r = 0; r < (req.runs ?? 2); r++) await session.run(feeds);
    } catch (err) {
      runError = messageLine(err);
    }
    const peak = peakRss();
    await session.release();
    return { peak_kb: peak.kb, source: peak.source, ...(runError ? { run_error: runError } : {}) };
  }
  const peak = peakRss();
  return { peak_kb: peak.kb, source: peak.source };
}

measure(JSON.parse(process.argv[2] ?? '{}') as PeakRequest).then(
  (reply) => process.stdout.write(`${JSON.stringify(reply)}\n`),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: messageLine(err) })}\n`);
    process.exitCode = 1;
  },
);
