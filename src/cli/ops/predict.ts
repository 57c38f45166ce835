/**
 * predict: every split point's cycle predicted from a per-layer profile, the store's measured
 * costs and the link, to CSV; with --measured, compared with a run_all CSV.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { checkOutputFile, refuseOutputOverInput } from '../../files.js';
import * as path from 'node:path';
import { buildRunConfig, type RunConfig, type RunFlags } from '../../config/run-config.js';
import { UsageError, warnOnStderr } from '../../errors.js';
import { missingAxisNote } from '../../tensor/codecs/int8-channel.js';
import { DEFAULTS } from '../../config/defaults.js';
import { oddCalibrationLines, readProfile, writeProfile, type LayerProfile } from '../../profile/layer-profile.js';
import { PREDICT_PROFILE_REP } from '../../profile/profile-defaults.js';
import { profileModel } from '../../profile/layer-profiler.js';
import { whileCloudStarts, type StartingCloud } from '../../profile/start-cloud.js';
import { randomInputs } from '../../split/random-inputs.js';
import { profileFileFor } from '../../profile/profile-defaults.js';
import { checkProfile } from '../../predict/model.js';
import { checkLink, describeLink, sameLink, type Link } from '../../predict/link.js';
import { compare, joinKey, readMeasured, ape, type MeasuredSplit } from '../../predict/measured.js';
import { allWireBytes, checkProfileCodecs, PREDICT_COLUMNS, predictRows, roundRow, splitFacts, withCycleWait, type PredictedRow } from '../../predict/predict.js';
import os from 'node:os';
import { measureRunStore, noisyStoreLine, storeLabel, type StoreCosts } from '../../predict/store-costs.js';
import { headerLine, writeCsvFile } from '../../profile/csv.js';
import type { ModelAnalysis } from '../../split/analysis.js';
import { counted, table } from '../format.js';
import type { PayloadRun } from '../../predict/payload-size.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';

export interface PredictArgs extends ModelArgs {
  profile?: string;
  bandwidth?: number;
  rtt?: number;
  results_file?: string;
  measured?: string;
  json?: boolean;
  minio_endpoint?: string;
  minio_bucket?: string;
  minio_region?: string;
  minio_secure?: boolean;
  /** Codecs of the cut tensors to predict (default raw). */
  tensor_codec?: string | string[];
}

/** The codecs asked for, each once, in order; `fallback` when none. */
export function codecsOf(args: { tensor_codec?: string | string[] }, fallback: readonly string[] = ['raw']): string[] {
  const given = args.tensor_codec === undefined ? [] : [args.tensor_codec].flat();
  return [...new Set(given.length ? given : fallback)];
}

/**
 * The profile of the model: read from --profile and checked against the model. Without
 * --profile this is where the model will be profiled first; the store's costs are then measured
 * in the same run (on the store it opened) and come back with the profile.
 */
/** The configuration predict profiles with: that of the flags, calibrated behind the link predicted for. */
function profileConfig(args: object, link?: Link): RunConfig {
  return buildRunConfig({ ...(args as RunFlags), ...(link?.bandwidthMbit !== undefined ? { bandwidth: link.bandwidthMbit } : {}), ...(link?.rttMs ? { rtt: link.rttMs } : {}) });
}

export async function profileFor(
  args: { profile?: string; seed?: number; profile_rep?: number; results_file?: string; tensor_codec?: string | string[] },
  a: ModelAnalysis,
  out?: (s: string) => void,
  link?: Link,
  cloud?: StartingCloud,
  warn?: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ profile: LayerProfile; store?: { costs: StoreCosts; store: string } }> {
  if (!args.profile) {
    if (!out) throw new UsageError(`no --profile given: \`onnx-manager profile --onnx_file ${a.model.label}\` makes one (<results>.profile.csv)`);
    // Profile first, with the settings of these flags (calibrated behind the link predicted for), and keep the profile for the next prediction.
    const config = cloud?.config ?? profileConfig(args, link);
    const feeds = randomInputs(a, args.seed ?? DEFAULTS.seed);
    // Only the codecs asked for are measured (raw alone: none).
    const { profile, store } = await profileModel(a, config, { feeds, storeCosts: true, codecs: codecsOf(args), ...(cloud ? { cloud } : {}), rep: args.profile_rep ?? PREDICT_PROFILE_REP, ...(warn ? { warn } : {}), ...(signal ? { signal } : {}) });
    // Beside the predicted rows: results/m.predict.csv -> results/m.profile.csv.
    const rows = args.results_file?.replace(/\.predict\.csv$/i, '.csv');
    const file = profileFileFor({ onnx_file: a.model.file ?? 'model.onnx', ...(rows ? { results_file: rows } : {}) });
    signal?.throwIfAborted();
    await writeProfile(file, profile);
    out(`profiled ${a.model.label} on both sides (${config.cloud} cloud); profile written to ${file}`);
    return { profile, ...(store ? { store } : {}) };
  }
  const profile = await readProfile(args.profile);
  checkProfile(a, profile, args.profile);
  return { profile };
}

/**
 * The store's costs for a prediction from `profile`: those measured with the profile when it was
 * made on the store `config` names (fromProfile true), so that every prediction from one profile
 * gives the same times and the cloud's cycle_wait_ms is added to the costs it was measured
 * against; else measured now on that store (measureRunStore).
 */
export async function storeCostsFor(config: Pick<RunConfig, 'store'>, profile: LayerProfile, warn?: (line: string) => void, signal?: AbortSignal): Promise<{ costs: StoreCosts; store: string; fromProfile: boolean }> {
  if (profile.store && profile.store.store === storeLabel(config)) return { ...profile.store, fromProfile: true };
  return { ...(await measureRunStore(config, undefined, warn, signal)), fromProfile: false };
}

/** The link measured rows were taken on. */
function measuredLink(m: MeasuredSplit): Link {
  return checkLink({ ...(m.bandwidthMbit !== undefined ? { bandwidthMbit: m.bandwidthMbit } : {}), rttMs: m.rttMs });
}

/** The link of the flags, else the one the measured rows were taken on, else none. */
export function linkOf(args: { bandwidth?: number; rtt?: number }, measured?: readonly MeasuredSplit[]): Link {
  const m = measured?.[0];
  if (args.bandwidth === undefined && args.rtt === undefined && m) return measuredLink(m);
  return checkLink({ ...(args.bandwidth !== undefined ? { bandwidthMbit: args.bandwidth } : {}), rttMs: args.rtt ?? 0 });
}

/** Measured splits joined to the model's split points; refuses results of another model. */
export async function measuredFor(file: string, a: ModelAnalysis, flag = '--results_file'): Promise<MeasuredSplit[]> {
  return checkMeasured(file, await readMeasured(file, flag), a);
}

/** `measured` (read from `file`), refused when it was measured on another model (its model_sha256) or its split points are not the model's. */
function checkMeasured(file: string, measured: MeasuredSplit[], a: ModelAnalysis): MeasuredSplit[] {
  // Models can share their split layers' names (a model builder's naming): the model's hash tells them apart.
  const other = measured.find((m) => m.modelSha256 !== undefined && m.modelSha256 !== a.model.sha256);
  if (other) throw new UsageError(`${file} holds results of another model (model_sha256 ${other.modelSha256!.slice(0, 12)}…, ${a.model.label} is ${a.model.sha256.slice(0, 12)}…)`);
  for (const m of measured) {
    const p = a.splitPoints[m.split_index];
    if (!p || p.splitLayer !== m.split_layer) {
      throw new UsageError(`${file}: split ${m.split_index} is '${m.split_layer}', which is not split ${m.split_index} of ${a.model.label}${p ? ` ('${p.splitLayer}')` : ''}: results of another model or other input shapes`);
    }
  }
  return measured;
}

function defaultFile(args: PredictArgs): string {
  return path.join('results', `${path.basename(args.onnx_file ?? 'model', '.onnx')}.predict.csv`);
}

/** How a run through `backend` shapes its payloads: an OSCAR job gets the run's store retry budget in each, and answers as a file job. */
async function payloadRunOf(backend: string, config: RunConfig): Promise<PayloadRun> {
  if (backend !== 'oscar') return {};
  // Imported only for OSCAR (the backends are imported when used).
  const { payloadStoreRetryMs } = await import('../../backends/oscar.js');
  return { storeRetryMs: payloadStoreRetryMs(config), fileJob: true };
}

/**
 * predict writes its CSV whole, replacing what --results_file held: an earlier prediction, but
 * never a run_all results file (its measurements; run_all takes the same flag) or a file of
 * something else, which are refused naming what they hold.
 */
async function refuseReplacingOtherResults(file: string): Promise<void> {
  if (!existsSync(file)) return;
  const head = headerLine((await readFile(file)).subarray(0, 4096).toString('utf8'));
  if (!head) return;
  const header = head.columns;
  if (header.includes('rep') && header.includes('status')) throw new UsageError(`--results_file ${file} holds run_all results, which predict would replace; name another file (predict writes <name>.predict.csv by default)`);
  if (['split_index', 'split_layer', 'total_ms'].every((c) => header.includes(c))) return;
  throw new UsageError(`--results_file ${file} holds something other than predict results (its first line: '${head.shown}'), which predict would replace; name another file`);
}

const pct = (v: number) => `${v.toFixed(1)}%`;

/**
 * The predict operation. Warnings (the cloud side's, the store's, the profile's) go to `sink`, one
 * call each (without it to stderr, as a run's do), and with --json also into the JSON's `warnings`.
 * An interrupt (`signal`) stops the profiling or the store's measuring at once, with what they
 * started, and nothing is written.
 */
export async function predict(args: PredictArgs, out: (s: string) => void, sink: (line: string) => void = warnOnStderr, signal?: AbortSignal): Promise<number> {
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    sink(line);
  };
  const file = args.results_file ?? defaultFile(args);
  checkOutputFile(file, 'results_file');
  refuseOutputOverInput(file, 'results_file', 'predict', [
    ['the measured results (--measured)', args.measured],
    ['the profile (--profile)', args.profile],
    ['the model (--onnx_file)', args.onnx_file],
  ]);
  await refuseReplacingOtherResults(file);
  const measuredRows = args.measured ? await readMeasured(args.measured) : undefined;
  const link = linkOf(args, measuredRows);
  // Without --profile the cloud side starts (the store, the worker) and the model is analysed while the worker starts.
  return whileCloudStarts(args.profile ? undefined : profileConfig(args, link), (starting, launched) => predictWith(args, file, measuredRows, link, out, starting, launched, warn, warnings, signal), { warn, ...(signal ? { signal } : {}) });
}

async function predictWith(args: PredictArgs, file: string, measuredRows: MeasuredSplit[] | undefined, link: Link, out: (s: string) => void, starting: Promise<StartingCloud> | undefined, launched: Promise<void> | undefined, warn: (line: string) => void, warnings: readonly string[], signal: AbortSignal | undefined): Promise<number> {
  // The model is analysed once the worker is starting: its start in another process overlaps the analysis here.
  await launched;
  const a = await analyzeFromArgs(args);
  const measured = measuredRows && checkMeasured(args.measured!, measuredRows, a);
  const measuredOn = measured?.[0] && measuredLink(measured[0]);
  if (measuredOn && !sameLink(measuredOn, link)) {
    warn(`--measured ${args.measured} was measured on ${describeLink(measuredOn)}, and this prediction is for ${describeLink(link)}: its errors compare two links (without --bandwidth and --rtt, predict takes the measured rows' link)`);
  }
  // The payloads' bytes need no profile: worked out while the cloud side may still be starting.
  const config = buildRunConfig(args as RunFlags);
  const early = args.profile ? undefined : allWireBytes(a, await payloadRunOf(config.backend.name, config));
  // With --json, stdout holds the JSON alone: what would be said around the table goes into its notes.
  const notes: string[] = [];
  const say = args.json ? (line: string) => void notes.push(line.replace(/^note: /, '')) : out;
  const { profile, store: measuredStore } = await profileFor(args, a, say, link, await starting, warn, signal);
  // A run through the profile's backend: an OSCAR job's payloads carry the run's store retry budget, its results a file job's timings.
  const wires = early ?? allWireBytes(a, await payloadRunOf(profile.settings.cloud.backend, config));
  const calibrated = profile.calibrationLink ?? { rttMs: 0 };
  if (!sameLink(calibrated, link)) {
    say(`note: the profile's cycle costs were calibrated for ${describeLink(calibrated)}, not ${describeLink(link)}; parts that wait longer before they run take longer (about 10-15% here at 5 Mbit/s): profile for this link (profile --bandwidth/--rtt, or predict without --profile)`);
  }
  checkProfileCodecs(profile, codecsOf(args), args.profile ?? 'the profile');
  for (const codec of codecsOf(args)) {
    const note = missingAxisNote(codec, a.splitPoints);
    if (note) warn(note);
  }
  // The store's costs measured with the profile (now, or when --profile was made on this store); else measured now.
  const measuredCosts = measuredStore ? { ...measuredStore, fromProfile: false } : await storeCostsFor(config, profile, warn, signal);
  const { store } = measuredCosts;
  const costs = withCycleWait(measuredCosts.costs, profile);
  const noisy = noisyStoreLine(costs, os.loadavg(), os.availableParallelism());
  if (noisy) warn(noisy);
  for (const line of oddCalibrationLines(profile, os.loadavg(), os.availableParallelism())) warn(line);
  const settings = {
    bandwidth_mbit: link.bandwidthMbit ?? '',
    rtt_ms: link.rttMs,
    exec_type: profile.settings.edge.execType,
    threads: profile.settings.edge.threads ?? '',
    graph_opt: profile.settings.edge.graphOpt,
    backend: profile.settings.cloud.backend,
    store,
    model_sha256: a.model.sha256,
  };
  const codecs = codecsOf(args);
  const label = args.profile ?? 'the profile';
  const rows: (PredictedRow & Record<string, unknown>)[] = codecs.flatMap((codec) => predictRows(splitFacts(a, profile, codec, label, wires), costs, link).map((r) => ({ ...r, ...settings })));
  let columns: string[] = [...PREDICT_COLUMNS];
  if (measured) {
    const by = new Map(measured.map((m) => [joinKey(m.split_index, m.tensor_codec), m]));
    columns = [...columns, 'measured_transfer_bytes', 'measured_edge_ms', 'measured_cloud_ms', 'measured_transfer_ms', 'measured_total_ms', 'compute_ape', 'total_ape'];
    for (const r of rows) {
      const m = by.get(joinKey(r.split_index, r.tensor_codec));
      if (!m) continue;
      Object.assign(r, {
        measured_transfer_bytes: m.transfer_bytes,
        measured_edge_ms: m.edge_ms,
        measured_cloud_ms: m.cloud_ms,
        measured_transfer_ms: m.transfer_ms,
        measured_total_ms: m.total_ms,
        compute_ape: ape(r.edge_ms + r.cloud_ms, m.edge_ms + m.cloud_ms),
        total_ape: ape(r.total_ms, m.total_ms),
      });
    }
  }
  const rounded = rows.map((r) => roundRow(r));
  signal?.throwIfAborted();
  await writeCsvFile(file, columns, rounded);
  const comparison = measured ? compare(rows, measured) : undefined;
  const several = codecs.length > 1 || codecs[0] !== 'raw';
  if (args.json) {
    out(JSON.stringify({ model: a.model.label, link, store_costs: costs, results_file: file, comparison, warnings, notes, splits: rounded }, null, 2));
    return 0;
  } else {
    const keys = [...(several ? ['tensor_codec'] : []), 'transfer_bytes', 'edge_ms', 'transfer_ms', 'cloud_ms', 'total_ms', ...(measured ? ['measured_total_ms', 'total_ape'] : [])];
    out(table(['>split_index', 'split_layer', ...keys.map((k) => (k === 'tensor_codec' ? k : `>${k}`))], rounded.map((r) => [r.split_index, r.split_layer, ...keys.map((k) => String((r as Record<string, unknown>)[k] ?? ''))])));
    out(`${counted(rows.length, 'row')} (${counted(a.splitPoints.length, 'split point')}${codecs.length > 1 ? ` x ${codecs.length} tensor codecs` : ''}) predicted for ${describeLink(link)} (store: ${store}, ${measuredCosts.fromProfile ? `its costs from the profile's ${costs.requests} requests` : `${costs.requests} requests measured`}) in ${file}`);
  }
  const best = rows.reduce((b, r) => (r.total_ms < b.total_ms ? r : b));
  // No codec applies to a split point that sends nothing (the edge-only split), as recommend says too.
  const sendsNothing = new Set(rows.filter((r) => r.transfer_bytes === 0).map((r) => r.split_index));
  const sentAs = (codec: string | undefined, split: number) => (codec && codec !== 'raw' && !sendsNothing.has(split) ? ` with the cut tensors sent as ${codec}` : '');
  out(`predicted best split: ${best.split_index} (${best.split_layer})${sentAs(best.tensor_codec, best.split_index)}, total ${best.total_ms.toFixed(2)} ms`);
  if (comparison) {
    const c = comparison;
    const unit = several ? 'split point and codec pairs' : 'split points';
    out(`against ${args.measured} (${c.splits} ${unit}): compute (edge + cloud) error median ${pct(c.compute.medianApe)}, p90 ${pct(c.compute.p90Ape)}; total_ms error median ${pct(c.total.medianApe)}, p90 ${pct(c.total.p90Ape)}`);
    // Only the measured split points can be compared: say so, since the best of all may be another.
    const among = `among the ${c.splits} measured ${unit}`;
    out(
      c.predictedBest === c.measuredBest && c.predictedBestCodec === c.measuredBestCodec
        ? `${among}, the predicted best, split ${c.predictedBest}${sentAs(c.predictedBestCodec, c.predictedBest)}, is the measured best`
        : `${among}, the predicted best, split ${c.predictedBest}${sentAs(c.predictedBestCodec, c.predictedBest)}, is not the measured best, split ${c.measuredBest}${sentAs(c.measuredBestCodec, c.measuredBest)}: measured, it is ${pct(c.slowerPct)} slower`,
    );
    // A split point that sends nothing stands for every codec and was compared under the ones predicted.
    const missed = measured!.filter((m) => m.transfer_bytes > 0 && !codecs.includes(m.tensor_codec || 'raw'));
    const unpredicted = [...new Set(missed.map((m) => m.tensor_codec || 'raw'))];
    if (unpredicted.length) {
      const n = missed.length;
      out(`note: ${args.measured} also holds ${n} split point(s) sent as ${unpredicted.join(', ')}, not compared: give --tensor_codec ${[...codecs, ...unpredicted].join(' ')} to predict them too`);
    }
  }
  return 0;
}
