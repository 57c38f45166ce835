import { defineCommand } from '../command.js';
import { withImageOptions, withModelOptions } from '../option-groups.js';

export const dataProcessingCommand = defineCommand({
  name: 'data_processing',
  describe: 'Images (--image_file or --image_batch) to a model input payload file (--output_file)',
  example: 'data_processing --onnx_file model.onnx --image_file cat.jpg --normalisation imagenet --output_file input.pb',
  builder: (y) =>
    withImageOptions(withModelOptions(y)).option('output_file', { type: 'string', describe: 'Where to write the payload (default <image name>.pb)' }),
  run: async (args, io) => (await import('../ops/data-processing.js')).dataProcessing(args, io.out),
});
