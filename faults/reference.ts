/**
 * What onnxruntime itself makes of a model, apart from the tool: does it load, and what does it
 * compute on given inputs. The tool's successes are checked against this.
 */
import { decodeModel } from '../src/onnx/codec.js';
import { findDtypeByOnnx } from '../src/onnx/dtypes.js';
import { toNumber } from '../src/onnx/types.js';
import { createSession } from '../src/runtime/ort.js';
import type { HostTensor } from '../src/runtime/session.js';
import { maxAbsDiff } from '../src/profile/sweep.js';
import { randomTensor } from '../src/tensor/host.js';
import type { TensorSpec } from '../test/models/zoo.js';

/** Largest input the checks allocate (elements). */
const MAX_CHECK_ELEMENTS = 1 << 22;
/**
 * Largest shape the inputs broadcast to (elements, the largest dim of each axis counted from the
 * last) that the reference run is left to compute: a dim of one input raised to 10^6 against
 * another's 8x8 makes an elementwise op's output 768 MB, which onnxruntime took 13 s to compute
 * here (longer than an item's whole budget on a loaded machine).
 */
const MAX_BROADCAST_ELEMENTS = 1 << 24;

export type Reference = { ok: true; outputs: Record<string, HostTensor> } | { ok: false; why: string };

/** Runs the model bytes in onnxruntime (no optimisation) on `feeds`. */
export async function referenceRun(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Reference> {
  let session;
  try {
    session = await createSession(bytes, { graphOptimizationLevel: 'disabled' });
  } catch (err) {
    return { ok: false, why: `onnxruntime does not load it: ${String((err as Error).message).split('\n')[0]}` };
  }
  try {
    const use: Record<string, HostTensor> = {};
    for (const n of session.inputNames) {
      if (!feeds[n]) return { ok: false, why: `onnxruntime wants input '${n}', which the inputs lack` };
      use[n] = feeds[n];
    }
    return { ok: true, outputs: await session.run(use) };
  } catch (err) {
    return { ok: false, why: `onnxruntime does not run it: ${String((err as Error).message).split('\n')[0]}` };
  } finally {
    await session.release();
  }
}

/**
 * Inputs as the model declares them (a symbolic or missing dim takes the original model's), or
 * a reason there are none (an element type without host data, too large to check).
 */
export function declaredInputs(bytes: Uint8Array, original: readonly TensorSpec[]): Record<string, HostTensor> | string {
  let g;
  try {
    g = decodeModel(bytes).graph!;
  } catch (err) {
    return `not decodable: ${String((err as Error).message).split('\n')[0]}`;
  }
  const weights = new Set((g.initializer ?? []).map((t) => t.name));
  const feeds: Record<string, HostTensor> = {};
  for (const [i, vi] of (g.input ?? []).entries()) {
    if (!vi.name || weights.has(vi.name)) continue;
    const tt = vi.type?.tensorType;
    const dtype = tt ? findDtypeByOnnx(tt.elemType ?? 0)?.name : undefined;
    if (!dtype) return `input '${vi.name}' has no usable element type`;
    const base = original.find((o) => o.name === vi.name)?.dims ?? [];
    const dims = (tt!.shape?.dim ?? []).map((d, k) => {
      // A named dim (dim_param; the decoder still gives dim_value its default 0) takes the original's.
      const v = !d.dimParam && d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : NaN;
      return Number.isFinite(v) && v >= 0 ? v : (base[k] ?? 1);
    });
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > MAX_CHECK_ELEMENTS) return `input '${vi.name}' of ${n} elements is too large to check`;
    try {
      feeds[vi.name] = randomTensor(dtype, dims, 11 + i);
    } catch {
      return `input '${vi.name}' is ${dtype}, which has no host data`;
    }
  }
  const broadcast = broadcastElements(Object.values(feeds).map((t) => t.dims));
  if (broadcast > MAX_BROADCAST_ELEMENTS) return `the inputs broadcast to ${broadcast} elements, too large to check`;
  return feeds;
}

/** Elements of the shape all of `shapes` broadcast to (numpy's rule: axes aligned from the last, each the largest). */
export function broadcastElements(shapes: readonly (readonly number[])[]): number {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  let n = 1;
  for (let k = 1; k <= rank; k++) n *= Math.max(1, ...shapes.map((s) => s[s.length - k] ?? 1));
  return n;
}

/** The same outputs, within float noise of onnxruntime's optimisations; else what differs. */
export function sameOutputs(got: ReadonlyMap<string, HostTensor> | Record<string, HostTensor>, want: Record<string, HostTensor>): string | undefined {
  const get = (n: string) => (got instanceof Map ? got.get(n) : (got as Record<string, HostTensor>)[n]);
  for (const [name, t] of Object.entries(want)) {
    const g = get(name);
    const d = maxAbsDiff(g, t);
    let scale = 1;
    if (ArrayBuffer.isView(t.data) && !(t.data instanceof BigInt64Array) && !(t.data instanceof BigUint64Array)) {
      for (const v of t.data as unknown as Iterable<number>) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    }
    if (!(d <= 1e-3 * scale)) return `output '${name}' differs from onnxruntime's (${g ? `max abs diff ${d}` : 'missing'})`;
  }
  return undefined;
}
