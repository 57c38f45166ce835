/**
 * Which of the model's own nodes each kernel onnxruntime ran stands for. With graph optimisation
 * on, onnxruntime fuses nodes (Conv+BatchNormalization+Relu), folds constant subgraphs, drops
 * Identity-like nodes and rewrites convolutions into its NCHWc layout with new node and tensor
 * names. The optimised model it writes (optimizedModelFilePath) keeps the names of the tensors it
 * did not replace; an NCHWc node is named after the original tensor it computes (`<tensor>_nchwc`),
 * a fused node often after the original node it ends in (`<node>/QuickGeluFusion/`).
 *
 * Each optimised node gets its anchors: the original tensors it produces (by output name, by
 * its NCHWc name, or the outputs of the original node of the same name). It covers the original nodes found walking back from its anchors through
 * tensors that no longer exist in the optimised graph, up to tensors it still has or that another
 * optimised node anchors. A node with no anchor (a layout reorder feeding a renamed tensor)
 * covers what its consumers cover. Original nodes no kernel covers were folded into constants
 * when the session loaded, or are constants themselves: they cost nothing per run.
 */
import type { GraphProto, ModelProto } from '../onnx/types.js';

const NCHWC_SUFFIX = '_nchwc';
const FUSION_SUFFIX = /\/\w*Fusion\/?$/;

export interface KernelCover {
  /** The optimised node's name (the trace's `<node>_kernel_time`). */
  node: string;
  /** Original nodes (by name) whose work the kernel does. */
  covers: string[];
  /** True for a node without anchors (a layout reorder): it covers what the nodes reading its outputs cover. */
  shared: boolean;
}

/** Node names of a graph, made unique and non-empty the way the profile names them. */
export function nodeNames(graph: GraphProto): string[] {
  const seen = new Set<string>();
  return (graph.node ?? []).map((n, i) => {
    let name = n.name || `${n.opType}_${i}`;
    while (seen.has(name)) name = `${name}_${i}`;
    seen.add(name);
    return name;
  });
}

export function coverKernels(original: ModelProto, optimised: ModelProto): KernelCover[] {
  const og = original.graph!;
  const names = nodeNames(og);
  const originalByName = new Map(names.map((n, i) => [n, i]));
  const producer = new Map<string, number>();
  (og.node ?? []).forEach((n, i) => (n.output ?? []).forEach((t) => t && producer.set(t, i)));

  const opt = optimised.graph!;
  const optNodes = opt.node ?? [];
  const present = new Set<string>();
  for (const t of opt.input ?? []) present.add(t.name!);
  for (const t of opt.initializer ?? []) present.add(t.name!);
  for (const n of optNodes) for (const t of [...(n.input ?? []), ...(n.output ?? [])]) if (t) present.add(t);

  const anchors = optNodes.map((n) => {
    const own = (n.output ?? []).filter((t) => producer.has(t));
    if (own.length) return own;
    const name = n.name ?? '';
    const base = name.endsWith(NCHWC_SUFFIX) ? name.slice(0, -NCHWC_SUFFIX.length) : name;
    if (producer.has(base)) return [base];
    // A node kept under its own name whose outputs were renamed (an Add between NCHWc tensors),
    // or a fusion named after the original node it ends in (`<node>/QuickGeluFusion/`).
    const same = originalByName.get(name) ?? originalByName.get(name.replace(FUSION_SUFFIX, ''));
    return same !== undefined ? (og.node![same]!.output ?? []).filter(Boolean) : [];
  });
  const stop = new Set<string>([...present, ...anchors.flat()]);

  const walk = (from: readonly string[]): number[] => {
    const found = new Set<number>();
    const stack = [...from];
    const visited = new Set<string>();
    while (stack.length) {
      const t = stack.pop()!;
      if (visited.has(t)) continue;
      visited.add(t);
      const p = producer.get(t);
      if (p === undefined || found.has(p)) continue;
      found.add(p);
      for (const i of og.node![p]!.input ?? []) if (i && !stop.has(i)) stack.push(i);
    }
    return [...found];
  };
  const own = anchors.map((a) => walk(a));

  // Nodes without anchors take over what the nodes reading their outputs cover.
  const consumers = new Map<string, number[]>();
  optNodes.forEach((n, k) => (n.input ?? []).forEach((t) => t && (consumers.get(t) ?? consumers.set(t, []).get(t)!).push(k)));
  const resolved = new Map<number, number[]>();
  const coverOf = (k: number, depth = 0): number[] => {
    const hit = resolved.get(k);
    if (hit) return hit;
    let c = own[k]!;
    if (c.length === 0 && depth < optNodes.length) {
      const acc = new Set<number>();
      for (const t of optNodes[k]!.output ?? []) for (const j of consumers.get(t) ?? []) for (const x of coverOf(j, depth + 1)) acc.add(x);
      c = [...acc];
    }
    resolved.set(k, c);
    return c;
  };
  const optNames = nodeNames(opt);
  return optNodes.map((_, k) => ({ node: optNames[k]!, covers: coverOf(k).sort((a, b) => a - b).map((i) => names[i]!), shared: own[k]!.length === 0 }));
}

/**
 * Splits each kernel's time over the original nodes it covers, in proportion to `weight` (their
 * MACs); where all covered weights are 0, equally. Returns ms per original node; the total equals
 * the kernels' total, except for kernels that cover nothing (returned in `unattributedMs`).
 */
export function distribute(
  kernels: readonly { node: string; ms: number }[],
  covers: ReadonlyMap<string, readonly string[]>,
  weight: (node: string) => number,
): { ms: Map<string, number>; unattributedMs: number } {
  const ms = new Map<string, number>();
  let unattributedMs = 0;
  for (const k of kernels) {
    const c = covers.get(k.node) ?? [];
    if (c.length === 0) {
      unattributedMs += k.ms;
      continue;
    }
    const w = c.map(weight);
    const total = w.reduce((a, b) => a + b, 0);
    c.forEach((n, i) => ms.set(n, (ms.get(n) ?? 0) + (total > 0 ? (k.ms * w[i]!) / total : k.ms / c.length)));
  }
  return { ms, unattributedMs };
}
