/**
 * How far a quantised model's outputs are from the float model's, and how long each takes, on the
 * same samples in warm sessions with the same settings.
 */
import { createSession } from '../runtime/ort.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';

export interface OutputDeviation {
  name: string;
  maxAbs: number;
  meanAbs: number;
  /** ||quant - float||_2 / ||float||_2 over every sample. */
  relL2: number;
  /** Fraction of rows (argmax over the last axis, per sample) where both models pick the same index; undefined for outputs with a last axis below 2. */
  top1Agreement?: number;
  rows: number;
}

export interface Timing {
  /** Median milliseconds of one inference (one sample). */
  floatMs: number;
  quantMs: number;
  runs: number;
}

export interface QuantComparison {
  samples: number;
  outputs: OutputDeviation[];
  timing: Timing;
}

export interface CompareOptions {
  session?: SessionOptions;
  /** Timed rounds over all samples (default 5); each round runs every sample on both models. */
  rounds?: number;
  warmup?: number;
  /** Ctrl-C: the comparison stops before the next run and fails with the signal's reason. */
  signal?: AbortSignal;
}

/** Splits the first dimension of every tensor of a batch into single samples. */
export function splitBatch(feeds: Readonly<Record<string, HostTensor>>): Record<string, HostTensor>[] {
  const entries = Object.entries(feeds);
  const n = entries[0]?.[1].dims[0] ?? 1;
  return Array.from({ length: n }, (_, k) => {
    const one: Record<string, HostTensor> = {};
    for (const [name, t] of entries) {
      const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
      const data = t.data as unknown as { subarray(a: number, b: number): ArrayBufferView };
      one[name] = { type: t.type, dims: [1, ...t.dims.slice(1)], data: data.subarray(k * per, (k + 1) * per) };
    }
    return one;
  });
}

function floats(t: HostTensor): ArrayLike<number> | undefined {
  return t.data instanceof Float32Array || t.data instanceof Float64Array ? t.data : undefined;
}

/** The index of the largest value of every row of `width` values. */
export function argmaxRows(v: ArrayLike<number>, width: number): Int32Array {
  const rows = Math.floor(v.length / width);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < width; j++) if (v[r * width + j]! > v[r * width + best]!) best = j;
    out[r] = best;
  }
  return out;
}

/** Deviation of `quant` from `reference` accumulated over samples. */
class Accumulator {
  maxAbs = 0;
  sumAbs = 0;
  count = 0;
  diff2 = 0;
  ref2 = 0;
  agree = 0;
  rows = 0;
  width = 0;

  add(reference: ArrayLike<number>, quant: ArrayLike<number>, dims: readonly number[]): void {
    for (let i = 0; i < reference.length; i++) {
      const d = Math.abs(quant[i]! - reference[i]!);
      if (d > this.maxAbs || Number.isNaN(d)) this.maxAbs = d;
      this.sumAbs += d;
      this.diff2 += d * d;
      this.ref2 += reference[i]! * reference[i]!;
    }
    this.count += reference.length;
    const width = dims.at(-1) ?? 1;
    if (width >= 2) {
      this.width = width;
      const a = argmaxRows(reference, width);
      const b = argmaxRows(quant, width);
      for (let r = 0; r < a.length; r++) if (a[r] === b[r]) this.agree++;
      this.rows += a.length;
    }
  }

  result(name: string): OutputDeviation {
    const out: OutputDeviation = {
      name,
      maxAbs: this.maxAbs,
      meanAbs: this.count > 0 ? this.sumAbs / this.count : 0,
      relL2: this.ref2 > 0 ? Math.sqrt(this.diff2 / this.ref2) : Math.sqrt(this.diff2),
      rows: this.rows,
    };
    if (this.rows > 0) out.top1Agreement = this.agree / this.rows;
    return out;
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timed(session: Session, feeds: Record<string, HostTensor>): Promise<number> {
  const t0 = performance.now();
  await session.run(feeds);
  return performance.now() - t0;
}

/** Runs every sample through both models and compares their float outputs. */
export async function compareModels(
  floatModel: Uint8Array | string,
  quantModel: Uint8Array | string,
  samples: readonly Record<string, HostTensor>[],
  options: CompareOptions = {},
): Promise<QuantComparison> {
  const [ref, quant] = [await createSession(floatModel, options.session), await createSession(quantModel, options.session)];
  try {
    const acc = new Map<string, Accumulator>();
    for (const s of samples) {
      options.signal?.throwIfAborted();
      const [a, b] = [await ref.run(s), await quant.run(s)];
      for (const name of ref.outputNames) {
        const x = floats(a[name]!);
        const y = b[name] ? floats(b[name]) : undefined;
        if (!x || !y) continue;
        if (!acc.has(name)) acc.set(name, new Accumulator());
        acc.get(name)!.add(x, y, a[name]!.dims);
      }
    }
    // Timed in blocks (every sample on one model, then on the other, the order alternating per
    // round): a session's idle threads spin for a while after a run and would slow the other
    // model's next run if the two were interleaved run by run.
    const floatMs: number[] = [];
    const quantMs: number[] = [];
    const block = async (session: Session, into: number[] | undefined) => {
      for (const s of samples) {
        options.signal?.throwIfAborted();
        const ms = await timed(session, s);
        into?.push(ms);
      }
    };
    for (let w = 0; w < (options.warmup ?? 2); w++) {
      await block(ref, undefined);
      await block(quant, undefined);
    }
    const rounds = options.rounds ?? 5;
    for (let r = 0; r < rounds; r++) {
      const order: [Session, number[]][] = r % 2 === 0 ? [[ref, floatMs], [quant, quantMs]] : [[quant, quantMs], [ref, floatMs]];
      for (const [session, into] of order) await block(session, into);
    }
    return {
      samples: samples.length,
      outputs: [...acc].map(([name, a]) => a.result(name)),
      timing: { floatMs: median(floatMs), quantMs: median(quantMs), runs: floatMs.length },
    };
  } finally {
    await ref.release();
    await quant.release();
  }
}
