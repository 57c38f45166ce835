import { DEFAULT_PROFILE_REP } from '../../profile/profile-defaults.js';
import { defineCommand } from '../command.js';
import { checkCloudFlags, intOption, withCloudOptions, withCycleOptions, withInputOptions, withModelOptions, withLinkOptions, withRuntimeOptions, withStoreOptions, withCodecOptions } from '../option-groups.js';

export const profileCommand = defineCommand({
  name: 'profile',
  describe: "Per-node times and fixed costs on the edge and on the cloud side, from onnxruntime's profiler; to <results>.profile.csv",
  example: 'profile --onnx_file model.onnx --rep 20',
  builder: (y) =>
    withCodecOptions(
      withLinkOptions(withCloudOptions(withStoreOptions(withCycleOptions(withRuntimeOptions(withInputOptions(withModelOptions(y))))))),
      true,
      true,
      'Tensor codecs to measure on the cut tensors for predict and recommend --tensor_codec (fp16 bf16 int8 int8:axis=N deflate zstd; raw: none; default every one, int8 per channel along axis 1)',
    )
      .option('rep', intOption('rep', { default: DEFAULT_PROFILE_REP, describe: 'Recorded runs per side (after --warmup, at least one)' }))
      .option('results_file', { type: 'string', describe: 'Results file the profile goes beside (X.csv -> X.profile.csv; default results/<model>.profile.csv)' }),
  validate: (args, given) => {
    checkCloudFlags(String(args.cloud), given);
  },
  interruptible: true,
  run: async (args, io) => (await import('../ops/profile.js')).profile(args, io.out, (line) => io.err(`onnx-manager: warning: ${line}`), io.signal),
});
