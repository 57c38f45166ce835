/**
 * onnx-manager: the command line. Each operation is a small module under ops/, imported only
 * when it runs. One error boundary turns every error into one line and a non-zero exit.
 */
import yargs from 'yargs';
import { OnnxManagerError, UsageError } from '../errors.js';
import { withModelOptions } from './options.js';

type Out = (s: string) => void;

interface Operation {
  describe: string;
  example: string;
  run: (args: Record<string, unknown>, out: Out, progress: Out) => Promise<void>;
}

const OPERATIONS: Record<string, Operation> = {
  list_layers: {
    describe: 'Split points with the bytes each would move (--json for JSON)',
    example: '--operation list_layers --onnx_file model.onnx',
    run: async (a, out) => (await import('./ops/list-layers.js')).listLayers(a, out),
  },
  print_model: {
    describe: 'Versions, inputs, outputs, node and parameter counts, operator histogram',
    example: '--operation print_model --onnx_file model.onnx',
    run: async (a, out) => (await import('./ops/print-model.js')).printModel(a, out),
  },
  split_model: {
    describe: 'Split after one layer into part1.onnx and part2.onnx',
    example: '--operation split_model --onnx_file model.onnx --split_layer conv_3_out --onnx_path parts/',
    run: async (a, out) => (await import('./ops/split-model.js')).splitModel(a, out),
  },
  multi_split_model: {
    describe: 'Split after several layers into part1.onnx ... part(k+1).onnx',
    example: '--operation multi_split_model --onnx_file model.onnx --split_layers relu_2_out relu_7_out --onnx_path parts/',
    run: async (a, out) => (await import('./ops/split-model.js')).multiSplitModel(a, out),
  },
  split_model_all: {
    describe: 'Every split point into split_NNN/part1.onnx, part2.onnx plus manifest.json',
    example: '--operation split_model_all --onnx_file model.onnx --onnx_path splits/',
    run: async (a, out, progress) => (await import('./ops/split-model.js')).splitModelAll(a, out, progress),
  },
};

function errorText(err: unknown, verbose: boolean): string {
  if (!verbose) {
    const msg = err instanceof Error ? err.message : String(err);
    return msg.split('\n')[0]!;
  }
  const lines: string[] = [];
  for (let e: unknown = err; e !== undefined; e = (e as { cause?: unknown }).cause) {
    lines.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    if (!(e instanceof Error)) break;
  }
  return lines.join('\ncaused by: ');
}

export async function main(argv: string[], io: { out: Out; err: Out; isTTY?: boolean } = defaultIO()): Promise<number> {
  const names = Object.keys(OPERATIONS);
  let verbose = argv.includes('--verbose');
  let parserMessage: string | undefined;
  const parser = withModelOptions(
    yargs(argv)
      .scriptName('onnx-manager')
      .usage('Usage: onnx-manager --operation <op> [options]\n\nSplit ONNX models between an edge device and a cloud, and find the best cut.')
      .option('operation', { type: 'string', choices: names, describe: 'What to do' }),
  )
    .option('onnx_path', { type: 'string', describe: 'Output folder for split parts and manifest.json (default splits/<model>)' })
    .option('split_layer', { type: 'string', describe: 'Layer (output tensor or node name) to cut after' })
    .option('split_layers', { type: 'string', array: true, describe: 'Layers to cut after, in execution order' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' })
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
    const progress: Out = (s) => (io.isTTY ? io.err(`\r${s}\u001b[K`) : undefined);
    await op.run(args, io.out, progress);
    if (io.isTTY) io.err('\r\u001b[K');
    return 0;
  } catch (err) {
    if (io.isTTY) io.err('\r\u001b[K');
    const prefix = err instanceof OnnxManagerError ? '' : 'unexpected error: ';
    io.err(`onnx-manager: ${prefix}${errorText(err, verbose)}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

export function defaultIO(): { out: Out; err: Out; isTTY: boolean } {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
    isTTY: process.stderr.isTTY === true,
  };
}
