import { UsageError } from '../../errors.js';
import { defineCommand } from '../command.js';
import { withStoreOptions } from '../option-groups.js';

export const cleanCommand = defineCommand({
  name: 'clean',
  describe: 'Remove the payloads and results (input/, output/) a run left in the bucket, of one run id or of every run',
  example: 'clean --run_id 20260101T120000-1a2b3c4d --minio_endpoint http://127.0.0.1:9000',
  builder: (y) =>
    withStoreOptions(y)
      .option('run_id', { type: 'string', describe: "The run whose objects go (the run_id column of a run_all CSV)" })
      .option('all', { type: 'boolean', describe: 'Every run’s objects (only keys of the layout input|output/<run>/<split>/<rep>.pb; models/ stays)' })
      .conflicts('run_id', 'all'),
  validate: (args) => {
    if (args.run_id === undefined && !args.all) throw new UsageError('clean needs --run_id ID or --all');
  },
  run: async (args, io) => (await import('../ops/clean.js')).clean(args, io.out),
});
