/**
 * onnxruntime-node adapter: the only module that imports onnxruntime-node.
 */
import { DEFAULTS } from '../config/defaults.js';
import * as ort from 'onnxruntime-node';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { OnnxManagerError } from '../errors.js';
import { ortLine } from './ort-message.js';
import { probeProviders } from './provider-probe.js';
import type { ProviderChoice } from './providers.js';
import type { HostTensor, Session, SessionOptions } from './session.js';

export class RuntimeError extends OnnxManagerError {}

// onnxruntime's own log goes to stderr; its errors reach users as exceptions with one-line
// messages, so only fatal entries are printed: the environment's level (set before the first
// session initialises it) and each session's (a failing kernel logs its error at the session's).
ort.env.logLevel = 'fatal';
const SESSION_LOG_FATAL = 4;

class OrtSession implements Session {
  constructor(
    private readonly inner: ort.InferenceSession,
    private readonly profilePrefix?: string,
  ) {}
  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }
  get outputTypes(): Readonly<Record<string, string | undefined>> {
    return Object.fromEntries(this.inner.outputMetadata.map((m) => [m.name, m.isTensor ? m.type : undefined]));
  }
  async run(feeds: Readonly<Record<string, HostTensor>>, fetches?: readonly string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = t instanceof ort.Tensor ? t : new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
    }
    try {
      return (await (fetches ? this.inner.run(ortFeeds, fetches) : this.inner.run(ortFeeds))) as Record<string, HostTensor>;
    } catch (err) {
      throw new RuntimeError(`inference failed: ${ortLine(err)}`, { cause: err });
    }
  }
  async endProfiling(): Promise<string> {
    if (!this.profilePrefix) throw new RuntimeError('this session was created without profiling (profileFilePrefix)');
    // onnxruntime names the file <prefix>_<date>_<time>.json and does not say which.
    this.inner.endProfiling();
    const dir = path.dirname(this.profilePrefix);
    const base = `${path.basename(this.profilePrefix)}_`;
    const found = (await readdir(dir)).filter((f) => f.startsWith(base) && f.endsWith('.json')).sort();
    if (found.length === 0) throw new RuntimeError(`onnxruntime wrote no profile beside ${this.profilePrefix}`);
    return path.join(dir, found.at(-1)!);
  }
  release(): Promise<void> {
    return this.inner.release();
  }
}

/** Providers this onnxruntime-node build knows, and whether their libraries ship inside the package. */
export function availableProviders(): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/**
 * Checks that a provider can be used here, by creating a session for a one-node model on it.
 * Never falls back: a provider that cannot load is an error listing the ones that can. CPU is
 * tried in this process; any other provider in a child (provider-probe.ts), with the others this
 * build bundles, since a provider that fails to load writes native warnings to stderr.
 */
export async function checkProvider(choice: ProviderChoice, probeModel: Uint8Array): Promise<void> {
  const known = availableProviders();
  if (choice.name === 'cpu' && known.some((b) => b.name === 'cpu')) {
    const s = await createSession(probeModel, { executionProviders: [choice], logSeverityLevel: 4 });
    await s.release();
    return;
  }
  const others = known.filter((k) => k.bundled && k.name !== choice.name).map((k) => ({ name: k.name }));
  const inBuild = known.some((b) => b.name === choice.name);
  const results = await probeProviders(inBuild ? [choice, ...others] : others, probeModel);
  const usable = others.filter((_, i) => results[i + (inBuild ? 1 : 0)] === undefined).map((o) => o.name).join(', ') || 'none';
  if (!inBuild) throw new RuntimeError(`execution provider '${choice.name}' is not in this onnxruntime-node build (available here: ${usable})`);
  const why = results[0];
  if (why !== undefined) {
    const missing = /Failed to load shared library/.test(why) && (choice.name === 'cuda' || choice.name === 'tensorrt') ? '; its libraries are not installed: see "GPU users" in the README' : '';
    throw new RuntimeError(`execution provider '${choice.name}' is not available here (${why.replace(/^onnxruntime could not load the model: /, '')}${missing}); available here: ${usable}`);
  }
}

/** Creates a session from model bytes or a model file path. */
export async function createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: (options.executionProviders ?? ['cpu']).map((p) =>
      typeof p === 'string' ? p : p.deviceId !== undefined ? ({ name: p.name, deviceId: p.deviceId } as ort.InferenceSession.ExecutionProviderConfig) : p.name,
    ),
    graphOptimizationLevel: options.graphOptimizationLevel ?? DEFAULTS.graphOpt,
    logSeverityLevel: options.logSeverityLevel ?? SESSION_LOG_FATAL,
  };
  if (options.intraOpNumThreads !== undefined) opts.intraOpNumThreads = options.intraOpNumThreads;
  if (options.enableCpuMemArena !== undefined) opts.enableCpuMemArena = options.enableCpuMemArena;
  if (options.enableMemPattern !== undefined) opts.enableMemPattern = options.enableMemPattern;
  if (options.interOpNumThreads !== undefined) opts.interOpNumThreads = options.interOpNumThreads;
  if (options.allowSpinning === false) opts.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  if (options.stopSpinningAfterRun) opts.extra = { session: { ...(opts.extra?.session as object), force_spinning_stop: '1' } };
  if (options.profileFilePrefix !== undefined) {
    opts.enableProfiling = true;
    opts.profileFilePrefix = path.resolve(options.profileFilePrefix);
  }
  if (options.optimizedModelFilePath !== undefined) opts.optimizedModelFilePath = path.resolve(options.optimizedModelFilePath);
  if (options.externalData) opts.externalData = options.externalData.map((e) => ({ path: e.path, data: e.data }));
  try {
    const inner =
      typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    return new OrtSession(inner, opts.profileFilePrefix);
  } catch (err) {
    throw new RuntimeError(`onnxruntime could not load the model: ${ortLine(err)}`, { cause: err });
  }
}
