import { DEFAULTS, GRAPH_OPT_LEVELS } from '../../config/defaults.js';
import { CONV_PATTERNS, QUANT_TYPES } from '../../quant/quantise.js';
import { defineCommand } from '../command.js';
import { intOption, withImageOptions, withModelOptions } from '../option-groups.js';

export const quantModelCommand = defineCommand({
  name: 'quant_model',
  describe: 'Dynamic int8 quantisation of the Conv, ConvTranspose, MatMul and Gemm weights into <model>.quant.onnx, with size, output error and speed against the float model',
  example: 'quant_model --onnx_file model.onnx --quant_type QInt8 --per_channel --image_batch images/',
  builder: (y) =>
    withImageOptions(withModelOptions(y))
      .option('quant_type', { type: 'string', choices: QUANT_TYPES, demandOption: true, describe: 'Weight type: QInt8 (symmetric int8) or QUInt8 (uint8 with a zero point)' })
      .option('per_channel', { type: 'boolean', default: false, describe: 'One scale per output channel (Conv) or output column (MatMul, Gemm) instead of one per weight' })
      .option('conv_pattern', {
        type: 'string',
        choices: CONV_PATTERNS,
        default: 'weight_only',
        describe: 'How a quantised Conv runs: weight_only (int8 weight made float when the session loads; float Conv, faster here) or integer (DynamicQuantizeLinear + ConvInteger)',
      })
      .option('balance_kernels', { type: 'boolean', default: true, describe: "Round each Conv kernel so that its sum stays within half a step of the float kernel's (--no-balance_kernels: every weight to nearest)" })
      .option('fold_batchnorm', { type: 'boolean', describe: 'Fold a BatchNormalization after a Conv into it before quantising (default: with --per_channel only)' })
      .option('reduce_range', {
        type: 'boolean',
        describe: "QInt8: 7-bit weights for the nodes that run as MatMulInteger or ConvInteger, whose u8s8 kernels on an x86-64 CPU without VNNI add products in 16 bits and saturate with 8 (default: on when this machine's CPU lacks VNNI; give it when the model will run on such a CPU, --no-reduce_range when it never will)",
      })
      .option('exclude_nodes', { type: 'array', string: true, describe: 'Conv, ConvTranspose, MatMul or Gemm nodes (names, or first outputs) left in float' })
      .option('calibration_batch', {
        type: 'string',
        describe: 'Calibration samples: a folder of images (with the image flags) or a payload file (.pb, first dimension the sample). Weights are then rounded to keep each layer\'s output on them (GPTQ) instead of to nearest',
      })
      .option('output_file', { type: 'string', describe: 'Where to write the quantised model (default <model>.quant.onnx beside the input; never the input itself)' })
      // Here --batch counts samples (each of batch 1), not a dimension to bind.
      .option('batch', intOption('batch', { default: 8, describe: 'Seeded random samples compared when no --image_batch or --input_file is given' }))
      .option('input_file', { type: 'string', describe: 'A payload file (.pb) with the inputs to compare on; its first dimension is the sample' })
      .option('seed', intOption('seed', { min: 0, default: DEFAULTS.seed, describe: 'Seed of the first random sample (the next ones: seed+1, ...)' }))
      .option('rounds', intOption('rounds', { default: 5, describe: 'Timed rounds over the samples on each model (after two warm-up rounds)' }))
      .option('threads', intOption('threads', { describe: 'Intra-op threads of both sessions (default: onnxruntime picks)' }))
      .option('graph_opt', { type: 'string', choices: GRAPH_OPT_LEVELS, default: DEFAULTS.graphOpt, describe: 'onnxruntime graph optimisation level of both sessions' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
      .conflicts('input_file', ['image_file', 'image_batch']),
  interruptible: true,
  run: async (args, io) => (await import('../ops/quant-model.js')).quantModel(args, io.out, io.signal),
});
