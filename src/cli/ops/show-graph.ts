/**
 * show_graph: the model graph as an SVG and an HTML page, or the model opened in Netron.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { UsageError } from '../../errors.js';
import { checkOutputFolder, fileError } from '../../files.js';
import { writeGraph } from '../../report/graph/show-graph.js';
import { cutFilePoint, pointWords } from '../../split/node-cut.js';
import { splitPointOf } from '../../split/points.js';
import { counted } from '../format.js';
import type { CliIO } from '../command.js';
import { analyzeFromArgs, requireFile, type ModelArgs } from '../options.js';

export interface ShowGraphArgs extends ModelArgs {
  onnx_path?: string;
  split_layer?: string;
  cut_file?: string;
  netron?: boolean;
}

/** The first executable named `name` in PATH. */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter((d) => d)) {
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs Netron on the model (no shell), passing its output through; resolves to its exit code. */
async function openInNetron(file: string, io: CliIO): Promise<number> {
  await access(file).catch((err: unknown) => {
    throw fileError(file, err);
  });
  const netron = await findOnPath('netron');
  if (!netron) throw new UsageError('show_graph --netron: no netron executable on PATH (install it with `pip install netron`, or drop --netron for the SVG and HTML)');
  io.out(`opening ${file} in ${netron}`);
  return new Promise((resolve) => {
    const child = execFile(netron, [file], { maxBuffer: 64 * 1024 * 1024 }, (err) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (err && typeof err.code !== 'number') io.err(`show_graph --netron: ${netron}: ${err.message.split('\n')[0]}`);
      resolve(code);
    });
    child.stdout?.on('data', (d: Buffer) => io.out(d.toString().trimEnd()));
    child.stderr?.on('data', (d: Buffer) => io.err(d.toString().trimEnd()));
  });
}

export async function showGraph(args: ShowGraphArgs, io: CliIO): Promise<number> {
  const file = requireFile(args.onnx_file, 'onnx_file');
  if (args.netron) return openInNetron(file, io);
  if (args.onnx_path !== undefined) checkOutputFolder(args.onnx_path, 'onnx_path');
  const a = await analyzeFromArgs(args);
  if (args.split_layer !== undefined && args.cut_file !== undefined) throw new UsageError('show_graph takes --split_layer or --cut_file, not both');
  // A cut file is read as split_model and run read it; one that equals a split point is that split point.
  const chosen =
    args.cut_file !== undefined ? await cutFilePoint(a, args.cut_file) : args.split_layer !== undefined ? splitPointOf(a.splitPoints, a.index, args.split_layer, a.model.label) : undefined;
  const r = await writeGraph(a, file, { ...(args.onnx_path !== undefined ? { dir: args.onnx_path } : {}), ...(chosen ? { chosen } : {}) });
  const cut = chosen?.edgeNodes ? `the cut of ${args.cut_file} (${counted(chosen.edgeNodes.length, 'edge node')}, ${counted(chosen.cutTensors.length, 'cut tensor')})` : chosen && pointWords(chosen);
  io.out(`wrote ${r.files.svg} and ${r.files.html}: ${r.graph.nodes.length} boxes, ${r.graph.edges.length} edges, ${r.graph.splits.length} split points` + (cut ? `, coloured for ${cut}` : ''));
  return 0;
}
