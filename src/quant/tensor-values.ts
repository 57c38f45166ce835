/**
 * Float32 values of a weight (an initializer or a Constant node's value), wherever the model
 * keeps them: raw_data, float_data, or an external data file.
 */
import { readSync, openSync, closeSync } from 'node:fs';
import { FileError } from '../errors.js';
import { externalRef, type LoadedModel } from '../onnx/model.js';
import { toNumber, type TensorProto } from '../onnx/types.js';

export const FLOAT = 1;

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

function readExternal(model: LoadedModel, t: TensorProto, bytes: number): Uint8Array {
  const ref = externalRef(model, t)!;
  const out = new Uint8Array(bytes);
  let fd: number | undefined;
  try {
    fd = openSync(ref.file, 'r');
    const got = readSync(fd, out, 0, bytes, ref.offset);
    if (got !== bytes) throw new Error(`read ${got} of ${bytes} bytes`);
  } catch (err) {
    throw new FileError(`${model.label}: cannot read external data of tensor '${t.name}' from ${ref.file}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return out;
}

/** The values of a float32 tensor, as a fresh Float32Array. */
export function floatValues(model: LoadedModel, t: TensorProto): Float32Array {
  const count = tensorDims(t).reduce((a, b) => a * b, 1);
  if ((t.floatData?.length ?? 0) > 0) return Float32Array.from(t.floatData!);
  const raw = t.dataLocation === 1 ? readExternal(model, t, count * 4) : (t.rawData ?? new Uint8Array(0));
  if (raw.length !== count * 4) {
    throw new FileError(`${model.label}: tensor '${t.name}' has ${raw.length} bytes of data for ${count} float32 values`, { file: model.file });
  }
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(raw);
  return out;
}
