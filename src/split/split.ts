/**
 * Splitting operations over an analysed model: build the parts of a split in memory, write one
 * split, several cuts, or every split point, each with its manifest.
 */
import { SplitError } from '../errors.js';
import type { ModelAnalysis } from './analysis.js';
import { assemblePart, type AssembledPart, type AssembleOptions } from './assemble.js';
import { manifestHeader, manifestText, partsOfEarlierManifest, type Manifest, type ManifestSplit } from './manifest.js';
import { OutputTransaction } from './output.js';
import { checkClosed, edgeNodeNames } from './node-cut.js';
import { planParts, planSegments, type PlannedPart } from './plan.js';
import { orderedSplitPositions, pointAtPosition, splitLayerNamed, type SplitPoint } from './points.js';

export interface BuiltPart {
  plan: PlannedPart;
  part: AssembledPart;
  /** File name relative to the split's folder, e.g. part1.onnx. */
  file: string;
}

export interface SplitOptions {
  /** Parts above this size store their larger weights in an external data file (default just under 2 GiB). */
  externalThreshold?: number;
}

function assembleOptions(a: ModelAnalysis, file: string, opts: SplitOptions): AssembleOptions {
  const o: AssembleOptions = { shapes: a.shapes, dataLocation: `${file}.data` };
  if (opts.externalThreshold !== undefined) o.externalThreshold = opts.externalThreshold;
  return o;
}

/** Builds the parts for cuts at the given positions, in memory. */
export function buildParts(a: ModelAnalysis, positions: readonly number[], opts: SplitOptions = {}): BuiltPart[] {
  return planParts(a.index, positions).map((plan) => built(a, plan, opts));
}

function built(a: ModelAnalysis, plan: PlannedPart, opts: SplitOptions): BuiltPart {
  const file = `part${plan.number}.onnx`;
  return { plan, file, part: assemblePart(a.model, a.index, plan, assembleOptions(a, file, opts)) };
}

/** Builds the two parts of a cut given as a node set (see node-cut.ts): part1 the edge nodes, part2 the rest. */
export function buildNodeCutParts(a: ModelAnalysis, edgeNodes: readonly number[], opts: SplitOptions = {}): BuiltPart[] {
  const edge = new Set(edgeNodes);
  checkClosed(a.index, edge, a.model.label);
  const segment = new Int32Array(a.index.nodes.length).fill(-1);
  for (const n of a.index.dataNodes) segment[n] = edge.has(n) ? 0 : 1;
  return planSegments(a.index, segment, 2).map((plan) => built(a, plan, opts));
}

/** The parts of a split point, whether a cut in execution order or a node set. */
export function buildPointParts(a: ModelAnalysis, point: SplitPoint, opts: SplitOptions = {}): BuiltPart[] {
  return point.edgeNodes ? buildNodeCutParts(a, point.edgeNodes, opts) : buildParts(a, [point.position], opts);
}

/** Where each part runs: the first cut separates the edge from the cloud. */
function sides(parts: BuiltPart[]): ('edge' | 'cloud')[] {
  return parts.map((p) => (p.plan.number === 1 ? 'edge' : 'cloud'));
}

function splitEntry(a: ModelAnalysis, point: SplitPoint, parts: BuiltPart[], folder: string): ManifestSplit {
  const entry: ManifestSplit = {
    index: point.index,
    split_layer: point.splitLayer,
    cut_tensors: point.cutTensors,
    transfer_bytes: point.transferBytes,
    parts: parts.map((p) => (folder ? `${folder}/${p.file}` : p.file)),
    sides: sides(parts),
    edge: point.edge,
    cloud: point.cloud,
  };
  if (point.edgeNodes) entry.edge_nodes = edgeNodeNames(a.index, point.edgeNodes);
  return entry;
}

export function splitFolder(index: number): string {
  return `split_${String(index).padStart(3, '0')}`;
}

/** split_model_all: every split point into outDir/split_NNN/, plus outDir/manifest.json. */
export async function writeAllSplits(
  a: ModelAnalysis,
  outDir: string,
  opts: SplitOptions & { onSplit?: (point: SplitPoint) => void } = {},
): Promise<Manifest> {
  return OutputTransaction.run(outDir, async (tx) => {
    for (const f of partsOfEarlierManifest(outDir)) tx.removeOnCommit(f);
    const splits: ManifestSplit[] = [];
    for (const point of a.splitPoints) {
      const parts = buildParts(a, [point.position], opts);
      const folder = splitFolder(point.index);
      for (const p of parts) await tx.writePart(`${folder}/${p.file}`, p.part);
      splits.push(splitEntry(a, point, parts, folder));
      opts.onSplit?.(point);
    }
    const manifest: Manifest = { ...manifestHeader(a, outDir), splits };
    await tx.write('manifest.json', manifestText(manifest));
    return manifest;
  });
}

/**
 * split_model / multi_split_model: cuts after each named layer, parts part1..part(k+1) in outDir,
 * plus outDir/manifest.json with one entry per cut.
 */
export async function writeSplitAt(a: ModelAnalysis, layers: readonly string[], outDir: string, opts: SplitOptions = {}): Promise<Manifest> {
  if (layers.length === 0) throw new SplitError(`${a.model.label}: no split layer given`, { file: a.model.file });
  const positions = orderedSplitPositions(a.splitPoints, a.index, layers, a.model.label);
  const order = positions.map((p, i) => ({ p, l: layers[i]! }));
  const parts = buildParts(a, positions, opts);
  return OutputTransaction.run(outDir, async (tx) => {
    for (const f of partsOfEarlierManifest(outDir)) tx.removeOnCommit(f);
    for (const p of parts) await tx.writePart(p.file, p.part);
    const splits = order.map(({ p, l }): ManifestSplit => {
      // Positions with the same cut set are one split point, so its cut tensors are this cut's.
      const known = pointAtPosition(a.splitPoints, a.index, p);
      return {
        index: known.index,
        // A split given by its index is named by its layer, as list_layers names it.
        split_layer: splitLayerNamed(a.splitPoints, l),
        cut_tensors: known.cutTensors,
        transfer_bytes: known.transferBytes,
        parts: parts.map((x) => x.file),
        sides: sides(parts),
        edge: known.edge,
        cloud: known.cloud,
      };
    });
    const manifest: Manifest = { ...manifestHeader(a, outDir), splits };
    await tx.write('manifest.json', manifestText(manifest));
    return manifest;
  });
}

/** split_model --cut_file: the parts of a cut given as a node set (or a split point) in outDir, plus manifest.json. */
export async function writeCut(a: ModelAnalysis, point: SplitPoint, outDir: string, opts: SplitOptions = {}): Promise<Manifest> {
  const parts = buildPointParts(a, point, opts);
  return OutputTransaction.run(outDir, async (tx) => {
    for (const f of partsOfEarlierManifest(outDir)) tx.removeOnCommit(f);
    for (const p of parts) await tx.writePart(p.file, p.part);
    const manifest: Manifest = { ...manifestHeader(a, outDir), splits: [splitEntry(a, point, parts, '')] };
    await tx.write('manifest.json', manifestText(manifest));
    return manifest;
  });
}
