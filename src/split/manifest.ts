/**
 * manifest.json: the contract between the splitter, the runners and outside tools.
 * Parts are listed in execution order; each part's inputs are model inputs or outputs of earlier
 * parts, by name. `sides` tells where each listed part runs.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { dtypeFromOnnx } from '../onnx/dtypes.js';
import type { ModelAnalysis } from './analysis.js';
import type { CutTensor, SideCost } from './points.js';

export interface ManifestTensor {
  name: string;
  dtype: string;
  shape: number[];
}

export interface ManifestSplit {
  index: number;
  split_layer: string;
  cut_tensors: CutTensor[];
  transfer_bytes: number;
  parts: string[];
  sides: ('edge' | 'cloud')[];
  edge: SideCost;
  cloud: SideCost;
  /** For a cut given as a node set (split_model --cut_file): the nodes on the edge side. */
  edge_nodes?: string[];
}

export interface Manifest {
  model: string;
  model_sha256: string;
  inputs: ManifestTensor[];
  outputs: ManifestTensor[];
  splits: ManifestSplit[];
}

function tensorEntry(a: ModelAnalysis, name: string): ManifestTensor {
  const info = a.shapes.get(name);
  return { name, dtype: info ? dtypeFromOnnx(info.elemType).name : 'unknown', shape: info?.dims ?? [] };
}

export function manifestHeader(a: ModelAnalysis, manifestDir: string): Omit<Manifest, 'splits'> {
  // Relative to the manifest when the model sits beside or below it, else absolute.
  const abs = a.model.file ? path.resolve(a.model.file) : undefined;
  const rel = abs ? path.relative(path.resolve(manifestDir), abs) : 'model.onnx';
  const model = abs && rel.split(path.sep).includes('..') ? abs : rel;
  return {
    model: model.split(path.sep).join('/'),
    model_sha256: a.model.sha256,
    inputs: a.index.inputs.map((n) => tensorEntry(a, n)),
    outputs: a.index.outputs.map((n) => tensorEntry(a, n)),
  };
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/**
 * The part files (with their external data files) the manifest.json already in `dir` lists: an
 * earlier split written there. The new output removes those it does not write again
 * (OutputTransaction.removeOnCommit), so the folder never holds a stale part beside the new
 * manifest. Only plain relative paths to .onnx files inside `dir` count; a folder without a
 * readable manifest gives none.
 */
export function partsOfEarlierManifest(dir: string): string[] {
  let m: { splits?: { parts?: unknown }[]; early_exit?: { parts?: { file?: unknown }[] } };
  try {
    m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return [];
  }
  const listed = [
    ...(Array.isArray(m?.splits) ? m.splits.flatMap((s) => (Array.isArray(s?.parts) ? s.parts : [])) : []),
    ...(Array.isArray(m?.early_exit?.parts) ? m.early_exit.parts.map((p) => p?.file) : []),
  ];
  const inside = (f: unknown): f is string =>
    typeof f === 'string' && f.endsWith('.onnx') && !path.isAbsolute(f) && !f.split(/[\\/]/).some((x) => x === '..' || x === '');
  return [...new Set(listed.filter(inside))].flatMap((f) => [f, `${f}.data`]);
}
