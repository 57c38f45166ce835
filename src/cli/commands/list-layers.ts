import { defineCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_MACS_LINK } from '../../split/macs-costs.js';
import { positiveOption, withJson, withLinkOptions, withModelOptions } from '../option-groups.js';

export const listLayersCommand = defineCommand({
  name: 'list_layers',
  describe: 'Split points with the bytes each would move (--json for JSON)',
  example: 'list_layers --onnx_file model.onnx',
  builder: (y) =>
    withLinkOptions(withJson(withModelOptions(y)))
      .option('optimal', { type: 'boolean', default: false, describe: 'Also the best cut over every node set closed under predecessors (min-cut), against the best split point, under a MACs-based cost' })
      .option('edge_gmacs', positiveOption('edge_gmacs', { describe: `Edge throughput for --optimal, GMAC/s (default ${DEFAULT_MACS_LINK.edgeGmacs})` }))
      .option('edge_slowdown', positiveOption('edge_slowdown', { describe: `How many times slower the edge computes than the cloud, for --optimal (default ${DEFAULT_MACS_LINK.slowdown})` }))
      .option('cut_out', { type: 'string', describe: 'Write the optimal cut here as a cut file (for split_model/run --cut_file)' }),
  validate: (args, given) => {
    const needsOptimal = ['edge_gmacs', 'edge_slowdown', 'bandwidth', 'rtt', 'cut_out'].find((f) => given.has(f));
    if (needsOptimal && args.optimal !== true) throw new UsageError(`list_layers: --${needsOptimal} is for --optimal; add --optimal`);
  },
  run: async (args, io) => (await import('../ops/list-layers.js')).listLayers(args, io.out),
});
