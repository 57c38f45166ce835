/**
 * Measures of a quantised model against the float one on real inputs that compare.ts does not
 * take: the logits (the input of the final Softmax or Sigmoid) and a detector's text mask.
 */
import { encodeModel } from '../../src/onnx/codec.js';
import { modelFromBytes } from '../../src/onnx/model.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';

/** The model with the input of its last Softmax or Sigmoid (the logits) as its only output. */
export function logitsModel(bytes: Uint8Array): { bytes: Uint8Array; name: string } {
  const m = modelFromBytes(bytes, { file: 'model.onnx' });
  const last = (m.proto.graph!.node ?? []).filter((n) => n.opType === 'Softmax' || n.opType === 'Sigmoid').at(-1)!;
  const name = last.input![0]!;
  return { bytes: encodeModel({ ...m.proto, graph: { ...m.proto.graph!, output: [{ name }] } }), name };
}

export async function firstOutput(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Float32Array> {
  const s = await createSession(bytes, { intraOpNumThreads: 1 });
  try {
    return (await s.run(feeds))[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

export function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    r += a[i]! ** 2;
  }
  return Math.sqrt(d / r);
}

export function maskIoU(a: Float32Array, b: Float32Array, threshold: number): number {
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i]! > threshold, b[i]! > threshold];
    if (x && y) both++;
    if (x || y) either++;
  }
  return either > 0 ? both / either : 1;
}
