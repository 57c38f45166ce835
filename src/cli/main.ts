/**
 * onnx-manager: the command line. Each operation is a small module under ops/, imported only
 * when it runs. One error boundary turns every error into one line and a non-zero exit.
 */
import yargs from 'yargs';
import { UsageError } from '../errors.js';
import { reportFailure } from './failure.js';
import { kubernetesOptions } from '../backends/kubernetes-options.js';
import { oscarOptions } from '../backends/oscar-options.js';
import { sshOptions } from '../backends/ssh-options.js';
import { withInputOptions } from './inputs.js';
import { withModelOptions } from './options.js';

type Out = (s: string) => void;

export interface CliIO {
  out: Out;
  err: Out;
  isTTY?: boolean;
}

interface Operation {
  describe: string;
  example: string;
  /** Resolves to the exit code (undefined: 0). */
  run: (args: Record<string, unknown>, io: CliIO) => Promise<number | void>;
}

const OPERATIONS: Record<string, Operation> = {
  list_layers: {
    describe: 'Split points with the bytes each would move (--json for JSON)',
    example: '--operation list_layers --onnx_file model.onnx',
    run: async (a, io) => (await import('./ops/list-layers.js')).listLayers(a, io.out),
  },
  print_model: {
    describe: 'Versions, inputs, outputs, node and parameter counts, operator histogram',
    example: '--operation print_model --onnx_file model.onnx',
    run: async (a, io) => (await import('./ops/print-model.js')).printModel(a, io.out),
  },
  split_model: {
    describe: 'Split after one layer into part1.onnx and part2.onnx',
    example: '--operation split_model --onnx_file model.onnx --split_layer conv_3_out --onnx_path parts/',
    run: async (a, io) => (await import('./ops/split-model.js')).splitModel(a, io.out),
  },
  multi_split_model: {
    describe: 'Split after several layers into part1.onnx ... part(k+1).onnx',
    example: '--operation multi_split_model --onnx_file model.onnx --split_layers relu_2_out relu_7_out --onnx_path parts/',
    run: async (a, io) => (await import('./ops/split-model.js')).multiSplitModel(a, io.out),
  },
  split_model_all: {
    describe: 'Every split point into split_NNN/part1.onnx, part2.onnx plus manifest.json',
    example: '--operation split_model_all --onnx_file model.onnx --onnx_path splits/',
    run: async (a, io) =>
      (await import('./ops/split-model.js')).splitModelAll(a, io.out, (s) => (io.isTTY ? io.err(`\r${s}\u001b[K`) : undefined)),
  },
  run: {
    describe: 'One split point through the full edge -> store -> cloud cycle, with the time of each step',
    example: '--operation run --onnx_file model.onnx --split_layer relu_3_out --rep 5 --verify',
    run: async (a, io) => (await import('./ops/run.js')).run(a, io.out),
  },
  run_all: {
    describe: 'Every split point through the cycle, --rep times each; rows to --results_file (CSV) and a summary',
    example: '--operation run_all --onnx_file model.onnx --rep 10 --results_file results/model.csv',
    run: async (a, io) => (await import('./ops/run.js')).runAll(a, io),
  },
  deploy: {
    describe: 'OSCAR service(s) for the cloud side as an FDL file in --onnx_path; --apply creates or updates them and uploads the cloud part(s)',
    example: '--operation deploy --oscar_service onnx-cloud --oscar_image registry.example/onnx-cloud:1 --oscar_endpoint https://oscar.example --apply',
    run: async (a, io) => (await import('./ops/deploy.js')).deploy(a, io),
  },
  data_processing: {
    describe: 'Images (--image_file or --image_batch) to a model input payload file (--output_file)',
    example: '--operation data_processing --onnx_file model.onnx --image_file cat.jpg --normalisation imagenet --output_file input.pb',
    run: async (a, io) => (await import('./ops/data-processing.js')).dataProcessing(a, io.out),
  },
};

export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const names = Object.keys(OPERATIONS);
  let verbose = argv.includes('--verbose');
  let parserMessage: string | undefined;
  const parser = withInputOptions(withModelOptions(
    yargs(argv)
      .scriptName('onnx-manager')
      .usage('Usage: onnx-manager --operation <op> [options]\n\nSplit ONNX models between an edge device and a cloud, and find the best cut.')
      .option('operation', { type: 'string', choices: names, describe: 'What to do' }),
  ))
    .option('onnx_path', { type: 'string', describe: 'Output folder for split parts and manifest.json (default splits/<model>)' })
    .option('split_layer', { type: 'string', describe: 'Layer (output tensor or node name) to cut after' })
    .option('split_layers', { type: 'string', array: true, describe: 'Layers to cut after, in execution order' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' })
    .option('rep', { type: 'number', describe: 'Repetitions per split point (run: 1, run_all: 10)' })
    .option('warmup', { type: 'number', default: 2, describe: 'Unrecorded warm-up cycles per split point' })
    .option('splits', { type: 'number', array: true, describe: 'run_all: only these split indexes' })
    .option('timeout', { type: 'number', default: 60, describe: 'Seconds to wait for each cloud result' })
    .option('results_file', { type: 'string', describe: 'CSV of run_all rows (default results/<model>-<date>.csv); a .summary.csv goes beside it' })
    .option('resume', { type: 'boolean', default: false, describe: 'Continue a killed run_all in --results_file' })
    .option('exec_type', { type: 'string', default: 'CPU', describe: 'Execution provider: CPU, GPU (CUDA), TensorRT, WebGPU, ...' })
    .option('device_type', { type: 'string', describe: 'Device number for GPU providers, e.g. 0' })
    .option('threads', { type: 'number', describe: 'Intra-op threads of every session (default: onnxruntime picks)' })
    .option('graph_opt', { type: 'string', choices: ['disabled', 'basic', 'extended', 'all'], default: 'all', describe: 'onnxruntime graph optimisation level' })
    .option('cloud', { type: 'string', default: 'local', describe: 'Where the remaining parts run: local, oscar, kubernetes, ssh' })
    .option('minio_endpoint', { type: 'string', describe: 'S3/MinIO endpoint (or MINIO_ENDPOINT); keys from MINIO_ACCESS_KEY, MINIO_SECRET_KEY; none: an embedded server' })
    .option('minio_bucket', { type: 'string', describe: 'Bucket for models, inputs and outputs (default onnx-manager)' })
    .option('minio_region', { type: 'string', describe: 'Region of the bucket' })
    .option('minio_secure', { type: 'boolean', describe: 'Use TLS for a host:port endpoint' })
    .option('keep_objects', { type: 'boolean', default: false, describe: 'Keep input/output payloads in the store after each split' })
    .option('verify', { type: 'boolean', default: false, describe: 'run: compare the result with the full model run locally' })
    .option('output_file', { type: 'string', describe: 'data_processing: where to write the payload' })
    .options({ ...oscarOptions, ...kubernetesOptions, ...sshOptions })
    .option('verbose', { type: 'boolean', default: false, describe: 'Show stack traces and causes on errors' })
    .strictOptions()
    .epilog(`Operations:\n${names.map((n) => `  ${n.padEnd(18)} ${OPERATIONS[n]!.describe}\n      onnx-manager ${OPERATIONS[n]!.example}`).join('\n')}`)
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      parserMessage = msg || err?.message;
    });
  let args: Record<string, unknown>;
  try {
    args = (await parser.parseAsync()) as Record<string, unknown>;
  } catch (err) {
    parserMessage ??= (err as Error).message;
    args = {};
  }
  if (parserMessage) {
    io.err(`onnx-manager: ${parserMessage.split('\n')[0]} (see --help)`);
    return 2;
  }
  if (args.help || args.version) return 0;
  verbose = args.verbose === true;
  try {
    if (!args.operation) throw new UsageError(`missing --operation (one of: ${names.join(', ')})`);
    const op = OPERATIONS[String(args.operation)]!;
    const code = await op.run(args, io);
    if (io.isTTY) io.err('\r\u001b[K');
    return code ?? 0;
  } catch (err) {
    if (io.isTTY) io.err('\r\u001b[K');
    return reportFailure('onnx-manager', err, verbose, io.err);
  }
}

export function defaultIO(): CliIO {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
    isTTY: process.stderr.isTTY === true,
  };
}
