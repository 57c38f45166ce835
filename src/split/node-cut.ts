/**
 * Cuts given as a node set. Split points cut one execution order; a DAG has more valid cuts: any
 * set of data-dependent nodes closed under predecessors (no edge node reads a tensor the cloud
 * produces), e.g. two of four Inception branches on the edge. The edge part holds those nodes, the
 * cloud part the rest; the cut tensors are the model inputs and edge outputs a cloud node reads.
 * A cut file is JSON: `{ "edge_nodes": ["node name or output tensor name", ...] }`.
 */
import { readFailure, readRegularFile } from '../files.js';
import { OutputTransaction } from './output.js';
import * as path from 'node:path';
import { contentKind } from '../content-kind.js';
import { SplitError } from '../errors.js';
import type { GraphIndex } from '../onnx/graph.js';
import type { ModelAnalysis } from './analysis.js';
import { closestNames, cutTensor, pointAtPosition, type SideCost, type SplitPoint } from './points.js';

function nodeLabel(index: GraphIndex, n: number): string {
  const node = index.nodes[n]!;
  return node.name ? `'${node.name}' (${node.opType})` : `#${n} (${node.opType})`;
}

/**
 * Throws a one-line SplitError naming an edge node that reads a tensor produced on the cloud side,
 * when `edge` (data-node indices) is not closed under predecessors.
 */
export function checkClosed(index: GraphIndex, edge: ReadonlySet<number>, label: string): void {
  for (const n of index.dataNodes) {
    if (!edge.has(n)) continue;
    for (const r of index.nodeInputs[n]!) {
      const p = index.producer.get(r);
      if (p === undefined || index.constantNode[p] || edge.has(p)) continue;
      throw new SplitError(
        `${label}: the edge nodes are not closed under predecessors: ${nodeLabel(index, n)} reads '${r}' from ${nodeLabel(index, p)}, which is on the cloud side; add it to edge_nodes or move ${nodeLabel(index, n)} to the cloud`,
      );
    }
  }
}

/**
 * The data-dependent nodes named by `names` (node names, or their output tensors as list_layers
 * shows them; model input names are accepted and change nothing, inputs are always on the edge),
 * in execution order, checked closed under predecessors.
 */
export function edgeNodesFromNames(index: GraphIndex, names: readonly string[], label: string): number[] {
  const byName = new Map<string, number>();
  index.nodes.forEach((n, i) => n.name && !byName.has(n.name) && byName.set(n.name, i));
  const edge = new Set<number>();
  for (const name of names) {
    if (index.inputs.includes(name)) continue;
    const node = byName.get(name) ?? index.producer.get(name);
    if (node === undefined) {
      if (index.initializers.has(name) || index.sparseInitializers.has(name)) {
        throw new SplitError(`${label}: edge node '${name}' is a weight (initializer); weights are copied into every part that reads them`);
      }
      const known = [...byName.keys(), ...index.dataNodes.flatMap((n) => (index.nodes[n]!.output ?? []).filter((o) => o))];
      throw new SplitError(`${label}: no node or layer named '${name}'; closest: ${closestNames(name, known).join(', ')}`);
    }
    if (index.constantNode[node]) {
      throw new SplitError(`${label}: edge node '${name}' is computed from weights only (a constant); constants are copied into every part that needs them`);
    }
    edge.add(node);
  }
  checkClosed(index, edge, label);
  return index.dataNodes.filter((n) => edge.has(n));
}

/** Reads a cut file (`{ "edge_nodes": [...] }`) and resolves it against the model. */
export async function readCutFile(file: string, index: GraphIndex, label: string): Promise<number[]> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file);
  } catch (err) {
    throw new SplitError(`cut file ${file}: cannot read it (${readFailure(err)})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    // A model, an image or a CSV given by mistake: named, instead of the parser's quote of its bytes.
    const kind = contentKind(bytes);
    const why = kind !== undefined && kind !== 'a JSON file' && kind !== 'a text file' ? `it looks like ${kind}` : (err as Error).message.replace(/\s+/g, ' ');
    throw new SplitError(`cut file ${file}: not JSON (${why}); expected { "edge_nodes": ["node name", ...] }`, { cause: err });
  }
  const list = (json as { edge_nodes?: unknown } | null)?.edge_nodes;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
    throw new SplitError(`cut file ${file}: expected { "edge_nodes": ["node name", ...] } (a list of node or layer names)`);
  }
  // A key it does not know is a typo or another file's ("cloud_nodes"): said, not ignored.
  const others = Object.keys(json as object).filter((k) => k !== 'edge_nodes');
  if (others.length) throw new SplitError(`cut file ${file}: unknown key${others.length === 1 ? '' : 's'} ${others.map((k) => `'${k}'`).join(', ')}; a cut file holds only { "edge_nodes": ["node name", ...] }`);
  return edgeNodesFromNames(index, list as string[], `${label} (cut file ${file})`);
}

/** Tensors that cross a node cut: model inputs and edge outputs a cloud node reads, in stable order. */
export function nodeCutTensors(index: GraphIndex, edge: ReadonlySet<number>): string[] {
  const readByCloud = (t: string) => (index.consumers.get(t) ?? []).some((c) => !index.constantNode[c] && !edge.has(c));
  const names = index.inputs.filter(readByCloud);
  for (const n of index.dataNodes) {
    if (!edge.has(n)) continue;
    for (const o of index.nodes[n]!.output ?? []) if (o && readByCloud(o)) names.push(o);
  }
  return names;
}

function sideCost(a: ModelAnalysis, nodes: readonly number[]): SideCost {
  const seen = new Set<string>();
  let params = 0;
  let macs = 0;
  for (const n of nodes) {
    macs += a.costs.macs[n]!;
    for (const w of a.costs.weights[n]!) if (!seen.has(w)) (seen.add(w), (params += a.costs.weightElements.get(w) ?? 0));
  }
  return { nodes: nodes.length, params, macs };
}

/**
 * The split point of a node cut (`edgeNodes`: data-node indices, closed under predecessors). A set
 * that is a prefix of the execution order is that split point; any other gets the next index after
 * the split points, `splitLayer` as its name, and carries its node set for building the parts.
 */
export function nodeCutPoint(a: ModelAnalysis, edgeNodes: readonly number[], splitLayer: string): SplitPoint {
  const { index } = a;
  const edge = new Set(edgeNodes);
  checkClosed(index, edge, a.model.label);
  const k = edge.size;
  if (index.dataNodes.slice(0, k).every((n) => edge.has(n))) return { ...pointAtPosition(a.splitPoints, index, k), position: k };
  const cut = nodeCutTensors(index, edge).map((t) => cutTensor(t, a.shapes, a.model.label));
  const edgeList = index.dataNodes.filter((n) => edge.has(n));
  const last = index.nodes[edgeList.at(-1)!]!;
  return {
    index: a.splitPoints.length,
    position: k,
    splitLayer,
    opType: last.opType ?? '',
    cutTensors: cut,
    transferBytes: cut.reduce((s, t) => s + t.bytes, 0),
    edge: sideCost(a, edgeList),
    cloud: sideCost(a, index.dataNodes.filter((n) => !edge.has(n))),
    edgeNodes: edgeList,
  };
}

/** Node names of a node cut's edge side (the output tensor name for a node without a name). */
export function edgeNodeNames(index: GraphIndex, edgeNodes: readonly number[]): string[] {
  return edgeNodes.map((n) => index.nodes[n]!.name || (index.nodes[n]!.output ?? []).find((o) => o) || `#${n}`);
}

/** How the split layer of a cut file's point begins: `cut:<file name>`. */
const CUT_FILE_LAYER = 'cut:';

/** The split point of a cut file: its edge node set, named `cut:<file name>` (or the split point it equals). */
export async function cutFilePoint(a: ModelAnalysis, file: string): Promise<SplitPoint> {
  return nodeCutPoint(a, await readCutFile(file, a.index, a.model.label), `${CUT_FILE_LAYER}${path.basename(file)}`);
}

/** A split point or cut in words: `split 3 (relu_1_out)`, or `the cut of edge.json` for a cut file's that is no split point. */
export function pointWords(p: SplitPoint): string {
  return p.edgeNodes && p.splitLayer.startsWith(CUT_FILE_LAYER) ? `the cut of ${p.splitLayer.slice(CUT_FILE_LAYER.length)}` : `split ${p.index} (${p.splitLayer})`;
}

/** Writes a cut file (`{ "edge_nodes": [...] }`, as cutFilePoint reads it) whole or not at all, making its folder. */
export async function writeCutFile(file: string, edgeNodes: readonly string[]): Promise<void> {
  const full = path.resolve(file);
  await OutputTransaction.run(path.dirname(full), (tx) => tx.write(path.basename(full), `${JSON.stringify({ edge_nodes: edgeNodes }, null, 2)}\n`));
}
