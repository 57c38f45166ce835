/**
 * onnx-cloud's arguments as its jobs give them, read without yargs: an OSCAR job's
 * `--input_file F --save_results F [--cloud_config C]`, a Kubernetes Job's `--input_key K
 * --output_key K --cloud_config C`, by hand `--onnx_file P.. --input_file F --save_results F`.
 * Loading and setting up yargs is the largest part of the tool's own start-up, paid by every job.
 *
 * Only a plain form is read here: each of these flags at most once, as `--name value` or
 * `--name=value`, with a value that is not empty and (in the first form) does not start with '-'.
 * Anything else (another flag, --help, a repeated flag, a positional word, `--`) gives undefined
 * and the full yargs parser reads the line, with its messages; what is read here is exactly what
 * that parser makes of the same line (test/cloud/job-args.test.ts compares them).
 */
import { DEFAULTS } from '../src/config/defaults.js';

/** onnx-cloud's parsed arguments (what its yargs parser returns, on the names it reads). */
export interface CloudArgs {
  exec_type: string;
  device_type?: string;
  threads?: number;
  graph_opt: string;
  onnx_file?: string[];
  input_file?: string;
  save_results?: string;
  minio_bucket?: string;
  input_key?: string;
  output_key?: string;
  serve: boolean;
  cloud_config?: string;
  verbose: boolean;
}

const SINGLE = ['input_file', 'save_results', 'minio_bucket', 'input_key', 'output_key', 'cloud_config'] as const;
type Single = (typeof SINGLE)[number];

const isSingle = (name: string): name is Single => (SINGLE as readonly string[]).includes(name);

/** The arguments of a job's plain command line, or undefined when yargs has to read it. */
export function quickCloudArgs(argv: readonly string[]): CloudArgs | undefined {
  const args: CloudArgs = { exec_type: DEFAULTS.execType, graph_opt: DEFAULTS.graphOpt, serve: false, verbose: false };
  const plain = (v: string | undefined): v is string => v !== undefined && v !== '' && !v.startsWith('-');
  for (let i = 0; i < argv.length; ) {
    const m = /^--([a-z_]+)(?:=([^]*))?$/.exec(argv[i]!);
    if (!m) return undefined;
    const [, name, inline] = m as unknown as [string, string, string | undefined];
    if (name === 'onnx_file') {
      // `--onnx_file a.onnx b.onnx`: the values up to the next flag.
      if (inline !== undefined || args.onnx_file) return undefined;
      const files: string[] = [];
      for (i++; plain(argv[i]); i++) files.push(argv[i]!);
      if (files.length === 0) return undefined;
      args.onnx_file = files;
      continue;
    }
    if (!isSingle(name) || args[name] !== undefined) return undefined;
    if (inline !== undefined) {
      if (inline === '') return undefined;
      args[name] = inline;
      i++;
    } else {
      const value = argv[i + 1];
      if (!plain(value)) return undefined;
      args[name] = value;
      i += 2;
    }
  }
  return args;
}
