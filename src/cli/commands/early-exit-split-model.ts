import { defineCommand } from '../command.js';
import { withModelOptions, withPartsOutput } from '../option-groups.js';

export const earlyExitSplitModelCommand = defineCommand({
  name: 'early_exit_split_model',
  describe: 'One chain of parts per early exit, the trunk the exits share written once, plus manifest.json',
  example: 'early_exit_split_model --onnx_file model.onnx --outputs aux_logits logits --onnx_path exits/',
  builder: (y) =>
    withPartsOutput(withModelOptions(y)).option('outputs', {
      type: 'string',
      array: true,
      demandOption: true,
      describe: 'The exit tensors (model outputs or any computed tensor), the shallowest first',
    }),
  run: async (args, io) => (await import('../ops/early-exit-split-model.js')).earlyExitSplitModel(args, io.out),
});
