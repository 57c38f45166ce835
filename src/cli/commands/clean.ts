import { oscarOptions } from '../../backends/oscar-options.js';
import { UsageError } from '../../errors.js';
import { defineCommand } from '../command.js';
import { withStoreOptions } from '../option-groups.js';

export const cleanCommand = defineCommand({
  name: 'clean',
  describe: "Remove the payloads and results a run left in the bucket (input/, output/, and an OSCAR service's own paths), of one run id or of every run",
  example: 'clean --run_id 20260101T120000-1a2b3c4d --minio_endpoint http://127.0.0.1:9000',
  builder: (y) =>
    withStoreOptions(y)
      .option('run_id', { type: 'string', describe: "The run whose objects go (the run_id column of a run_all CSV)" })
      .option('all', { type: 'boolean', describe: 'Every run’s objects (only keys of the layout input|output/<run>/<split>/<rep>.pb, and under OSCAR paths <run>-<split>-<rep>.pb of this tool’s run ids; models/ stays)' })
      .option('oscar_endpoint', { type: 'string', describe: `${String(oscarOptions.oscar_endpoint!.describe)}: also clean its services' input and output paths, in its MinIO unless --minio_endpoint` })
      .option('oscar_service', { type: 'string', describe: 'Only this service’s paths (a chain: all its services’); default every service of the cluster' })
      .group(['oscar_endpoint', 'oscar_service'], 'OSCAR:')
      .conflicts('run_id', 'all'),
  validate: (args) => {
    if (args.run_id === undefined && !args.all) throw new UsageError('clean needs --run_id ID or --all');
  },
  run: async (args, io) => (await import('../ops/clean.js')).clean(args, io.out),
});
