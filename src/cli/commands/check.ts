import { defineCommand } from '../command.js';
import { oscarOptions } from '../../backends/oscar-options.js';
import { CHECK_SIDES } from '../../check/limits.js';
import { DEFAULTS } from '../../config/defaults.js';
import { UsageError } from '../../errors.js';
import { intArrayOption, intOption, withJson, withModelOptions, withRuntimeOptions } from '../option-groups.js';

/** Flags that say where OSCAR's limits come from. */
const OSCAR_LIMIT_FLAGS = ['oscar_service', 'oscar_endpoint', 'oscar_memory', 'fdl_file'] as const;

export const checkCommand = defineCommand({
  name: 'check',
  describe: "Every split point against a serverless platform's limits: payload, part files, peak memory of each part (pass/fail table, JSON)",
  example: 'check --onnx_file model.onnx --limits lambda',
  builder: (y) =>
    withJson(withRuntimeOptions(withModelOptions(y)))
      .option('limits', { type: 'string', demandOption: true, describe: 'lambda (AWS Lambda), oscar (an OSCAR service) or a JSON limits file' })
      .option('sides', { type: 'string', choices: CHECK_SIDES, default: 'both', describe: "Parts held to the limits: both (each part a function) or cloud (the edge is a device)" })
      .option('points', intArrayOption('points', { min: 0, describe: 'Only these split indexes' }))
      .option('jobs', intOption('jobs', { describe: 'Parts measured at once (default: the cores)' }))
      .option('seed', intOption('seed', { min: 0, default: DEFAULTS.seed, describe: 'Seed of the random inputs the parts run on' }))
      .option('results_file', { type: 'string', describe: 'Write X.check.json and X.check.csv beside this file (default results/<model>.check.*)' })
      .option('oscar_service', { type: 'string', describe: '--limits oscar: the service whose memory applies (on the cluster, or in --fdl_file)' })
      .option('oscar_endpoint', { type: 'string', describe: String(oscarOptions.oscar_endpoint!.describe) })
      .option('oscar_memory', { type: 'string', describe: '--limits oscar: the memory of the service, as in deploy (e.g. 2Gi)' })
      .option('fdl_file', { type: 'string', describe: '--limits oscar: an FDL file with the service (its memory field)' })
      .group(['limits', 'sides', 'points', 'jobs', 'seed', 'results_file'], 'Check:')
      .group([...OSCAR_LIMIT_FLAGS], 'Check: --limits oscar'),
  validate: (args, given) => {
    const stray = OSCAR_LIMIT_FLAGS.find((f) => given.has(f));
    if (stray && args.limits !== 'oscar') throw new UsageError(`check: --${stray} is for --limits oscar, and this check uses --limits ${args.limits}`);
  },
  interruptible: true,
  run: async (args, io) => (await import('../ops/check.js')).checkOp(args, io),
});
