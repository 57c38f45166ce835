import { defineCommand } from '../command.js';
import { withModelOptions, withOscarDeployOptions, withPartsOutput, withRuntimeOptions, withStoreOptions } from '../option-groups.js';

export const deployCommand = defineCommand({
  name: 'deploy',
  describe: 'OSCAR service(s) for the cloud side as an FDL file in --onnx_path; --apply creates or updates them and uploads the cloud part(s)',
  example: 'deploy --onnx_file model.onnx --split_layer relu_3_out --oscar_service onnx-cloud --oscar_image registry.example/onnx-cloud:1 --apply',
  builder: (y) =>
    withOscarDeployOptions(withStoreOptions(withRuntimeOptions(withPartsOutput(withModelOptions(y, true)))))
      .option('split_layer', { type: 'string', describe: 'Layer to cut after (one OSCAR service for the rest)' })
      .option('split_layers', { type: 'string', array: true, describe: 'Layers to cut after: chained OSCAR services, one per cloud part' })
      .conflicts('split_layer', 'split_layers'),
  run: async (args, io) => (await import('../ops/deploy.js')).deploy(args, io),
});
