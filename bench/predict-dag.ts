/**
 * The DAG optimum against measurement, for the predict benchmark: on a model with branches, from
 * one profile, at each emulated link,
 *
 * - the optimum recommend finds (min-cut over every cut, written by --cut_out) run with
 *   `run --cut_file`, next to the best split point run with run_all;
 * - since the optimum on one machine is often the edge-only split (both sides are this machine,
 *   so moving work only adds the store and the link), also the best cut that sends something to
 *   the cloud (the minimum cut alone) next to the best split point that does, both run the same
 *   way: that compares a cut with several cut tensors against a split point where it matters.
 *
 * Each pair runs alternately (ROUNDS rounds of `rep` cycles each, one after the other), so both
 * meet the same load. Reported: predicted and measured total_ms (median of the ok rows) and
 * the largest |split - full| of any row.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dagCutCosts, type DagOptimum } from '../src/predict/dag.js';
import type { Link } from '../src/predict/link.js';
import { measureRunStore } from '../src/predict/store-costs.js';
import { withCycleWait } from '../src/predict/predict.js';
import { buildRunConfig } from '../src/config/run-config.js';
import { readProfile } from '../src/profile/layer-profile.js';
import { readRows } from '../src/profile/csv.js';
import { median } from '../src/profile/stats.js';
import type { ModelAnalysis } from '../src/split/analysis.js';
import { bestOffloadingCut, evaluateCut, splitPointEdgeNodes } from '../src/split/min-cut.js';
import { edgeNodeNames, edgeNodesFromNames } from '../src/split/node-cut.js';

export interface Candidate {
  /** 'cut' (run --cut_file) or 'split' (run_all --splits). */
  kind: 'cut' | 'split';
  /** The split point's index (for a cut: the split point it equals, if any). */
  splitIndex: number | null;
  edgeNodes: number;
  cutTensors: number;
  predictedMs: number;
  measuredMs: number;
  okRows: number;
  maxAbsDiff: number;
}

export interface DagLinkResult {
  bandwidthMbit: number;
  rttMs: number;
  /** recommend's DAG optimum and the best split point. */
  optimum: Candidate;
  bestSplit: Candidate;
  /** The best cut sending something to the cloud, and the best split point that does. */
  offloadCut: Candidate;
  offloadSplit: Candidate;
}

export interface DagBenchOptions {
  links: readonly number[];
  rttMs: number;
  rep: number;
  rounds: number;
  /** The flags of run and run_all (settings, --onnx_file, model flags). */
  base: string[];
  /** The flags of recommend (--onnx_file, model flags). */
  model: string[];
  cli: (args: string[]) => Promise<string>;
}

interface Plan {
  kind: 'cut' | 'split';
  splitIndex: number | null;
  edge: number[];
  cutTensors: number;
  predictedMs: number;
}

/** The split point whose edge set is exactly `edge`, if one is. */
function splitOf(a: ModelAnalysis, edge: readonly number[]): number | null {
  const key = [...edge].sort((x, y) => x - y).join();
  const p = a.splitPoints.find((sp) => [...splitPointEdgeNodes(a.index, sp)].sort((x, y) => x - y).join() === key);
  return p ? p.index : null;
}

async function measure(a: ModelAnalysis, plans: Plan[], link: string[], o: DagBenchOptions, stem: string): Promise<Candidate[]> {
  const rows: Record<string, string>[][] = plans.map(() => []);
  const cutFiles = plans.map((p, i) => {
    if (p.kind !== 'cut' || p.edge.length === 0) return null;
    const f = `${stem}.cut${i}.json`;
    writeFileSync(f, `${JSON.stringify({ edge_nodes: edgeNodeNames(a.index, p.edge) })}\n`);
    return f;
  });
  for (let round = 0; round < o.rounds; round++) {
    for (const [i, p] of plans.entries()) {
      const file = `${stem}.c${i}.r${round}.csv`;
      const cut = cutFiles[i];
      // A cut that is no node set (cloud only) or a split point runs as that split point.
      const index = p.splitIndex ?? 0;
      const cycle = ['--rep', String(o.rep), '--warmup', '1', '--results_file', file, ...link, ...o.base];
      if (cut) await o.cli(['run', '--cut_file', cut, ...cycle]);
      else await o.cli(['run_all', '--splits', String(index), ...cycle]);
      rows[i]!.push(...(await readRows(file)).filter((r) => Number(r.rep) >= 0));
    }
  }
  return plans.map((p, i) => {
    const ok = rows[i]!.filter((r) => r.status === 'ok');
    return {
      kind: p.kind,
      splitIndex: p.splitIndex,
      edgeNodes: p.edge.length,
      cutTensors: p.cutTensors,
      predictedMs: p.predictedMs,
      measuredMs: median(ok.map((r) => Number(r.total_ms))),
      okRows: ok.length,
      maxAbsDiff: Math.max(0, ...rows[i]!.map((r) => (r.max_abs_diff === '' || r.max_abs_diff === undefined ? Infinity : Number(r.max_abs_diff)))),
    };
  });
}

/** The DAG check of one model from its profile file, at each link. */
export async function dagBench(a: ModelAnalysis, profileFile: string, stem: string, o: DagBenchOptions): Promise<DagLinkResult[]> {
  const profile = await readProfile(profileFile);
  const store = withCycleWait((await measureRunStore(buildRunConfig({}))).costs, profile);
  const m = a.index.dataNodes.length;
  const out: DagLinkResult[] = [];
  for (const bw of o.links) {
    const link: Link = { bandwidthMbit: bw, rttMs: o.rttMs };
    const linkFlags = ['--bandwidth', String(bw), '--rtt', String(o.rttMs)];
    const cutOut = `${stem}.${bw}mbit.optimum.json`;
    const j = JSON.parse(await o.cli(['recommend', '--profile', profileFile, ...linkFlags, '--cut_out', cutOut, '--json', ...o.model])) as { dag: DagOptimum };
    const d = j.dag;
    const costs = dagCutCosts(a, profile, store, link);
    const byIndex = (idx: number) => a.splitPoints.find((p) => p.index === idx)!;
    const splitPlan = (idx: number): Plan => {
      const e = evaluateCut(a, costs, splitPointEdgeNodes(a.index, byIndex(idx)));
      return { kind: 'split', splitIndex: idx, edge: e.edgeNodes, cutTensors: e.cutTensors.length, predictedMs: e.totalMs };
    };
    const optEdge = edgeNodesFromNames(a.index, d.edge_node_names, cutOut);
    const optimum: Plan = { kind: 'cut', splitIndex: d.is_split_point ? d.best_split_index : splitOf(a, optEdge), edge: optEdge, cutTensors: d.cut_tensors.length, predictedMs: d.total_ms };
    const minCut = bestOffloadingCut(a, costs);
    const offloadCut: Plan = { kind: 'cut', splitIndex: splitOf(a, minCut.edgeNodes), edge: minCut.edgeNodes, cutTensors: minCut.cutTensors.length, predictedMs: minCut.totalMs };
    const offloading = a.splitPoints.filter((p) => p.position < m).map((p) => splitPlan(p.index));
    const offloadSplit = offloading.reduce((b, p) => (p.predictedMs < b.predictedMs ? p : b));
    const [c0, c1, c2, c3] = await measure(a, [optimum, splitPlan(d.best_split_index), offloadCut, offloadSplit], linkFlags, o, `${stem}.${bw}mbit`);
    out.push({ bandwidthMbit: bw, rttMs: o.rttMs, optimum: c0!, bestSplit: c1!, offloadCut: c2!, offloadSplit: c3! });
  }
  return out;
}

export const dagStem = (dir: string, name: string) => path.join(dir, `${name}.dag`);
