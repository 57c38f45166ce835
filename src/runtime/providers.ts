/**
 * Execution providers: the user-facing --exec_type names and the onnxruntime providers they mean.
 */
import { DEFAULTS } from '../config/defaults.js';
import { UsageError } from '../errors.js';

/** --exec_type values (case-insensitive) and the onnxruntime provider each selects. */
export const EXEC_TYPES: Readonly<Record<string, string>> = Object.freeze({
  cpu: 'cpu',
  gpu: 'cuda',
  cuda: 'cuda',
  tensorrt: 'tensorrt',
  trt: 'tensorrt',
  webgpu: 'webgpu',
  dml: 'dml',
  directml: 'dml',
  coreml: 'coreml',
  qnn: 'qnn',
  xnnpack: 'xnnpack',
  nnapi: 'nnapi',
});

export interface ProviderChoice {
  /** The onnxruntime provider name. */
  name: string;
  /** Device id (--device_type), for providers that take one. */
  deviceId?: number;
}

export function providerFor(execType: string | undefined, deviceType?: string | number): ProviderChoice {
  const key = (execType ?? DEFAULTS.execType).toLowerCase();
  const name = EXEC_TYPES[key];
  if (!name) throw new UsageError(`unknown --exec_type '${execType}' (one of: CPU, GPU, TensorRT, WebGPU, DML, CoreML, QNN, XNNPACK, NNAPI)`);
  const choice: ProviderChoice = { name };
  if (deviceType !== undefined && deviceType !== '') {
    const text = String(deviceType).replace(/^(cuda|gpu):/i, '');
    const id = Number(text);
    if (!Number.isInteger(id) || id < 0) throw new UsageError(`--device_type must be a device number such as 0 or cuda:1, got '${deviceType}'`);
    choice.deviceId = id;
  }
  return choice;
}
