import { defineCommand } from '../command.js';

export const plotResultsCommand = defineCommand({
  name: 'plot_results',
  describe: 'Charts of a run_all or predict CSV (time per split point, bytes moved, best split; crossover from recommend) as PNG and SVG beside it',
  example: 'plot_results --results_file results/model.csv --predicted results/model.predict.csv',
  builder: (y) =>
    y
      .option('results_file', { type: 'string', demandOption: true, describe: 'A run_all or predict CSV, or a <name>.recommend.json (the crossover chart only)' })
      .option('predicted', { type: 'string', describe: 'A predict CSV whose totals are drawn over the measured ones (joined on split_index)' }),
  run: async (args, io) => (await import('../ops/plot-results.js')).plotResultsOp(args, io.out),
});
