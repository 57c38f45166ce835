/**
 * profile: per-node times and fixed costs on each side, written to <results>.profile.csv.
 */
import { checkOutputFile } from '../../files.js';
import { buildRunConfig, type RunFlags } from '../../config/run-config.js';
import { DEFAULTS } from '../../config/defaults.js';
import { cycleMs, cycleScale, writeProfile, SIDES, type LayerProfile, type Side } from '../../profile/layer-profile.js';
import type { SideMeasurement } from '../../profile/layer-profiler-side.js';
import { whileCloudStarts } from '../../profile/start-cloud.js';
import { profileModel } from '../../profile/layer-profiler.js';
import { median } from '../../profile/stats.js';
import { profileFileFor } from '../../profile/profile-defaults.js';
import { randomInputs } from '../../split/random-inputs.js';
import { table } from '../format.js';
import { inputsFromArgs } from '../inputs.js';
import { analyzeFromArgs } from '../options.js';
import type { RunArgs } from './run.js';

export { profileFileFor };

/** The profile operation; an interrupt (`signal`) stops it at once, with the cloud side it started, and nothing is written. */
export async function profile(args: RunArgs, out: (s: string) => void, warn?: (line: string) => void, signal?: AbortSignal): Promise<number> {
  const config = buildRunConfig(args as RunFlags);
  if (args.results_file) checkOutputFile(args.results_file, 'results_file');
  const file = profileFileFor(args);
  checkOutputFile(file, 'results_file');
  // The cloud side starts, and the model is analysed while the worker starts.
  return whileCloudStarts(config, async (starting, launched) => {
    await launched;
    const a = await analyzeFromArgs(args, (m) => inputsFromArgs(m, args, { fixedBatch: true }));
    const codecs = args.tensor_codec === undefined ? {} : { codecs: [args.tensor_codec].flat() };
    const { profile: p, measurements } = await profileModel(a, config, { feeds: a.feeds ?? randomInputs(a, args.seed ?? DEFAULTS.seed), cloud: (await starting)!, ...codecs, ...(args.rep !== undefined ? { rep: args.rep } : {}), ...(warn ? { warn } : {}), ...(signal ? { signal } : {}) });
    signal?.throwIfAborted();
    await writeProfile(file, p);
    report(p, measurements, file, out);
    return 0;
  }, { ...(warn ? { warn } : {}), ...(signal ? { signal } : {}) });
}

function report(p: LayerProfile, measurements: Record<Side, SideMeasurement>, file: string, out: (s: string) => void): void {
  const rows = SIDES.map((side) => {
    const nodes = p.nodes.filter((n) => n.side === side);
    const sum = nodes.reduce((acc, n) => acc + n.medianMs, 0);
    const m = measurements[side];
    const f = p.fixed[side];
    return [side, p.settings[side].backend, `${m.host}:${m.pid}`, nodes.length, m.kernels.length, sum.toFixed(3), median(m.wallMs).toFixed(3), median(m.runMs).toFixed(3), f.run_call.medianMs.toFixed(4), f.feed_per_mb.medianMs.toFixed(4), f.fetch_per_mb.medianMs.toFixed(4), cycleMs(p, side).toFixed(3), cycleScale(p, side).toFixed(2)];
  });
  out(table(['side', 'backend', 'measured in', '>nodes', '>kernels', '>sum of node medians ms', '>run ms', '>profiled run ms', '>run_call ms', '>feed ms/MB', '>fetch ms/MB', '>cycle ms', '>cycle scale'], rows));
  out(`profile written to ${file} (tensor codecs measured: ${p.codecs?.profiled?.length ? p.codecs.profiled.join(', ') : 'none, raw only'})`);
}
