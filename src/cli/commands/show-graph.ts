import { defineCommand } from '../command.js';
import { withModelOptions } from '../option-groups.js';

export const showGraphCommand = defineCommand({
  name: 'show_graph',
  describe: 'The model graph with every split point and its bytes, as <model>.graph.svg and a pan-and-zoom <model>.graph.html; --split_layer or --cut_file colours one cut; --netron opens Netron instead',
  example: 'show_graph --onnx_file model.onnx --split_layer 12',
  builder: (y) =>
    withModelOptions(y)
      .option('onnx_path', { type: 'string', describe: 'Folder for the SVG and HTML (default: the model\'s folder)' })
      .option('split_layer', { type: 'string', describe: 'Colour the nodes edge or cloud for this split point (its list_layers index, or a layer name)' })
      .option('cut_file', { type: 'string', conflicts: 'split_layer', describe: 'JSON { "edge_nodes": [...] }: colour the nodes edge or cloud for this node set (as split_model --cut_file cuts)' })
      .option('netron', { type: 'boolean', describe: 'Open the model in Netron (a netron executable on PATH) instead of writing pictures' })
      .conflicts('netron', ['split_layer', 'cut_file', 'onnx_path']),
  run: async (args, io) => (await import('../ops/show-graph.js')).showGraph(args, io),
});
