/**
 * The reference splitter: Python's onnx.utils.extract_model (what the original tool used), run on
 * a few split points through bench/extract_model.py.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface ReferenceCut {
  index: number;
  part1_s: number;
  part2_s: number;
  seconds: number;
  bytes: number;
}

export interface ReferenceRun {
  onnx_version: string;
  import_s: number;
  cuts: ReferenceCut[];
}

export type ReferenceAvailability = { available: true; python: string; version: string } | { available: false; python: string; why: string };

/**
 * BENCH_PYTHON if set; else /usr/bin/python3 where it exists (Debian's python3-onnx lives there,
 * and a pyenv python3 first on PATH would not see it); else python3 from PATH.
 */
export function findPython(): string {
  if (process.env.BENCH_PYTHON) return process.env.BENCH_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export function referenceAvailability(): ReferenceAvailability {
  const python = findPython();
  const r = spawnSync(python, ['-c', 'import onnx, onnx.utils; print(onnx.__version__)'], { encoding: 'utf8' });
  if (r.error) return { available: false, python, why: `${python} not found (${r.error.message})` };
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() ?? '';
    return { available: false, python, why: `${python} -c "import onnx" failed: ${last}` };
  }
  return { available: true, python, version: r.stdout.trim() };
}

export const INSTALL_HINT =
  'install the reference with `apt-get install -y python3-onnx` (Debian/Ubuntu, used via /usr/bin/python3) or `python3 -m pip install onnx`';

/** Runs extract_model for both halves of each cut; everything it writes goes to a temporary folder removed afterwards. */
export async function runReference(opts: {
  python: string;
  script: string;
  model: string;
  inputs: string[];
  outputs: string[];
  cuts: { index: number; tensors: string[] }[];
  tmpRoot: string;
  name: string;
}): Promise<ReferenceRun> {
  const dir = await mkdtemp(path.join(opts.tmpRoot, `${opts.name}-extract-`));
  try {
    const jobFile = path.join(dir, 'job.json');
    const job = { model: opts.model, out_dir: path.join(dir, 'out'), inputs: opts.inputs, outputs: opts.outputs, cuts: opts.cuts };
    await writeFile(jobFile, JSON.stringify(job));
    const r = spawnSync(opts.python, [opts.script, jobFile], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`extract_model.py failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as ReferenceRun;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Up to `count` evenly spaced points among those cutting exactly one tensor, the two extremes left out. */
export function sampleSingleTensorCuts<T extends { cutTensors: string[] }>(points: T[], count: number): T[] {
  const inner = points.slice(1, -1).filter((p) => p.cutTensors.length === 1);
  if (inner.length <= count) return inner;
  return Array.from({ length: count }, (_, k) => inner[Math.floor(((k + 1) * inner.length) / (count + 1))]!);
}
