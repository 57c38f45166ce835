/**
 * Top-1 agreement of a split's outputs with the full model's, for classifiers: the outputs of
 * type float32 or float64, rank 2 and last dim > 1 (a batch of class scores); the fraction of
 * their rows whose largest score is at the same class. Undefined when the model has no such output.
 */
import { argmaxRows } from '../quant/compare.js';
import type { HostTensor } from '../runtime/session.js';

/** Whether `t` is a classifier's output by the rule above. */
export function isClassifierOutput(t: HostTensor): boolean {
  return (t.type === 'float32' || t.type === 'float64') && t.dims.length === 2 && t.dims[1]! > 1;
}

export function top1Agreement(outputs: ReadonlyMap<string, HostTensor>, expected: Readonly<Record<string, HostTensor>>): number | undefined {
  let rows = 0;
  let agree = 0;
  for (const [name, want] of Object.entries(expected)) {
    if (!isClassifierOutput(want)) continue;
    const width = want.dims[1]!;
    const a = argmaxRows(want.data as Float32Array, width);
    rows += a.length;
    const got = outputs.get(name);
    if (!got || got.type !== want.type || got.dims.join() !== want.dims.join()) continue;
    const b = argmaxRows(got.data as Float32Array, width);
    for (let r = 0; r < a.length; r++) if (a[r] === b[r]) agree++;
  }
  return rows > 0 ? agree / rows : undefined;
}
