import { defineCommand } from '../command.js';

export const reportCommand = defineCommand({
  name: 'report',
  describe: 'One self-contained HTML page of a run_all CSV: settings, model summary, split table, charts, recommendation',
  example: 'report --results_file results/model.csv --onnx_file model.onnx',
  builder: (y) =>
    y
      .option('results_file', { type: 'string', demandOption: true, describe: 'A run_all CSV (profile, predict and recommend results beside it are included)' })
      .option('onnx_file', { type: 'string', describe: 'The model the results are of, for its summary' })
      .option('output_file', { type: 'string', describe: 'Where to write the page (default: the CSV with .html)' }),
  run: async (args, io) => (await import('../ops/report.js')).reportOp(args, io.out),
});
