/**
 * list_layers: the split points with the bytes each would move and the compute on the edge side.
 */
import { humanBytes, humanCount, table } from '../format.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';

export interface ListLayersArgs extends ModelArgs {
  json?: boolean;
}

export async function listLayers(args: ListLayersArgs, out: (s: string) => void): Promise<void> {
  const a = await analyzeFromArgs(args);
  if (args.json) {
    const rows = a.splitPoints.map((p) => ({
      index: p.index,
      split_layer: p.splitLayer,
      op_type: p.opType,
      cut_tensors: p.cutTensors,
      transfer_bytes: p.transferBytes,
      edge: p.edge,
      cloud: p.cloud,
    }));
    out(JSON.stringify({ model: a.model.label, model_sha256: a.model.sha256, split_points: rows }, null, 2));
    return;
  }
  const rows = a.splitPoints.map((p) => [
    p.index,
    p.splitLayer,
    p.opType || '(input)',
    p.cutTensors.length,
    p.transferBytes,
    humanBytes(p.transferBytes),
    humanCount(p.edge.macs),
    humanCount(p.edge.params),
  ]);
  out(table(['>index', 'split_layer', 'op', '>cut', '>transfer_bytes', '>transfer', '>edge_macs', '>edge_params'], rows));
  const total = a.splitPoints.at(-1)!;
  out(`${a.splitPoints.length} split points; 0 = cloud only, ${total.index} = edge only; model ${humanCount(total.edge.macs)} MACs, ${humanCount(total.edge.params)} parameters`);
}
