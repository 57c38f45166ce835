/**
 * A per-layer profile made by timing each node of the model in a session of its own (every
 * node a part, as multi_split_model at every position would cut it), for tests and for checking
 * predictions against sweeps. A node's time is its part's median run less the run-call cost and
 * the per-MB cost of feeding and fetching, each measured on an Identity model (the per-MB slope
 * split evenly between feeding and fetching). What a whole-model run takes beyond the sum of its
 * nodes and its fixed costs (the executor's work between kernels) is spread evenly over the
 * nodes. Both sides get the same numbers: the edge and a
 * local cloud run on this machine with the same settings. It does not see fusions across nodes
 * (each part is optimised alone).
 */
import { performance } from 'node:perf_hooks';
import { encodeModel } from '../../src/onnx/codec.js';
import type { LayerProfile, NodeProfile, SideSettings } from '../../src/profile/layer-profile.js';
import { median, percentile } from '../../src/profile/stats.js';
import { profileNodeKey } from '../../src/predict/model.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor, Session, SessionOptions } from '../../src/runtime/session.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { buildParts } from '../../src/split/split.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { hostTensorBytes, randomTensor } from '../../src/tensor/host.js';

function identityModel(n: number): Uint8Array {
  const io = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: n }] } } } });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'identity', node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'identity' }], input: [io('x')], output: [io('y')] },
  });
}

async function runTimes(s: Session, feeds: Record<string, HostTensor>, reps: number, warmup: number): Promise<number[]> {
  const t: number[] = [];
  for (let i = -warmup; i < reps; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    if (i >= 0) t.push(performance.now() - t0);
  }
  return t;
}

async function identityMs(elements: number, options: SessionOptions, reps: number): Promise<number[]> {
  const s = await createSession(identityModel(elements), options);
  try {
    return await runTimes(s, { x: randomTensor('float32', [elements], 3) }, reps, 3);
  } finally {
    await s.release();
  }
}

export interface NodeTimingOptions {
  session: SessionOptions;
  reps?: number;
  warmup?: number;
  settings: SideSettings;
}

export async function nodeTimingProfile(a: ModelAnalysis, o: NodeTimingOptions): Promise<LayerProfile> {
  const reps = o.reps ?? 10;
  const warmup = o.warmup ?? 3;
  const m = a.index.dataNodes.length;
  const tiny = await identityMs(1, o.session, reps * 3);
  const big = await identityMs(250_000, o.session, reps * 3);
  const runCall = median(tiny);
  const perMb = Math.max(0, median(big) - runCall); // per 1 MB fed and fetched
  const feedPerMb = perMb / 2;
  const fetchPerMb = perMb / 2;
  const parts = buildParts(a, Array.from({ length: m - 1 }, (_, i) => i + 1));
  const tensors = new Map<string, HostTensor>(Object.entries(randomInputs(a, 7)));
  const nodes: NodeProfile[] = [];
  for (const [j, p] of parts.entries()) {
    const s = await createSession(p.part.model.concat(), o.session);
    try {
      const feeds = Object.fromEntries(s.inputNames.map((n) => [n, tensors.get(n)!]));
      const times = await runTimes(s, feeds, reps, warmup);
      const outs = await s.run(feeds);
      for (const [n, t] of Object.entries(outs)) tensors.set(n, t);
      const fed = Object.values(feeds).reduce((x, t) => x + hostTensorBytes(t), 0) / 1e6;
      const fetched = Object.values(outs).reduce((x, t) => x + hostTensorBytes(t), 0) / 1e6;
      const overhead = runCall + feedPerMb * fed + fetchPerMb * fetched;
      const node = a.index.nodes[a.index.dataNodes[j]!]!;
      const base = {
        node: profileNodeKey(node),
        opType: node.opType ?? '',
        medianMs: Math.max(0, median(times) - overhead),
        p95Ms: Math.max(0, percentile(times, 0.95) - overhead),
        runs: reps,
        outputBytes: fetched * 1e6,
        params: 0,
        macs: a.costs.macs[a.index.dataNodes[j]!]!,
      };
      nodes.push({ side: 'edge', ...base }, { side: 'cloud', ...base });
    } finally {
      await s.release();
    }
  }
  // The executor's cost per node: the whole model's run beyond its nodes and fixed costs.
  const full = await createSession(a.model.bytes, o.session);
  let perNode = 0;
  try {
    const feeds = randomInputs(a, 7);
    const fed = Object.values(feeds).reduce((x, t) => x + hostTensorBytes(t), 0) / 1e6;
    const outs = await full.run(feeds);
    const fetched = Object.values(outs).reduce((x, t) => x + hostTensorBytes(t), 0) / 1e6;
    const whole = median(await runTimes(full, feeds, reps * 3, warmup));
    const kernels = nodes.filter((n) => n.side === 'edge').reduce((x, n) => x + n.medianMs, 0);
    perNode = Math.max(0, whole - runCall - feedPerMb * fed - fetchPerMb * fetched - kernels) / m;
  } finally {
    await full.release();
  }
  for (const n of nodes) (n.medianMs += perNode), (n.p95Ms += perNode);
  const f = (ms: number) => ({ medianMs: ms, p95Ms: ms, runs: reps * 3 });
  const fixed = { run_call: f(runCall), feed_per_mb: f(feedPerMb), fetch_per_mb: f(fetchPerMb) };
  return { modelSha256: a.model.sha256, settings: { edge: o.settings, cloud: { ...o.settings } }, nodes, fixed: { edge: fixed, cloud: { ...fixed } } };
}
