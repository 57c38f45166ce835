/**
 * The `profile` operation as a library call: the model's per-node times and fixed costs on the
 * edge (here) and on the cloud side where the cloud runs (the local worker, a remote worker over
 * SSH or in a Kubernetes worker pod, a Kubernetes Job, an OSCAR job: cloud-profile.ts), with the
 * sweep's provider, threads and graph optimisation. Kernels of fused nodes are mapped back to the model's nodes through the optimised
 * model onnxruntime writes (layer-profiler-attribution.ts) and their time split by MACs. Then a
 * few real cycles measure each side's cycle cost (cycle-calibration.ts).
 */
import { untilAborted } from '../abort.js';
import type { RunConfig } from '../config/run-config.js';
import { edgeSessionOptions } from '../config/run-config.js';
import { integerAtLeast } from '../config/checks.js';
import { partHash } from '../onnx/part-hash.js';
import { WorkerBackend } from '../backends/worker-client.js';
import { createSession } from '../runtime/ort.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { storeKeys, type ObjectStore } from '../storage/store.js';
import { preloadParts, UploadedParts } from './part-preload.js';
import { idle, measureStoreCosts, storeLabel, type StoreCosts } from '../predict/store-costs.js';
import { profileCloud } from './cloud-profile.js';
import { CALIBRATION_REP, EDGE_ONLY_REP, JOB_CALIBRATION_REP, calibrationPoints, edgeOnlyPoint, cycleCosts, withCycleCosts, type CycleCalibration } from './cycle-calibration.js';
import type { Row } from './columns.js';
import { FIXED_COSTS, type FixedCost, type LayerProfile, type NodeProfile, type Side, type SideSettings } from './layer-profile.js';
import { cloudDecodeSpeed, profileCodecs, type CodecProfile } from './codec-profile.js';
import { CODEC_RUNS, CodecSamples } from './codec-decode.js';
import { distribute, nodeNames } from './layer-profiler-attribution.js';
import { measureSide, type SideMeasurement } from './layer-profiler-side.js';
import type { StartingCloud } from './start-cloud.js';
import { startRun, type StartedRun } from './start-run.js';
import { median, percentile } from './stats.js';

import { DEFAULT_PROFILE_REP } from './profile-defaults.js';
export { DEFAULT_PROFILE_REP, PREDICT_PROFILE_REP } from './profile-defaults.js';
/** Timed requests of each kind and size when the store's costs are measured with the profile. */
const STORE_REPEATS = 3;
/** Unrecorded requests of each kind and size first: none after the calibration cycles (they have just warmed the store's client up), else one. */
const storeWarmup = (cycles: readonly Row[]) => (cycles.length > 0 ? 0 : 1);

export interface ProfileOptions {
  feeds: Record<string, HostTensor>;
  /** Recorded runs per side (default DEFAULT_PROFILE_REP). */
  rep?: number;
  warn?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** The tensor codecs to measure on the cut tensors (codec-profile.ts; default every one, PROFILED_CODECS; raw or none: no codec rows but the list). */
  codecs?: readonly string[];
  /** The cloud side, started by the caller with startCloud(config) (while the model was analysed); closed when the profile is done or fails. Default: started here, after the edge is measured. */
  cloud?: StartingCloud;
  /** Also measure the store's costs (store-costs.ts) on the store the run opened, for a prediction that follows. */
  storeCosts?: boolean;
  /** Ctrl-C: the profile stops at once (the cloud side with it) and fails with the signal's reason. */
  signal?: AbortSignal;
}

export interface ProfileResult {
  profile: LayerProfile;
  /** What each side measured, as it came (the cloud's from the worker process). */
  measurements: Record<Side, SideMeasurement>;
  /** The cycles the cycle costs come from. */
  calibration: CycleCalibration;
  /** With options.storeCosts: the store's costs and which store ('embedded' or its endpoint). */
  store?: { costs: StoreCosts; store: string };
}

/** Puts the whole model in the store under its hash, unless it is there already. */
async function putModel(store: ObjectStore, sha: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!(await store.exists(storeKeys.model(sha)))) await store.put(storeKeys.model(sha), bytes, signal);
}

const stat = (v: readonly number[]) => ({ medianMs: median(v), p95Ms: percentile(v, 0.95), runs: v.length });

/** The profile rows of one side from its measurement: per model node, the kernels' time (scaled to the unprofiled run, see kernelScale) split by MACs. */
export function sideRows(analysis: ModelAnalysis, side: Side, m: SideMeasurement): { nodes: NodeProfile[]; fixed: LayerProfile['fixed'][Side] } {
  const { index, shapes, costs } = analysis;
  const names = nodeNames(analysis.model.proto.graph!);
  const byName = new Map(names.map((n, i) => [n, i]));
  const covers = new Map(m.kernels.map((k) => [k.node, k.covers]));
  const weight = (n: string) => costs.macs[byName.get(n) ?? -1] ?? 0;
  const runs = m.runMs.length;
  const perRun = Array.from({ length: runs }, (_, r) => distribute(m.kernels.map((k) => ({ node: k.node, ms: (k.ms[r] ?? 0) * m.kernelScale })), covers, weight).ms);
  const nodes = index.nodes.map((n, i): NodeProfile => {
    const times = perRun.map((ms) => ms.get(names[i]!) ?? 0);
    const outputBytes = (n.output ?? []).reduce((a, t) => a + (shapes.get(t)?.bytes ?? 0), 0);
    const params = costs.weights[i]!.reduce((a, w) => a + (costs.weightElements.get(w) ?? 0), 0);
    return { side, node: names[i]!, opType: n.opType ?? '', ...stat(times), outputBytes, params, macs: costs.macs[i]! };
  });
  const fixed = Object.fromEntries(FIXED_COSTS.map((f) => [f, stat(m.fixed[f])])) as Record<FixedCost, ReturnType<typeof stat>>;
  return { nodes, fixed };
}

/** A side's settings: the run's, with the threads and graph optimisation the side's sessions reported (a job or worker runs with its own). */
function settingsOf(config: RunConfig, backend: string, m: SideMeasurement, threads: number | undefined): SideSettings {
  const t = m.session.threads ?? threads;
  return { execType: config.execType, graphOpt: m.session.graphOpt ?? config.graphOptimizationLevel, backend, ...(t !== undefined ? { threads: t } : {}) };
}

/** Profiles both sides: the edge here first, then the cloud side where it runs (never both at once). */
export async function profileModel(analysis: ModelAnalysis, config: RunConfig, options: ProfileOptions): Promise<ProfileResult> {
  const rep = integerAtLeast(options.rep ?? DEFAULT_PROFILE_REP, 'rep', 1);
  const bytes = analysis.model.bytes;
  const side = { rep, warmup: Math.max(1, config.warmup) };
  const signal = options.signal;
  const alone = edgeOnlyPoint(analysis);
  const points = calibrationPoints(analysis);
  let edge: SideMeasurement;
  let codecs: CodecProfile;
  let run: StartedRun;
  // A few coded cut tensors of each codec, for the cloud side to time their decoding where it runs.
  const samples = new CodecSamples();
  const sha = partHash(bytes);
  let modelPut = false;
  const uploaded = new UploadedParts();
  try {
    // A cloud side the caller started finishes starting first: nothing else runs while the edge is
    // measured. Meanwhile (nothing is measured then) the model goes into the store for the cloud
    // profile, then the calibration points' cloud parts until the cloud side is up.
    if (options.cloud?.warming) {
      await putModel(options.cloud.directStore, sha, bytes, signal);
      modelPut = true;
      await preloadParts(analysis, options.cloud.edgeStore, [...points, ...(alone ? [alone] : [])], options.cloud.warming, uploaded, undefined, signal);
    }
    await untilAborted(options.cloud?.warming ?? Promise.resolve(), signal);
    signal?.throwIfAborted();
    // Its outputs are the run's reference (the same model, session options and inputs).
    let expected: Record<string, HostTensor> | undefined;
    edge = await measureSide(createSession, bytes, edgeSessionOptions(config), options.feeds, side, (r) => (expected ??= r));
    // The tensor codecs on this model's cut tensors, with the edge's session options.
    signal?.throwIfAborted();
    codecs = await profileCodecs(analysis, options.feeds, createSession, edgeSessionOptions(config), CODEC_RUNS, options.codecs, samples);
    signal?.throwIfAborted();
    // The calibration cycles run behind the link asked for (none: unshaped): a part run after a
    // longer wait is slower (cycle-calibration.ts). The store's costs are measured without it.
    // The calibration points' cloud parts go into the store while the cloud side starts.
    run = await startRun(analysis, config, { feeds: options.feeds, preload: [...points, ...(alone ? [alone] : [])], ...(options.warn ? { warn: options.warn } : {}), ...(options.env ? { env: options.env } : {}), ...(options.cloud ? { cloud: options.cloud } : {}), ...(expected ? { expected } : {}), ...(signal ? { signal } : {}), uploadedParts: uploaded });
  } catch (err) {
    await options.cloud?.close();
    throw err;
  }
  const picked = samples.picked();
  let cloud: SideMeasurement;
  let cloudThreads = config.cloudThreads;
  const cycles: Row[] = [];
  let measuredStore: ProfileResult['store'];
  try {
    const { backend, runId } = run.ctx;
    // The model and the profile request are no cycle's: they go to the store directly.
    const store = run.directStore;
    if (!modelPut) await putModel(store, sha, bytes, signal);
    cloud = await profileCloud({ store, backend, runId, model: sha, feeds: options.feeds, side, timeoutMs: config.timeoutMs + rep * config.timeoutMs, keepObjects: run.ctx.keepObjects, codecSamples: new Map([...picked].map(([k, s]) => [k, s.coded])) });
    // A worker says which threads it runs with; a job runs with the configuration it was given.
    if (backend instanceof WorkerBackend) cloudThreads = backend.workerConfig?.threads ?? cloudThreads;
    // A job backend starts a process per cycle: fewer cycles, each as the sweep's are.
    const calibrationRep = backend instanceof WorkerBackend ? CALIBRATION_REP : JOB_CALIBRATION_REP;
    for (const point of points) cycles.push(...(await run.measureSplit(point, calibrationRep)).rows);
    if (alone) cycles.push(...(await run.measureSplit(alone, EDGE_ONLY_REP)).rows);
    // After the calibration cycles the store's client is warm: no warm-up requests, fewer repeats.
    // Measured whenever cycles sent something: the cloud's cycle wait is what they leave unexplained.
    if (options.storeCosts || cycles.some((r) => Number(r.transfer_bytes) > 0)) {
      measuredStore = { costs: await measureStoreCosts(store, STORE_REPEATS, idle, storeWarmup(cycles)), store: storeLabel(run.config) };
    }
  } catch (err) {
    await run.close();
    throw err;
  }
  // Nothing is measured any more: the profile is worked out while the worker, the link's proxy and the store stop.
  const closing = run.close();
  try {
    const e = sideRows(analysis, 'edge', edge);
    const c = sideRows(analysis, 'cloud', cloud);
    const hot: LayerProfile = {
      modelSha256: sha,
      settings: { edge: settingsOf(config, 'local', edge, config.edgeThreads), cloud: settingsOf(config, config.cloud, cloud, cloudThreads) },
      nodes: [...e.nodes, ...c.nodes],
      fixed: { edge: e.fixed, cloud: c.fixed },
      // The cloud's decode speed as measured there; an onnx-cloud that timed no samples leaves the edge's.
      codecs: cloud.codecDecode ? { ...codecs, speed: cloudDecodeSpeed(codecs.speed, picked, cloud.codecDecode) } : codecs,
    };
    if (!cloud.codecDecode && picked.size) options.warn?.('the cloud side did not time the codecs\' decoding: the profile takes its decode speed as the edge\'s');
    const calibration = cycleCosts(analysis, hot, cycles, measuredStore && { costs: measuredStore.costs, link: config.link ?? { rttMs: 0 } });
    return {
      profile: { ...withCycleCosts(hot, calibration.cost), ...(config.link ? { calibrationLink: config.link } : {}), ...(measuredStore ? { store: measuredStore } : {}) },
      calibration,
      ...(measuredStore && options.storeCosts ? { store: measuredStore } : {}),
      measurements: { edge, cloud },
    };
  } finally {
    await closing;
  }
}
