/**
 * quant_model: writes the quantised model and reports its size, its output error against the float
 * model on a batch of samples, and both models' inference time.
 */
import * as path from 'node:path';
import type { GraphOptimizationLevel, SessionOptions } from '../../runtime/session.js';
import { UsageError } from '../../errors.js';
import { checkOutputFile, samePath } from '../../files.js';
import { OutputTransaction } from '../../split/output.js';
import { externalRef, loadModel, type LoadedModel } from '../../onnx/model.js';
import { compareModels, splitBatch, type QuantComparison } from '../../quant/compare.js';
import { calibrate, type Calibration } from '../../quant/calibrate.js';
import { CONV_PATTERNS, QUANT_TYPES, quantiseModel, reducedRange, type ConvPattern, type QuantiseResult, type QuantType } from '../../quant/quantise.js';
import { createSession } from '../../runtime/ort.js';
import type { HostTensor } from '../../runtime/session.js';
import { analyzeModel } from '../../split/analysis.js';
import { randomInputs } from '../../split/random-inputs.js';
import { humanBytes } from '../format.js';
import { inputsFromArgs, type InputArgs } from '../inputs.js';
import { bindImageSizes, parseInputShapes, requireFile } from '../options.js';

export interface QuantModelArgs extends InputArgs {
  onnx_file?: string;
  quant_type?: string;
  per_channel?: boolean;
  fold_batchnorm?: boolean;
  balance_kernels?: boolean;
  reduce_range?: boolean;
  conv_pattern?: string;
  exclude_nodes?: string[];
  calibration_batch?: string;
  output_file?: string;
  input_shape?: string[];
  batch?: number;
  rounds?: number;
  threads?: number;
  graph_opt?: string;
  json?: boolean;
}

/** <dir>/<name>.quant.onnx beside the input. */
export function defaultQuantPath(file: string): string {
  const dir = path.dirname(file);
  return path.join(dir, `${path.basename(file, '.onnx')}.quant.onnx`);
}

function checkArgs(args: QuantModelArgs): { file: string; output: string; quantType: QuantType; convPattern: ConvPattern } {
  const file = requireFile(args.onnx_file, 'onnx_file');
  const quantType = args.quant_type as QuantType;
  if (!QUANT_TYPES.includes(quantType)) throw new UsageError(`--quant_type must be one of ${QUANT_TYPES.join(', ')}, got '${args.quant_type ?? ''}'`);
  const convPattern = (args.conv_pattern ?? 'weight_only') as ConvPattern;
  if (!CONV_PATTERNS.includes(convPattern)) throw new UsageError(`--conv_pattern must be one of ${CONV_PATTERNS.join(', ')}, got '${args.conv_pattern}'`);
  const output = args.output_file ?? defaultQuantPath(file);
  if (samePath(output, file)) throw new UsageError(`--output_file ${output} is the input model; quant_model never writes over it (and compares against it)`);
  if (args.output_file) checkOutputFile(output, 'output_file');
  if (args.reduce_range !== undefined && quantType !== 'QInt8') throw new UsageError(`--reduce_range applies to QInt8 weights only (uint8 weights of --quant_type ${quantType} do not saturate)`);
  return { file, output, quantType, convPattern };
}

/** The samples to compare on: the images or payload given (one sample per first-dimension entry), or seeded random inputs. */
async function samplesFor(model: LoadedModel, args: QuantModelArgs): Promise<{ samples: Record<string, HostTensor>[]; source: string }> {
  const given = await inputsFromArgs(model, args);
  if (given) {
    const source = args.image_batch ? `images of ${args.image_batch}` : args.image_file ? `image ${args.image_file}` : `samples of ${args.input_file}`;
    return { samples: splitBatch(given), source };
  }
  // Each sample has batch 1 (--batch counts the samples here); --image_size_x/y bind a free height and width.
  const inputShapes = parseInputShapes(args.input_shape);
  bindImageSizes(model, { batch: 1, image_size_x: args.image_size_x, image_size_y: args.image_size_y }, inputShapes);
  const a = await analyzeModel(model, { createSession, inputShapes, batch: 1 });
  const n = args.batch ?? 8;
  const seed = args.seed ?? 1;
  // Seeds far enough apart that no two samples share an input tensor's seed.
  const stride = Math.max(1, a.index.inputs.length);
  return { samples: Array.from({ length: n }, (_, k) => randomInputs(a, seed + k * stride)), source: `seeded random samples (seed ${seed})` };
}

/**
 * Whether the comparison runs on the calibration samples: the same folder or payload file as
 * --calibration_batch, or one image of that folder ('all', 'one'); undefined otherwise.
 */
function onCalibration(args: QuantModelArgs): 'all' | 'one' | undefined {
  const from = args.calibration_batch;
  if (from === undefined) return undefined;
  if ((args.image_batch !== undefined && samePath(args.image_batch, from)) || (args.input_file !== undefined && samePath(args.input_file, from))) return 'all';
  if (args.image_file !== undefined && samePath(path.dirname(args.image_file), from)) return 'one';
  return undefined;
}

/** Input moments of the quantisable nodes on --calibration_batch (images, or a payload file). */
async function calibrationFor(model: LoadedModel, args: QuantModelArgs, session: SessionOptions): Promise<{ moments: Calibration; count: number }> {
  const from = args.calibration_batch!;
  const payload = from.endsWith('.pb');
  const feeds = await inputsFromArgs(model, { ...args, input_file: payload ? from : undefined, image_batch: payload ? undefined : from, image_file: undefined });
  const samples = splitBatch(feeds!);
  return { moments: await calibrate(model, samples, { session }), count: samples.length };
}

export interface QuantReport {
  input: string;
  output: string;
  quantType: QuantType;
  perChannel: boolean;
  convPattern: ConvPattern;
  /**
   * Whether the weights of the nodes that run as MatMulInteger or ConvInteger took 7 bits, and
   * why: --reduce_range given, or this machine's CPU lacks VNNI (default).
   */
  reduceRange: { on: boolean; by: 'flag' | 'cpu' };
  bytesBefore: number;
  bytesAfter: number;
  sizeRatio: number;
  quantised: QuantiseResult['quantised'];
  skipped: QuantiseResult['skipped'];
  folded: QuantiseResult['folded'];
  upgrade?: QuantiseResult['upgrade'];
  /** onCalibration: the samples are the calibration samples (all of them, or one). */
  samples: { count: number; source: string; onCalibration?: 'all' | 'one' };
  /** The calibration samples the weights were rounded on, and how many nodes were. */
  calibration?: { count: number; source: string; nodes: number };
  comparison: QuantComparison;
}

/**
 * The quant_model operation. The quantised model is compared under a temporary name beside
 * --output_file and takes its name only once the comparison is done: an interrupt (`signal`) or a
 * failure leaves no output file, finished or not.
 */
export async function quantModel(args: QuantModelArgs, out: (s: string) => void, signal?: AbortSignal): Promise<void> {
  const { file, output, quantType, convPattern } = checkArgs(args);
  const model = await loadModel(file);
  const external = (model.proto.graph?.initializer ?? []).some((t) => externalRef(model, t));
  if (external && path.resolve(path.dirname(output)) !== model.dir) {
    throw new UsageError(`${file} keeps weights in external data files; write the quantised model into the same folder (${model.dir}), where its references resolve`);
  }
  const perChannel = args.per_channel === true;
  const session: { intraOpNumThreads?: number; graphOptimizationLevel?: GraphOptimizationLevel } = {};
  if (args.threads !== undefined) session.intraOpNumThreads = args.threads;
  if (args.graph_opt !== undefined) session.graphOptimizationLevel = args.graph_opt as GraphOptimizationLevel;
  const calibration = args.calibration_batch !== undefined ? await calibrationFor(model, args, session) : undefined;
  signal?.throwIfAborted();
  const result = quantiseModel(model, {
    quantType,
    perChannel,
    convPattern,
    balanceKernels: args.balance_kernels !== false,
    ...(args.reduce_range !== undefined ? { reduceRange: args.reduce_range } : {}),
    ...(args.fold_batchnorm !== undefined ? { foldBatchNorm: args.fold_batchnorm } : {}),
    ...(args.exclude_nodes !== undefined ? { excludeNodes: args.exclude_nodes.map(String) } : {}),
    ...(calibration ? { calibration: calibration.moments } : {}),
  });
  refuseNothingQuantised(model, result);
  const { samples, source } = await samplesFor(model, args);
  const comparison = await OutputTransaction.run(path.dirname(path.resolve(output)), async (tx) => {
    const written = await tx.write(path.basename(output), result.bytes);
    const compared = await compareModels(file, tx.temporaryOf(written), samples, { session, rounds: args.rounds ?? 5, ...(signal ? { signal } : {}) });
    signal?.throwIfAborted();
    return compared;
  });
  const report: QuantReport = {
    input: file,
    output,
    quantType,
    perChannel,
    convPattern,
    reduceRange: { on: reducedRange({ quantType, ...(args.reduce_range !== undefined ? { reduceRange: args.reduce_range } : {}) }), by: args.reduce_range !== undefined ? 'flag' : 'cpu' },
    bytesBefore: model.bytes.length,
    bytesAfter: result.bytes.length,
    sizeRatio: result.bytes.length / model.bytes.length,
    quantised: result.quantised,
    skipped: result.skipped,
    folded: result.folded,
    ...(result.upgrade ? { upgrade: result.upgrade } : {}),
    samples: { count: samples.length, source, ...(onCalibration(args) ? { onCalibration: onCalibration(args)! } : {}) },
    ...(calibration ? { calibration: { count: calibration.count, source: args.calibration_batch!, nodes: result.quantised.filter((q) => q.rounding === 'calibrated').length } } : {}),
    comparison,
  };
  if (args.json) out(JSON.stringify(report, null, 2));
  else for (const line of reportLines(report)) out(line);
}

/** Operators of a model that is quantised already (by this tool, onnxruntime's quantizer or another). */
const QUANTISED_OPS = new Set(['DequantizeLinear', 'QuantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul', 'QGemm']);

/**
 * A run that quantised no node would write a copy of the model under a quantised name and report it
 * as a 1.000x "quantised" model: refused instead, naming why (already quantised, or nothing to quantise).
 */
function refuseNothingQuantised(model: LoadedModel, result: QuantiseResult): void {
  if (result.quantised.length > 0) return;
  const counts = new Map<string, number>();
  for (const n of model.proto.graph?.node ?? []) if (QUANTISED_OPS.has(n.opType ?? '') && (!n.domain || n.domain === 'ai.onnx' || n.domain === 'com.microsoft')) counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1);
  if (counts.size > 0) {
    const ops = [...counts].map(([op, n]) => `${n} ${op}`).join(', ');
    throw new UsageError(`${model.label} is quantised already (${ops}); quant_model takes the float model`, { file: model.file });
  }
  const why = result.skipped.length > 0 ? ` (${result.skipped.length} left as they are; the first: ${result.skipped[0]!.opType} ${result.skipped[0]!.node}, ${result.skipped[0]!.reason})` : '';
  throw new UsageError(`${model.label}: no MatMul, Gemm or Conv with a constant float32 weight to quantise${why}; nothing written`, { file: model.file });
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const num = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 0.01 ? v.toFixed(4) : v.toExponential(2));

export function reportLines(r: QuantReport): string[] {
  const lines: string[] = [];
  const byAs = new Map<string, number>();
  for (const q of r.quantised) byAs.set(`${q.opType} as ${q.as}`, (byAs.get(`${q.opType} as ${q.as}`) ?? 0) + 1);
  const how = [...byAs].map(([k, n]) => `${n} ${k}`).join(', ');
  lines.push(`quantised ${r.quantised.length} node(s) to ${r.quantType}${r.perChannel ? ' per channel' : ' per tensor'}: ${how || 'none'}`);
  for (const s of r.skipped) lines.push(`  left as float: ${s.opType} ${s.node} (${s.reason})`);
  const integer = r.quantised.filter((q) => q.as === 'MatMulInteger' || q.as === 'ConvInteger').length;
  if (integer > 0 && r.quantType === 'QInt8') {
    const why = r.reduceRange.by === 'flag' ? (r.reduceRange.on ? '--reduce_range' : '--no-reduce_range') : r.reduceRange.on ? 'this CPU has no VNNI, and its int8 kernels would saturate with 8' : 'this CPU has VNNI';
    const hint = r.reduceRange.by === 'cpu' ? (r.reduceRange.on ? '' : '; give --reduce_range if the model will run on an x86-64 CPU without VNNI') : '';
    lines.push(`weights of the ${integer} node(s) run as MatMulInteger or ConvInteger take ${r.reduceRange.on ? '7 bits ([-63, 63])' : '8 bits ([-127, 127])'}: ${why}${hint}`);
  }
  if (r.calibration) lines.push(`rounded the weights of ${r.calibration.nodes} node(s) on ${r.calibration.count} calibration samples of ${r.calibration.source} (GPTQ)`);
  if (r.folded.length > 0) lines.push(`folded ${r.folded.length} BatchNormalization node(s) into the Conv before them`);
  if (r.upgrade) lines.push(`moved from opset ${r.upgrade.from} to 11 for DynamicQuantizeLinear; rewrote ${r.upgrade.rewritten.length} node(s) whose signature changed`);
  lines.push(`wrote ${r.output}: ${humanBytes(r.bytesBefore)} -> ${humanBytes(r.bytesAfter)} (${r.sizeRatio.toFixed(3)}x, ${r.bytesBefore} -> ${r.bytesAfter} bytes)`);
  const c = r.comparison;
  lines.push(`compared on ${r.samples.count} ${r.samples.source}:`);
  for (const o of c.outputs) {
    const top1 = o.top1Agreement === undefined ? '' : `, top-1 agreement ${pct(o.top1Agreement)} (${Math.round(o.top1Agreement * o.rows)}/${o.rows})`;
    lines.push(`  ${o.name}: max abs diff ${num(o.maxAbs)}, mean abs diff ${num(o.meanAbs)}, relative L2 ${pct(o.relL2)}${top1}`);
  }
  if (r.samples.onCalibration && r.calibration) {
    const which = r.samples.onCalibration === 'all' ? 'the calibration samples' : 'a calibration sample';
    lines.push(`note: compared on ${which} (--calibration_batch ${r.calibration.source}): the error on other inputs is likely larger; give other samples with --image_batch or --input_file`);
  }
  const t = c.timing;
  lines.push(`inference, median of ${t.runs} warm runs of one sample: float ${t.floatMs.toFixed(2)} ms, quantised ${t.quantMs.toFixed(2)} ms (${(t.floatMs / t.quantMs).toFixed(2)}x speed)`);
  return lines;
}
