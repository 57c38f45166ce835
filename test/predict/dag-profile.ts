/** Profiles and store costs set by hand, for the DAG optimum's tests. */
import type { LayerProfile } from '../../src/profile/layer-profile.js';
import { profileNodeKey } from '../../src/predict/model.js';
import type { StoreCosts } from '../../src/predict/store-costs.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { analyze, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';

const SETTINGS = { execType: 'CPU', threads: 1, graphOpt: 'disabled', backend: 'local' };

export type FixedCosts = { run_call: number; feed_per_mb: number; fetch_per_mb: number };

/** A profile with node times from `ms(node, side)` and the given fixed costs on both sides. */
export function profileOf(a: ModelAnalysis, ms: (n: number, side: 'edge' | 'cloud') => number, edge: FixedCosts, cloud: FixedCosts = edge): LayerProfile {
  const nodes = a.index.dataNodes.flatMap((i) =>
    (['edge', 'cloud'] as const).map((side) => ({ side, node: profileNodeKey(a.index.nodes[i]!), opType: a.index.nodes[i]!.opType ?? '', medianMs: ms(i, side), p95Ms: ms(i, side), runs: 10, outputBytes: 0, params: 0, macs: 0 })),
  );
  const f = (fixed: FixedCosts) => Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, { medianMs: v, p95Ms: v, runs: 10 }])) as LayerProfile['fixed']['edge'];
  return { modelSha256: a.model.sha256, settings: { edge: SETTINGS, cloud: SETTINGS }, nodes, fixed: { edge: f(edge), cloud: f(cloud) } };
}

export const STORE: StoreCosts = {
  put: { fixedMs: 0.8, perMbMs: 2 },
  get: { fixedMs: 0.6, perMbMs: 1.5 },
  notifyMs: 0.4,
  encode: { fixedMs: 0.05, perMbMs: 0.5 },
  decode: { fixedMs: 0.04, perMbMs: 0.3 },
  requests: 0,
};

export async function zooAnalysis(name: string): Promise<ModelAnalysis> {
  return analyze(zooSubject(zoo.find((z) => z.name === name)!));
}

