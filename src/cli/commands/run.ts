import type { Argv } from 'yargs';
import { DEFAULTS } from '../../config/defaults.js';
import { defineCommand } from '../command.js';
import { needsCut } from './split-model.js';
import {
  checkCloudFlags,
  intOption,
  withCloudOptions,
  withCodecOptions,
  withCycleOptions,
  withInputOptions,
  withLinkOptions,
  withModelOptions,
  withRuntimeOptions,
  withStoreOptions,
  withSweepOptions,
} from '../option-groups.js';

/** run and run_all take the Python tool's --onnx_path DIR alone as the one model in DIR (main's modelFromFolder): their help says so. */
function withOnnxPathNote<T>(y: Argv<T>) {
  return y.option('onnx_file', { type: 'string', demandOption: true, describe: 'The ONNX model to work on (or --onnx_path DIR alone: the one .onnx file in DIR)' });
}

export const runCommand = defineCommand({
  name: 'run',
  describe: 'One split point through the full edge -> store -> cloud cycle, with the time of each step',
  example: 'run --onnx_file model.onnx --split_layer relu_3_out --rep 5 --verify',
  builder: (y) =>
    withOnnxPathNote(withCodecOptions(withLinkOptions(withCloudOptions(withStoreOptions(withCycleOptions(withRuntimeOptions(withInputOptions(withModelOptions(y))))))), false))
      .option('split_layer', { type: 'string', describe: 'Layer to cut after (the input name for cloud only)' })
      .option('cut_file', { type: 'string', conflicts: 'split_layer', describe: 'JSON { "edge_nodes": [...] }: cut at this node set instead' })
      .option('rep', intOption('rep', { default: DEFAULTS.repRun, describe: 'Recorded repetitions' }))
      .option('results_file', { type: 'string', describe: 'Also append the rows to this CSV' })
      .option('verify', { type: 'boolean', default: false, describe: 'Compare the result with the full model run locally' }),
  validate: (args, given) => (needsCut('run', args as { split_layer?: string; cut_file?: string }), checkCloudFlags(String(args.cloud), given)),
  interruptible: true,
  run: async (args, io) => (await import('../ops/run.js')).run(args, io),
});

export const runAllCommand = defineCommand({
  name: 'run_all',
  describe: 'Every split point through the cycle, --rep times each; rows to --results_file (CSV) and a summary',
  example: 'run_all --onnx_file model.onnx --rep 10 --bandwidth 50 --rtt 20 --results_file results/model.csv',
  builder: (y) => withOnnxPathNote(withCodecOptions(withLinkOptions(withCloudOptions(withStoreOptions(withSweepOptions(withRuntimeOptions(withInputOptions(withModelOptions(y))))))), true)),
  validate: (args, given) => checkCloudFlags(String(args.cloud), given),
  interruptible: true,
  run: async (args, io) => (await import('../ops/run.js')).runAll(args, io),
});
