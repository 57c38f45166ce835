import { DEFAULTS } from '../../config/defaults.js';
import { PREDICT_PROFILE_REP } from '../../profile/profile-defaults.js';
import { defineCommand } from '../command.js';
import { checkCloudFlags, intOption, withCloudOptions, withJson, withLinkOptions, withModelOptions, withRuntimeOptions, withStoreOptions, withCodecOptions } from '../option-groups.js';

export const predictCommand = defineCommand({
  name: 'predict',
  describe: 'Every split point predicted from a per-layer profile, the store and a link, without the sweep; --measured compares with a run_all CSV',
  example: 'predict --onnx_file model.onnx --profile results/model.profile.csv --bandwidth 50 --rtt 20 --results_file results/model.predict.csv',
  builder: (y) =>
    withCodecOptions(withJson(withCloudOptions(withStoreOptions(withRuntimeOptions(withLinkOptions(withModelOptions(y)))))), true, true)
      .option('profile', { type: 'string', describe: 'The per-layer profile (<results>.profile.csv, made by `onnx-manager profile`); none: profile both sides first, with the runtime and cloud flags given here' })
      .option('profile_rep', intOption('profile_rep', { describe: `Without --profile: recorded runs per side when profiling (default ${PREDICT_PROFILE_REP})` }))
      .option('seed', intOption('seed', { min: 0, default: DEFAULTS.seed, describe: 'Without --profile: seed of the random input profiled' }))
      .option('results_file', { type: 'string', describe: 'CSV of the predicted rows (default results/<model>.predict.csv)' })
      .option('measured', { type: 'string', describe: 'A run_all CSV to compare with: measured medians and errors per split point' })
      .group(['profile', 'profile_rep', 'seed', 'results_file', 'measured'], 'Prediction:'),
  validate: (args, given) => checkCloudFlags(String(args.cloud), given),
  interruptible: true,
  run: async (args, io) => (await import('../ops/predict.js')).predict(args, io.out, (line) => io.err(`onnx-manager: warning: ${line}`), io.signal),
});
