import { defineCommand } from '../command.js';
import { withJson, withModelFile } from '../option-groups.js';

export const printModelCommand = defineCommand({
  name: 'print_model',
  describe: 'Versions, inputs, outputs, node and parameter counts, operator histogram',
  example: 'print_model --onnx_file model.onnx',
  builder: (y) => withJson(withModelFile(y)),
  run: async (args, io) => (await import('../ops/print-model.js')).printModel(args, io.out),
});
