/**
 * early_exit_split_model: the parts of an early-exit plan (early-exit.ts) built in memory by the
 * part assembler, and written with their manifest (early-exit-manifest.ts) all or nothing.
 */
import type { ModelAnalysis } from './analysis.js';
import { assemblePart } from './assemble.js';
import { EARLY_EXIT_MANIFEST_VERSION, type EarlyExitManifest, type EarlyExitPart } from './early-exit-manifest.js';
import { planEarlyExits, type EarlyExitPlan } from './early-exit.js';
import { manifestHeader, manifestText, partsOfEarlierManifest } from './manifest.js';
import { OutputTransaction } from './output.js';
import { cutTensor } from './points.js';
import type { BuiltPart, SplitOptions } from './split.js';

export interface EarlyExitParts {
  plan: EarlyExitPlan;
  /** One built part per plan part, in execution order, named part1.onnx, part2.onnx, ... */
  parts: BuiltPart[];
}

/** Plans and builds, in memory, the parts for the exit tensors `exits` (shallowest first). */
export function buildEarlyExitParts(a: ModelAnalysis, exits: readonly string[], opts: SplitOptions = {}): EarlyExitParts {
  const plan = planEarlyExits(a.index, exits, a.model.label);
  const parts = plan.parts.map((p, i): BuiltPart => {
    const file = `part${i + 1}.onnx`;
    const named = { ...p.plan, number: i + 1, name: `part${i + 1}` };
    const options = { shapes: a.shapes, dataLocation: `${file}.data`, ...(opts.externalThreshold !== undefined ? { externalThreshold: opts.externalThreshold } : {}) };
    return { plan: named, file, part: assemblePart(a.model, a.index, named, options) };
  });
  return { plan, parts };
}

/** The manifest of built early-exit parts; `manifestDir` is where it goes (the model path is relative to it). */
export function earlyExitManifest(a: ModelAnalysis, built: EarlyExitParts, manifestDir: string): EarlyExitManifest {
  const { plan, parts } = built;
  const label = a.model.label;
  const producedBy = new Map<string, string>();
  for (const p of parts) for (const o of p.plan.outputs) producedBy.set(o, p.file);
  const exitSet = new Set(plan.exits);
  const entries = parts.map((p, i): EarlyExitPart => {
    const readers = (t: string) => parts.slice(i + 1).filter((q) => q.plan.inputs.includes(t)).map((q) => q.file);
    return {
      file: p.file,
      exits: plan.parts[i]!.exits.map((e) => plan.exits[e]!),
      nodes: plan.parts[i]!.dataNodes.length,
      constant_nodes: p.plan.nodes.length - plan.parts[i]!.dataNodes.length,
      inputs: p.plan.inputs.map((t) => ({ ...cutTensor(t, a.shapes, label), from: producedBy.get(t) ?? 'input' })),
      outputs: p.plan.outputs.map((t) => ({ ...cutTensor(t, a.shapes, label), to: readers(t), exit: exitSet.has(t) })),
      bytes: p.part.model.byteLength + (p.part.external?.byteLength ?? 0),
    };
  });
  return {
    manifest_version: EARLY_EXIT_MANIFEST_VERSION,
    ...manifestHeader(a, manifestDir),
    splits: [],
    early_exit: {
      exits: plan.exits.map((name, e) => ({
        ...cutTensor(name, a.shapes, label),
        part: producedBy.get(name)!,
        parts: plan.exitParts[e]!.map((i) => parts[i]!.file),
        nodes: plan.exitNodes[e]!.length,
      })),
      parts: entries,
    },
  };
}

/**
 * early_exit_split_model: part1.onnx ... partN.onnx and manifest.json in `outDir`, every file
 * under a temporary name until all are complete (nothing is left behind on failure).
 */
export async function writeEarlyExits(a: ModelAnalysis, exits: readonly string[], outDir: string, opts: SplitOptions = {}): Promise<EarlyExitManifest> {
  const built = buildEarlyExitParts(a, exits, opts);
  const manifest = earlyExitManifest(a, built, outDir);
  return OutputTransaction.run(outDir, async (tx) => {
    for (const f of partsOfEarlierManifest(outDir)) tx.removeOnCommit(f);
    for (const p of built.parts) await tx.writePart(p.file, p.part);
    await tx.write('manifest.json', manifestText(manifest));
    return manifest;
  });
}
