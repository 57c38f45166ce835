import { defineCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import { withModelOptions, withPartsOutput } from '../option-groups.js';

export const splitModelCommand = defineCommand({
  name: 'split_model',
  describe: 'Split after one layer (or at a node set, --cut_file) into part1.onnx and part2.onnx',
  example: 'split_model --onnx_file model.onnx --split_layer conv_3_out --onnx_path parts/',
  builder: (y) =>
    withPartsOutput(withModelOptions(y))
      .option('split_layer', { type: 'string', describe: 'Layer (output tensor or node name, as list_layers shows) to cut after' })
      .option('cut_file', { type: 'string', conflicts: 'split_layer', describe: 'JSON { "edge_nodes": [...] }: the nodes on the edge, any set closed under predecessors' }),
  validate: (args) => needsCut('split_model', args),
  run: async (args, io) => (await import('../ops/split-model.js')).splitModel(args, io.out),
});

export const multiSplitModelCommand = defineCommand({
  name: 'multi_split_model',
  describe: 'Split after several layers into part1.onnx ... part(k+1).onnx',
  example: 'multi_split_model --onnx_file model.onnx --split_layers relu_2_out relu_7_out --onnx_path parts/',
  builder: (y) =>
    withPartsOutput(withModelOptions(y)).option('split_layers', {
      type: 'string',
      array: true,
      demandOption: true,
      describe: 'Layers to cut after, in execution order',
    }),
  run: async (args, io) => (await import('../ops/split-model.js')).multiSplitModel(args, io.out),
});

export const splitModelAllCommand = defineCommand({
  name: 'split_model_all',
  describe: 'Every split point into split_NNN/part1.onnx, part2.onnx plus manifest.json',
  example: 'split_model_all --onnx_file model.onnx --onnx_path splits/',
  builder: (y) => withPartsOutput(withModelOptions(y)),
  run: async (args, io) =>
    (await import('../ops/split-model.js')).splitModelAll(args, io.out, (s) => (io.isTTY ? io.err(`\r${s}\u001b[K`) : undefined)),
});

/** run and split_model cut either after a layer or at a node set. */
export function needsCut(operation: string, args: { split_layer?: string; cut_file?: string }): void {
  if (args.split_layer === undefined && args.cut_file === undefined) {
    throw new UsageError(`${operation} needs --split_layer or --cut_file (see --operation list_layers for the names)`);
  }
}
