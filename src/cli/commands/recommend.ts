import { defineCommand } from '../command.js';
import { nonNegativeOption, withJson, withLinkOptions, withModelOptions, withStoreOptions, withCodecOptions } from '../option-groups.js';

export const recommendCommand = defineCommand({
  name: 'recommend',
  describe: 'The best split point for a link under constraints, the Pareto set and the crossover table, from a profile or a run_all CSV',
  example: 'recommend --onnx_file model.onnx --profile results/model.profile.csv --bandwidth 20 --rtt 30 --max_edge_ms 15',
  builder: (y) =>
    withCodecOptions(withJson(withStoreOptions(withLinkOptions(withModelOptions(y)))), true, true)
      .option('profile', { type: 'string', describe: 'A per-layer profile: predicted times' })
      .option('results_file', { type: 'string', describe: 'A run_all CSV: measured times, the link re-modelled' })
      .conflicts('profile', 'results_file')
      .option('max_edge_ms', nonNegativeOption('max_edge_ms', { describe: 'Only split points whose edge part takes at most this many ms' }))
      .option('max_transfer_bytes', nonNegativeOption('max_transfer_bytes', { describe: 'Only split points that send at most this many bytes' }))
      .option(
        'max_edge_memory_mb',
        nonNegativeOption('max_edge_memory_mb', { describe: 'Only split points whose edge part needs at most this many MB (weights + the largest live activations)' }),
      )
      .option('cut_out', { type: 'string', describe: 'Write the DAG optimum (min-cut over all cuts, from --profile) as a cut file for split_model/run --cut_file' })
      .group(['profile', 'results_file', 'max_edge_ms', 'max_transfer_bytes', 'max_edge_memory_mb', 'cut_out'], 'Recommendation:'),
  run: async (args, io) => (await import('../ops/recommend.js')).recommendOp(args, io.out),
});
