import { defineCommand } from '../command.js';
import { withJson, withModelOptions } from '../option-groups.js';

export const listLayersCommand = defineCommand({
  name: 'list_layers',
  describe: 'Split points with the bytes each would move (--json for JSON)',
  example: 'list_layers --onnx_file model.onnx',
  builder: (y) => withJson(withModelOptions(y)),
  run: async (args, io) => (await import('../ops/list-layers.js')).listLayers(args, io.out),
});
