import { defineCommand } from '../command.js';
import { withJson, withLinkOptions, withModelOptions, withStoreOptions } from '../option-groups.js';

export const predictCommand = defineCommand({
  name: 'predict',
  describe: 'Every split point predicted from a per-layer profile, the store and a link, without the sweep; --measured compares with a run_all CSV',
  example: 'predict --onnx_file model.onnx --profile results/model.profile.csv --bandwidth 50 --rtt 20 --results_file results/model.predict.csv',
  builder: (y) =>
    withJson(withStoreOptions(withLinkOptions(withModelOptions(y))))
      .option('profile', { type: 'string', describe: 'The per-layer profile (<results>.profile.csv, made by `onnx-manager profile`)' })
      .option('results_file', { type: 'string', describe: 'CSV of the predicted rows (default results/<model>.predict.csv)' })
      .option('measured', { type: 'string', describe: 'A run_all CSV to compare with: measured medians and errors per split point' })
      .group(['profile', 'results_file', 'measured'], 'Prediction:'),
  run: async (args, io) => (await import('../ops/predict.js')).predict(args, io.out),
});
