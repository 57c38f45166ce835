/**
 * list_layers: the split points with the bytes each would move and the compute on the edge side.
 * Bytes as run_all's columns have them: tensor_bytes, the cut tensors' raw bytes; transfer_bytes,
 * the input payload a run sends over the wire at that split (envelope included, the cut tensors
 * raw, as run and run_all send them to the local worker or the embedded store by default).
 */
import { checkOutputFile, refuseOutputOverInput } from '../../files.js';
import type { ModelAnalysis } from '../../split/analysis.js';
import { DEFAULT_MACS_LINK, macsCutCosts, type MacsLink } from '../../split/macs-costs.js';
import { wireBytes } from '../../predict/payload-size.js';
import { optimalCut } from '../../split/min-cut.js';
import { edgeNodeNames, writeCutFile } from '../../split/node-cut.js';
import { humanBytes, humanCount, table } from '../format.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';

export interface ListLayersArgs extends ModelArgs {
  json?: boolean;
  optimal?: boolean;
  edge_gmacs?: number;
  edge_slowdown?: number;
  bandwidth?: number;
  rtt?: number;
  cut_out?: string;
}

export async function listLayers(args: ListLayersArgs, out: (s: string) => void): Promise<void> {
  if (args.cut_out) {
    checkOutputFile(args.cut_out, 'cut_out');
    refuseOutputOverInput(args.cut_out, 'cut_out', 'list_layers', [['the model (--onnx_file)', args.onnx_file]]);
  }
  const a = await analyzeFromArgs(args);
  const optimal = args.optimal ? await optimalReport(a, args) : undefined;
  const wire = a.splitPoints.map((p) => wireBytes(a, p));
  if (args.json) {
    const rows = a.splitPoints.map((p, i) => ({
      index: p.index,
      split_layer: p.splitLayer,
      op_type: p.opType,
      cut_tensors: p.cutTensors,
      tensor_bytes: p.transferBytes,
      transfer_bytes: wire[i]!.input,
      edge: p.edge,
      cloud: p.cloud,
    }));
    out(JSON.stringify({ model: a.model.label, model_sha256: a.model.sha256, split_points: rows, ...(optimal ? { optimal: optimal.json } : {}) }, null, 2));
    return;
  }
  const rows = a.splitPoints.map((p, i) => [
    p.index,
    p.splitLayer,
    p.opType || '(input)',
    p.cutTensors.length,
    p.transferBytes,
    wire[i]!.input,
    humanBytes(wire[i]!.input),
    humanCount(p.edge.macs),
    humanCount(p.edge.params),
  ]);
  out(table(['>index', 'split_layer', 'op', '>cut', '>tensor_bytes', '>transfer_bytes', '>transfer', '>edge_macs', '>edge_params'], rows));
  const total = a.splitPoints.at(-1)!;
  out(`${a.splitPoints.length} split points; 0 = cloud only, ${total.index} = edge only; model ${humanCount(total.edge.macs)} MACs, ${humanCount(total.edge.params)} parameters`);
  if (optimal) for (const line of optimal.lines) out(line);
}

/** The min-cut optimum under the MACs-based cost, against the best split point; written to --cut_out as a cut file. */
async function optimalReport(a: ModelAnalysis, args: ListLayersArgs): Promise<{ lines: string[]; json: Record<string, unknown> }> {
  const link: MacsLink = {
    edgeGmacs: args.edge_gmacs ?? DEFAULT_MACS_LINK.edgeGmacs,
    slowdown: args.edge_slowdown ?? DEFAULT_MACS_LINK.slowdown,
    bandwidthMbit: args.bandwidth ?? DEFAULT_MACS_LINK.bandwidthMbit,
    rttMs: args.rtt ?? DEFAULT_MACS_LINK.rttMs,
  };
  const r = optimalCut(a, macsCutCosts(a, link));
  const edgeNodes = edgeNodeNames(a.index, r.best.edgeNodes);
  const bytes = r.best.cutTensors.reduce((s, t) => s + a.shapes.get(t)!.bytes, 0);
  const f = (x: number) => x.toFixed(3);
  const split = r.bestSplit;
  const lines = [
    `optimal cut (min-cut over every node set closed under predecessors; MACs model: edge ${link.edgeGmacs} GMAC/s, cloud ${link.slowdown}x faster, ${link.bandwidthMbit} Mbit/s, rtt ${link.rttMs} ms):`,
    `  ${edgeNodes.length} of ${a.index.dataNodes.length} nodes on the edge, ${r.best.cutTensors.length} cut tensor(s), ${humanBytes(bytes)}; predicted ${f(r.best.totalMs)} ms (edge ${f(r.best.edgeMs)}, cloud ${f(r.best.cloudMs)}, transfer ${f(r.best.transferMs)})`,
    `  best split point: ${split.point.index} (${split.point.splitLayer}), predicted ${f(split.cost.totalMs)} ms; ` +
      (r.isSplitPoint ? 'the optimum is a split point' : `the optimum saves ${f(r.savedMs)} ms (${((100 * r.savedMs) / split.cost.totalMs).toFixed(1)}%)`),
  ];
  if (args.cut_out) {
    await writeCutFile(args.cut_out, edgeNodes);
    lines.push(`wrote the optimal cut to ${args.cut_out} (split_model or run --cut_file ${args.cut_out})`);
  }
  const json = {
    link,
    edge_nodes: edgeNodes,
    cut_tensors: r.best.cutTensors,
    transfer_bytes: bytes,
    predicted_ms: { edge: r.best.edgeMs, cloud: r.best.cloudMs, transfer: r.best.transferMs, total: r.best.totalMs },
    best_split: { index: split.point.index, split_layer: split.point.splitLayer, total_ms: split.cost.totalMs },
    saved_ms: r.savedMs,
    is_split_point: r.isSplitPoint,
  };
  return { lines, json };
}
