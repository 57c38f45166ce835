/**
 * Everything the split engine derives from a model once: graph index, shapes, costs, split points.
 */
import { UsageError } from '../errors.js';
import { indexGraph, type GraphIndex } from '../onnx/graph.js';
import { loadModel, type LoadedModel } from '../onnx/model.js';
import type { TensorInfo } from '../onnx/shapes.js';
import { inferShapes, refusedByRuntime, type ShapeOptions } from './shape-probe.js';
import { computeCosts, type NodeCosts } from './costs.js';
import { findSplitPoints, type SplitPoint } from './points.js';

export interface ModelAnalysis {
  model: LoadedModel;
  index: GraphIndex;
  shapes: Map<string, TensorInfo>;
  costs: NodeCosts;
  splitPoints: SplitPoint[];
}

export type AnalyzeOptions = ShapeOptions;

export async function analyzeModel(model: LoadedModel, options: AnalyzeOptions): Promise<ModelAnalysis> {
  checkOptions(options, 'analyzeModel');
  const index = indexGraph(model.proto.graph!, model.label);
  const shapes = await inferShapes(model, index, options);
  await checkLoads(model, options.createSession);
  const costs = computeCosts(index, shapes);
  const splitPoints = findSplitPoints(index, shapes, costs, model.label);
  return { model, index, shapes, costs, splitPoints };
}

/** A caller from JavaScript can leave out what the types require: said before anything is read. */
function checkOptions(options: AnalyzeOptions | undefined, fn: string): void {
  if (typeof options?.createSession !== 'function') {
    throw new UsageError(`${fn} needs options.createSession, the session maker its shape runs use: pass { createSession } imported from 'onnx-manager'`);
  }
}

/**
 * onnxruntime must load the whole model: one it refuses (an unknown operator or opset, types
 * that do not fit) is neither listed nor split. A model with external data is checked when its
 * parts are loaded instead.
 */
async function checkLoads(model: LoadedModel, createSession: AnalyzeOptions['createSession']): Promise<void> {
  if ((model.proto.graph?.initializer ?? []).some((t) => t.dataLocation === 1)) return;
  let session;
  try {
    session = await createSession(model.bytes, { graphOptimizationLevel: 'disabled', enableCpuMemArena: false });
  } catch (err) {
    throw refusedByRuntime(model.label, err);
  }
  await session.release();
}

export async function analyzeFile(file: string, options: AnalyzeOptions): Promise<ModelAnalysis> {
  checkOptions(options, 'analyzeFile');
  return analyzeModel(await loadModel(file), options);
}
