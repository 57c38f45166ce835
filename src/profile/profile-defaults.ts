/**
 * What a profile defaults to, in a module of its own with no imports: the command-line options
 * read these when the CLI starts, without loading the profiler (onnxruntime, the store's client).
 */
import * as path from 'node:path';

export const DEFAULT_PROFILE_REP = 20;
/**
 * Recorded runs per side when predict profiles first (predict --profile_rep): half of profile's.
 * Measured at load 7-15, the hot profile it gives matched 20 runs' within the spread of run_all itself.
 */
export const PREDICT_PROFILE_REP = 10;

/** Where the profile goes: beside --results_file (X.csv -> X.profile.csv), else results/<model>.profile.csv. */
export function profileFileFor(args: { onnx_file?: string; results_file?: string }): string {
  if (args.results_file) return args.results_file.replace(/(\.profile)?\.csv$/i, '') + '.profile.csv';
  return path.join('results', `${path.basename(args.onnx_file ?? 'model', '.onnx')}.profile.csv`);
}
