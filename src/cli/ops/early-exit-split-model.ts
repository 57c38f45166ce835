/**
 * early_exit_split_model: the parts of the given exits and manifest.json, and a table of what was written.
 */
import * as path from 'node:path';
import { UsageError } from '../../errors.js';
import { checkOutputFolder } from '../../files.js';
import { writeEarlyExits } from '../../split/early-exit-parts.js';
import { counted, humanBytes, table } from '../format.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';
import { refuseWritingOverModel } from './split-model.js';

export interface EarlyExitArgs extends ModelArgs {
  onnx_path?: string;
  outputs?: string[];
}

export async function earlyExitSplitModel(args: EarlyExitArgs, out: (s: string) => void): Promise<void> {
  const exits = args.outputs ?? [];
  if (exits.length === 0) throw new UsageError('early_exit_split_model needs --outputs O1 O2 ... (the exit tensors, the shallowest first)');
  if (args.onnx_path) checkOutputFolder(args.onnx_path, 'onnx_path');
  const dir = args.onnx_path ?? path.join('splits', path.basename(args.onnx_file ?? 'model', '.onnx'));
  refuseWritingOverModel(args.onnx_file, dir);
  const a = await analyzeFromArgs(args);
  const m = await writeEarlyExits(a, exits, dir);
  const { parts } = m.early_exit;
  const rows = parts.map((p) => [
    p.file,
    p.nodes,
    p.inputs.map((t) => `${t.name} (${t.from})`).join(', '),
    p.outputs.map((t) => `${t.name}${t.exit ? ' [exit]' : ''}${t.to.length ? ` -> ${t.to.join(', ')}` : ''}`).join(', '),
    humanBytes(p.bytes),
    p.exits.join(', '),
  ]);
  out(table(['part', '>nodes', 'inputs (from)', 'outputs (-> read by)', '>size', 'needed by'], rows));
  for (const e of m.early_exit.exits) out(`exit '${e.name}': ${e.parts.join(' + ')} (${e.nodes} nodes)`);
  out(`wrote ${counted(parts.length, 'part')} and manifest.json to ${dir}`);
}
