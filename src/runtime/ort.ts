/**
 * onnxruntime-node adapter: the only module that imports onnxruntime-node.
 */
import * as ort from 'onnxruntime-node';
import { OnnxManagerError } from '../errors.js';
import type { HostTensor, Session, SessionOptions } from './session.js';

export class RuntimeError extends OnnxManagerError {}

class OrtSession implements Session {
  constructor(private readonly inner: ort.InferenceSession) {}
  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }
  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = t instanceof ort.Tensor ? t : new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
    }
    try {
      return (await this.inner.run(ortFeeds)) as Record<string, HostTensor>;
    } catch (err) {
      throw new RuntimeError(`inference failed: ${firstLine(err)}`, { cause: err });
    }
  }
  release(): Promise<void> {
    return this.inner.release();
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/** Creates a session from model bytes or a model file path. */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: [...(options.executionProviders ?? ['cpu'])],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    logSeverityLevel: options.logSeverityLevel ?? 3,
  };
  if (options.intraOpNumThreads !== undefined) opts.intraOpNumThreads = options.intraOpNumThreads;
  if (options.interOpNumThreads !== undefined) opts.interOpNumThreads = options.interOpNumThreads;
  if (options.externalData) opts.externalData = options.externalData.map((e) => ({ path: e.path, data: e.data }));
  try {
    const inner =
      typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    return new OrtSession(inner);
  } catch (err) {
    throw new RuntimeError(`onnxruntime could not load the model: ${firstLine(err)}`, { cause: err });
  }
}
