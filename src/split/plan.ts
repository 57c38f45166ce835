/**
 * Part plans: which nodes, inputs and outputs each part of a split has, for one or several cuts.
 * Part i holds the data-dependent nodes between cut i-1 and cut i plus every constant node they
 * need (constants are recomputed in each part, never transferred). A part's inputs are model
 * inputs or outputs of earlier parts; its outputs are what later parts read plus the model
 * outputs it produces. Empty parts (a cut at either end) are left out.
 */
import { SplitError } from '../errors.js';
import type { GraphIndex } from '../onnx/graph.js';
import type { PartSpec } from './assemble.js';

export interface PlannedPart extends PartSpec {
  /** 1-based number of the segment between cuts; parts left out leave gaps (part2 alone is cloud only). */
  number: number;
}

/** Constant nodes a node needs, transitively (memoised per tensor). */
function constantClosure(index: GraphIndex): (node: number) => number[] {
  const memo = new Map<string, number[]>();
  const viaTensor = (t: string): number[] => {
    const hit = memo.get(t);
    if (hit) return hit;
    const p = index.producer.get(t);
    let res: number[] = [];
    if (p !== undefined && index.constantNode[p]) {
      const acc = new Set<number>([p]);
      for (const r of index.nodeInputs[p]!) for (const c of viaTensor(r)) acc.add(c);
      res = [...acc];
    }
    memo.set(t, res);
    return res;
  };
  return (node) => {
    const acc = new Set<number>();
    for (const r of index.nodeInputs[node]!) if (index.constantTensors.has(r)) for (const c of viaTensor(r)) acc.add(c);
    return [...acc];
  };
}

const closures = new WeakMap<GraphIndex, (node: number) => number[]>();

/**
 * Plans the parts for cuts at the given positions (numbers of data-dependent nodes before each
 * cut, ascending, each in 0..m).
 */
export function planParts(index: GraphIndex, positions: readonly number[], graphName = 'part'): PlannedPart[] {
  const m = index.dataNodes.length;
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    if (!Number.isInteger(p) || p < 0 || p > m) throw new SplitError(`cut position ${p} is outside 0..${m}`);
    if (i > 0 && p <= positions[i - 1]!) throw new SplitError('split layers must be distinct and in execution order');
  }
  let closure = closures.get(index);
  if (!closure) closures.set(index, (closure = constantClosure(index)));

  const bounds = [0, ...positions, m];
  const segmentOf = new Int32Array(index.nodes.length).fill(-1);
  for (let s = 0; s + 1 < bounds.length; s++) {
    for (let k = bounds[s]!; k < bounds[s + 1]!; k++) segmentOf[index.dataNodes[k]!] = s;
  }
  // The last segment with nodes produces any model output computed from weights alone.
  let lastSegment = bounds.length - 2;
  while (lastSegment > 0 && bounds[lastSegment]! === bounds[lastSegment + 1]!) lastSegment--;
  const producedIn = (t: string): number => {
    const p = index.producer.get(t);
    return p === undefined ? -1 : segmentOf[p]!;
  };
  // Latest segment that reads each data tensor.
  const lastReader = new Map<string, number>();
  for (const n of index.dataNodes) {
    for (const r of index.nodeInputs[n]!) {
      if (index.constantTensors.has(r)) continue;
      lastReader.set(r, Math.max(lastReader.get(r) ?? -1, segmentOf[n]!));
    }
  }
  const modelOutputs = new Set(index.outputs);

  const parts: PlannedPart[] = [];
  for (let s = 0; s <= lastSegment; s++) {
    const data = index.dataNodes.slice(bounds[s]!, bounds[s + 1]!);
    if (data.length === 0) continue;
    const nodeSet = new Set<number>(data);
    for (const n of data) for (const c of closure(n)) nodeSet.add(c);
    // Model outputs computed from weights alone are produced by the last part.
    if (s === lastSegment) {
      for (const o of index.outputs) {
        const p = index.producer.get(o);
        if (p !== undefined && index.constantNode[p]) {
          nodeSet.add(p);
          for (const r of index.nodeInputs[p]!) for (const c of closureOfTensor(index, closure, r)) nodeSet.add(c);
        }
      }
    }
    const nodes = [...nodeSet].sort((a, b) => index.position[a]! - index.position[b]!);

    const inputs: string[] = [];
    const seen = new Set<string>();
    for (const n of data) {
      for (const r of index.nodeInputs[n]!) {
        if (index.constantTensors.has(r) || seen.has(r)) continue;
        seen.add(r);
        if (producedIn(r) !== s) inputs.push(r);
      }
    }
    const inputOrder = (t: string) => {
      const i = index.inputs.indexOf(t);
      return i >= 0 ? i - index.inputs.length : index.position[index.producer.get(t)!]!;
    };
    inputs.sort((a, b) => inputOrder(a) - inputOrder(b));

    const outputs: string[] = [];
    for (const n of data) {
      for (const o of index.nodes[n]!.output ?? []) {
        if (!o) continue;
        if ((lastReader.get(o) ?? -1) > s || modelOutputs.has(o)) outputs.push(o);
      }
    }
    if (s === lastSegment) {
      for (const o of index.outputs) if (index.constantTensors.has(o) && !outputs.includes(o)) outputs.push(o);
    }
    parts.push({ number: s + 1, name: `${graphName}${s + 1}`, nodes, inputs, outputs });
  }
  return parts;
}

function closureOfTensor(index: GraphIndex, closure: (node: number) => number[], t: string): number[] {
  const p = index.producer.get(t);
  if (p === undefined || !index.constantNode[p]) return [];
  return [p, ...closure(p)];
}
