/**
 * A one-node model (Identity on a float32 vector) used to check that an execution provider loads.
 */
import { encodeModel } from '../onnx/codec.js';

let cached: Uint8Array | undefined;

export function probeModel(): Uint8Array {
  const io = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
  cached ??= encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'onnx-manager',
    graph: { name: 'probe', node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'identity' }], input: [io('x')], output: [io('y')] },
  });
  return cached;
}
