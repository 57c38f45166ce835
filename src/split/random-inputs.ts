/**
 * Deterministic random inputs of an analysed model, each of its input's own element type.
 */
import { UsageError } from '../errors.js';
import { dtypeFromOnnx } from '../onnx/dtypes.js';
import type { HostTensor } from '../runtime/session.js';
import { randomTensor } from '../tensor/host.js';
import type { ModelAnalysis } from './analysis.js';

/**
 * Floats in [-1, 1), integers in [0, 10), booleans 0/1, of the analysed shapes; the same seed
 * gives the same tensors. An input of a type with no host array (int4, bfloat16, ...) is a
 * UsageError naming it.
 */
export function randomInputs(a: ModelAnalysis, seed = 1): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  a.index.inputs.forEach((name, i) => {
    const info = a.shapes.get(name)!;
    const dtype = dtypeFromOnnx(info.elemType).name;
    try {
      feeds[name] = randomTensor(dtype, info.dims, seed + i);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      throw new UsageError(`input '${name}' is ${dtype}, which has no random input here; give the inputs with --input_file`, { cause: err });
    }
  });
  return feeds;
}
