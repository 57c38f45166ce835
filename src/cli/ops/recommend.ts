/**
 * recommend: the best split point for a link under constraints, the Pareto set and the crossover
 * table, from a profile (predicted) or a run_all CSV (measured, the link re-modelled); printed
 * as a table or JSON, and written beside the input as <name>.recommend.json and .csv.
 */
import { buildRunConfig, type RunFlags } from '../../config/run-config.js';
import { UsageError } from '../../errors.js';
import { checkOutputFile, refuseOutputOverInput } from '../../files.js';
import { writeCutFile } from '../../split/node-cut.js';
import { csvText } from '../../profile/csv.js';
import { dagOptimum, payloadEnvelope, type DagOptimum } from '../../predict/dag.js';
import { describeLink, type Link } from '../../predict/link.js';
import { edgeMemory } from '../../predict/model.js';
import { splitFacts, withCycleWait } from '../../predict/predict.js';
import { measuredCandidates, predictedCandidates, recommend, type Candidate, type Recommendation } from '../../predict/recommend.js';
import { roundRow } from '../../predict/predict.js';
import { OutputTransaction } from '../../split/output.js';
import * as path from 'node:path';
import { humanBytes, table } from '../format.js';
import { constraintWords, excludedWords } from '../../report/choice.js';
import { recommendPathOf } from '../../report/recommendation.js';
import { analyzeFromArgs } from '../options.js';
import { codecsOf, linkOf, measuredFor, profileFor, storeCostsFor, type PredictArgs } from './predict.js';

export interface RecommendArgs extends PredictArgs {
  max_edge_ms?: number;
  max_transfer_bytes?: number;
  max_edge_memory_mb?: number;
  cut_out?: string;
}

/** `m.profile.csv` or `m.csv` -> `m` (beside it). */

export const RECOMMEND_COLUMNS = ['split_index', 'split_layer', 'tensor_codec', 'transfer_bytes', 'edge_memory_mb', 'edge_ms', 'transfer_ms', 'cloud_ms', 'total_ms', 'feasible', 'reason', 'pareto', 'best'] as const;

function fmt(v: number | undefined): string {
  return v === undefined ? '' : v.toFixed(2);
}

/** ' with the cut tensors sent as fp16', or nothing for raw or a split point that sends nothing (no codec applies). */
function sentAs(s: { tensor_codec?: string; transfer_bytes: number }): string {
  return s.tensor_codec && s.tensor_codec !== 'raw' && s.transfer_bytes > 0 ? ` with the cut tensors sent as ${s.tensor_codec}` : '';
}

export function recommendationText(r: Recommendation, source: string): string[] {
  const b = r.best;
  // A split point that sends nothing (the edge-only one) has no codec: its rows per codec differ by noise only.
  const sendsNothing = new Set(r.splits.filter((s) => s.transfer_bytes === 0).map((s) => s.split_index));
  const codec = (s: { split_index: number; tensor_codec?: string }) => (sendsNothing.has(s.split_index) ? '-' : (s.tensor_codec ?? 'raw'));
  const named = (split: number, c: string | undefined) => `${split}${c && c !== 'raw' && !sendsNothing.has(split) ? ` (${c})` : ''}`;
  const constraints = constraintWords(r.constraints);
  const dagColumn = constraints ? '>dag_total_ms (no constraints)' : '>dag_total_ms';
  const lines = [
    `best split for ${describeLink(r.link)} (${source}): ${b.split_index} (${b.split_layer})${sentAs(b)}`,
    `  edge ${fmt(b.edge_ms)} ms + transfer ${fmt(b.transfer_ms)} ms + cloud ${fmt(b.cloud_ms)} ms; total ${fmt(b.total_ms)} ms; ${humanBytes(b.transfer_bytes)} sent${b.edge_memory_mb !== undefined ? `; edge memory ~${fmt(b.edge_memory_mb)} MB` : ''}`,
    '',
    'Pareto set (edge compute vs bytes moved vs total):',
    table(
      ['>split_index', 'split_layer', 'tensor_codec', '>edge_ms', '>transfer_bytes', '>total_ms'],
      r.splits.filter((s) => s.pareto).map((s) => [s.split_index, s.split_layer, codec(s), fmt(s.edge_ms), s.transfer_bytes, fmt(s.total_ms)]),
    ),
    '',
    ...dagText(r.dag),
    `Crossover (rtt ${r.link.rttMs} ms):`,
    r.dag
      ? table(['>bandwidth_mbit', '>split_index', 'split_layer', 'tensor_codec', constraints ? `>total_ms (${constraints})` : '>total_ms', dagColumn], r.crossover.map((c) => [c.bandwidth_mbit, c.split_index, c.split_layer, codec(c), fmt(c.total_ms), fmt(c.dag_total_ms)]))
      : table(['>bandwidth_mbit', '>split_index', 'split_layer', 'tensor_codec', '>total_ms'], r.crossover.map((c) => [c.bandwidth_mbit, c.split_index, c.split_layer, codec(c), fmt(c.total_ms)])),
  ];
  lines.push(
    r.changes.length === 0
      ? 'the choice is the same from 1 Mbit/s to 10 Gbit/s'
      : `the choice changes at: ${r.changes.map((c) => `${c.bandwidth_mbit.toPrecision(4)} Mbit/s (${named(c.from, c.from_codec)} -> ${named(c.to, c.to_codec)})`).join(', ')}`,
  );
  if (r.splits.some((s) => !s.feasible)) lines.push(`${excludedWords(r.splits)} by the constraints`);
  return lines;
}

/** The split points a run_all CSV has no ok row for, which recommend could not rank. */
function unrankedNote(unranked: readonly number[], of: number, file: string): string {
  const shown = unranked.length > 20 ? `${unranked.slice(0, 20).join(', ')}, ... (${unranked.length} in all)` : unranked.join(', ');
  return `note: ${unranked.length} of the ${of} split points have no ok row in ${file} and are not ranked: ${shown} (failed or not swept; run_all --resume --results_file ${file} measures them)`;
}

function dagText(d: DagOptimum | undefined): string[] {
  if (!d) return [];
  const point = `${d.best_split_index}${d.best_split_codec === 'raw' ? '' : ` with ${d.best_split_codec}`}`;
  const sent = d.tensor_codec === 'raw' ? '' : ` sent as ${d.tensor_codec} (${humanBytes(d.cut_wire_bytes)})`;
  const head = `DAG optimum (min-cut over all cuts, constraints not applied): total ${fmt(d.total_ms)} ms, ${d.edge_nodes} edge node(s), ${d.cut_tensors.length} cut tensor(s), ${humanBytes(d.cut_bytes)}${sent}`;
  return [
    head,
    d.is_split_point
      ? `  the best split point (${point}) is optimal`
      : `  beats the best split point (${point}, ${fmt(d.best_split_total_ms)} ms) by ${fmt(d.saved_ms)} ms (${d.saved_pct.toFixed(1)}%); cut tensors: ${d.cut_tensors.join(', ')}`,
    '',
  ];
}

export async function recommendOp(args: RecommendArgs, out: (s: string) => void): Promise<number> {
  if (!args.profile === !args.results_file) throw new UsageError('recommend takes either --profile (predicted) or --results_file (a run_all CSV), one of them');
  if (args.cut_out && !args.profile) throw new UsageError('--cut_out needs --profile (the DAG optimum is found from a profile)');
  if (args.cut_out) {
    checkOutputFile(args.cut_out, 'cut_out');
    refuseOutputOverInput(args.cut_out, 'cut_out', 'recommend', [
      ['the model (--onnx_file)', args.onnx_file],
      ['the profile (--profile)', args.profile],
    ]);
  }
  const a = await analyzeFromArgs(args);
  let cands: Candidate[];
  let source: string;
  let measured: Awaited<ReturnType<typeof measuredFor>> | undefined;
  let dagAt: ((l: Link) => DagOptimum) | undefined;
  let unranked: number[] | undefined;
  const input = (args.profile ?? args.results_file)!;
  if (args.profile) {
    const { profile } = await profileFor(args, a);
    const measuredCosts = await storeCostsFor(buildRunConfig(args as RunFlags), profile);
    const { store } = measuredCosts;
    const costs = withCycleWait(measuredCosts.costs, profile);
    cands = codecsOf(args).flatMap((codec) => predictedCandidates(splitFacts(a, profile, codec, args.profile), costs));
    const envelope = payloadEnvelope(a);
    const dagCodecs = codecsOf(args);
    dagAt = (l) => dagOptimum(a, profile, costs, l, envelope, dagCodecs);
    source = `predicted from ${args.profile}, store ${store}${measuredCosts.fromProfile ? ' (its costs from the profile)' : ''}`;
  } else {
    measured = await measuredFor(args.results_file!, a);
    const memory = edgeMemory(a);
    // Every codec measured, or those asked for.
    const measuredCodecs = [...new Set(measured.map((m) => m.tensor_codec ?? 'raw'))];
    const wanted = codecsOf(args, measuredCodecs);
    const missing = wanted.filter((c) => !measuredCodecs.includes(c));
    if (missing.length) throw new UsageError(`${args.results_file} has no rows with --tensor_codec ${missing.join(', ')} (it has ${measuredCodecs.join(', ')})`);
    cands = measuredCandidates(
      measured.filter((m) => wanted.includes(m.tensor_codec ?? 'raw')),
      new Map(a.splitPoints.map((p, i) => [p.index, memory[i]!.mb])),
    );
    source = `measured in ${args.results_file}, link re-modelled`;
    // Split points without an ok row (failed, or not in the sweep's --splits) cannot be ranked: said, not passed over.
    const ranked = new Set(cands.map((c) => c.split_index));
    unranked = a.splitPoints.map((p) => p.index).filter((i) => !ranked.has(i));
  }
  const link = linkOf(args, measured);
  const constraints = {
    ...(args.max_edge_ms !== undefined ? { maxEdgeMs: args.max_edge_ms } : {}),
    ...(args.max_transfer_bytes !== undefined ? { maxTransferBytes: args.max_transfer_bytes } : {}),
    ...(args.max_edge_memory_mb !== undefined ? { maxEdgeMemoryMb: args.max_edge_memory_mb } : {}),
  };
  const r = recommend(cands, link, constraints);
  if (dagAt) {
    r.dag = dagAt(link);
    for (const c of r.crossover) c.dag_total_ms = dagAt({ bandwidthMbit: c.bandwidth_mbit, rttMs: link.rttMs }).total_ms;
  }
  // Beside the input: from m.csv m.recommend.json, from m.profile.csv m.profile.recommend.json (both kept).
  const jsonFile = recommendPathOf(input);
  const csvFile = jsonFile.replace(/\.json$/, '.csv');
  const json = JSON.stringify({ model: a.model.label, model_sha256: a.model.sha256, source, ...(unranked ? { unranked } : {}), ...r, splits: r.splits.map((s) => roundRow(s)), crossover: r.crossover.map((c) => roundRow(c)), ...(r.dag ? { dag: roundRow({ ...r.dag, saved_pct: Number(r.dag.saved_pct.toFixed(2)) }) } : {}) }, null, 2);
  // Both files or neither (the CSV beside the JSON, so in the same folder).
  await OutputTransaction.run(path.dirname(path.resolve(jsonFile)), async (tx) => {
    await tx.write(path.basename(jsonFile), `${json}\n`);
    await tx.write(path.basename(csvFile), csvText(RECOMMEND_COLUMNS, r.splits.map((s) => roundRow(s))));
  });
  if (args.cut_out && r.dag) {
    await writeCutFile(args.cut_out, r.dag.edge_node_names);
  }
  if (args.json) out(json);
  else {
    for (const line of recommendationText(r, source)) out(line);
    if (unranked?.length) out(unrankedNote(unranked, a.splitPoints.length, args.results_file!));
    out(`written: ${jsonFile}, ${csvFile}${args.cut_out ? `, ${args.cut_out}` : ''}`);
  }
  return 0;
}
