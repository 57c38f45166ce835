/**
 * split_model, multi_split_model, split_model_all: write parts and manifest.json.
 */
import * as path from 'node:path';
import { UsageError } from '../../errors.js';
import { checkOutputFolder, realPath } from '../../files.js';
import { cutFilePoint } from '../../split/node-cut.js';
import type { ManifestSplit } from '../../split/manifest.js';
import { writeAllSplits, writeCut, writeSplitAt } from '../../split/split.js';
import { counted, humanBytes } from '../format.js';
import { analyzeFromArgs, type ModelArgs } from '../options.js';

export interface SplitArgs extends ModelArgs {
  onnx_path?: string;
  split_layer?: string;
  split_layers?: string[];
  cut_file?: string;
}

/** The folder the parts go to (refused at once when no file can be made there). */
function outDir(args: SplitArgs): string {
  if (args.onnx_path) checkOutputFolder(args.onnx_path, 'onnx_path');
  const dir = args.onnx_path ?? path.join('splits', path.basename(args.onnx_file ?? 'model', '.onnx'));
  refuseWritingOverModel(args.onnx_file, dir);
  return dir;
}

/** The names the split operations write in their folder: parts (with their external data), split_NNN/ folders, manifest.json. */
const WRITTEN_NAME = /^(split_\d{3}\/)?(part\d+\.onnx(\.data)?|manifest\.json)$/;

/**
 * Refuses, before the model is read, a folder in which a part or the manifest would take the
 * model's own name (a part split again into the folder it came from): the model would be replaced
 * by one of its parts.
 */
export function refuseWritingOverModel(model: string | undefined, dir: string): void {
  if (model === undefined) return;
  const rel = path.relative(realPath(dir), realPath(model));
  if (!WRITTEN_NAME.test(rel.split(path.sep).join('/'))) return;
  throw new UsageError(`--onnx_path ${dir} would write ${rel} over the model (--onnx_file ${model}); give another --onnx_path`);
}

/** What a cut written crosses, as split_model and multi_split_model say it: `split 3 after 'maxpool_0_out': ...` (a split given by its index named by its layer). */
function cutLine(s: ManifestSplit, where: string): string {
  return `split ${s.index} ${where}: ${s.cut_tensors.length} cut tensor(s), ${s.transfer_bytes} bytes (${humanBytes(s.transfer_bytes)}) cross`;
}

export async function splitModel(args: SplitArgs, out: (s: string) => void): Promise<void> {
  if (!args.split_layer && !args.cut_file) throw new UsageError('split_model needs --split_layer or --cut_file (see --operation list_layers for the names)');
  const dir = outDir(args);
  const a = await analyzeFromArgs(args);
  const m = args.cut_file ? await writeCut(a, await cutFilePoint(a, args.cut_file), dir) : await writeSplitAt(a, [args.split_layer!], dir);
  const s = m.splits[0]!;
  const where = s.edge_nodes ? `at the ${s.edge_nodes.length} edge node(s) of ${args.cut_file}` : `after '${s.split_layer}'`;
  out(cutLine(s, where));
  out(`wrote ${s.parts.map((p) => path.join(dir, p)).join(', ')} and ${path.join(dir, 'manifest.json')}`);
}

export async function multiSplitModel(args: SplitArgs, out: (s: string) => void): Promise<void> {
  const layers = args.split_layers ?? [];
  if (layers.length === 0) throw new UsageError('multi_split_model needs --split_layers T1 T2 ...');
  const dir = outDir(args);
  const a = await analyzeFromArgs(args);
  const m = await writeSplitAt(a, layers, dir);
  for (const s of m.splits) out(cutLine(s, `after '${s.split_layer}'`));
  const n = m.splits[0]!.parts.length;
  out(`wrote ${counted(n, 'part')} (${m.splits[0]!.parts.join(', ')}) and manifest.json to ${dir}`);
}

export async function splitModelAll(args: SplitArgs, out: (s: string) => void, progress: (s: string) => void): Promise<void> {
  const dir = outDir(args);
  const a = await analyzeFromArgs(args);
  const total = a.splitPoints.length;
  const m = await writeAllSplits(a, dir, { onSplit: (p) => progress(`split ${p.index + 1}/${total} ${p.splitLayer}`) });
  const parts = m.splits.reduce((n, s) => n + s.parts.length, 0);
  out(`wrote ${m.splits.length} split points (${parts} parts) and manifest.json to ${dir}`);
}
