/**
 * onnx-manager as a library: load and analyse a model, list its split points, build and write
 * parts, run one split point or a sweep through the edge -> store -> cloud cycle with a given
 * store and backend, and encode or decode payloads. This file only re-exports; the behaviour
 * lives in the modules it names.
 */

// Errors: every error a caller can cause is one of these.
export { FileError, GraphError, OnnxFormatError, OnnxManagerError, SplitError, StoreError, TimeoutError, UnknownSplitError, UsageError, WriteError, messageLine } from './errors.js';
export { RuntimeError } from './runtime/ort.js';
export { SweepError } from './profile/sweep.js';
export { BackendError } from './backends/worker-client.js';
export { CloudRunError } from './runner/cloud.js';
export { PayloadError } from './tensor/payload/index.js';

// Models and their split points.
export { loadModel, modelFromBytes, type LoadedModel } from './onnx/model.js';
export { decodeModel, encodeModel } from './onnx/codec.js';
export { partHash } from './onnx/part-hash.js';
export { analyzeFile, analyzeModel, type AnalyzeOptions, type ModelAnalysis } from './split/analysis.js';
export type { CutTensor, SideCost, SplitPoint } from './split/points.js';
export { randomInputs } from './split/random-inputs.js';

// Parts.
export { buildParts, splitFolder, writeAllSplits, writeSplitAt, type BuiltPart, type SplitOptions } from './split/split.js';
export { bestOffloadingCut, evaluateCut, optimalCut, splitPointEdgeNodes, type CutCosts, type CutEvaluation, type OptimalCut } from './split/min-cut.js';
export { checkClosed, cutFilePoint, edgeNodesFromNames, nodeCutPoint, nodeCutTensors, readCutFile } from './split/node-cut.js';
export type { Manifest, ManifestSplit, ManifestTensor } from './split/manifest.js';
export { planEarlyExits, resolveExits, type EarlyExitPlan, type ExitPart } from './split/early-exit.js';
export { buildEarlyExitParts, earlyExitManifest, writeEarlyExits, type EarlyExitParts } from './split/early-exit-parts.js';
export { readEarlyExitManifest, runEarlyExits, type EarlyExitRun, type RunEarlyExitsOptions } from './split/early-exit-run.js';
export { EARLY_EXIT_MANIFEST_VERSION, type EarlyExit, type EarlyExitManifest, type EarlyExitPart } from './split/early-exit-manifest.js';

// onnxruntime sessions and chaining parts by tensor name.
export { availableProviders, createSession } from './runtime/ort.js';
export { EXEC_TYPES, providerFor, type ProviderChoice } from './runtime/providers.js';
export { runChain, type ChainOptions, type ChainResult } from './runtime/chain.js';
export type { GraphOptimizationLevel, HostTensor, Session, SessionOptions } from './runtime/session.js';
export { randomTensor, zeroTensor, hostTensorBytes } from './tensor/host.js';

// A run: its configuration, the store, the backend, one split point or the sweep.
export { DEFAULTS } from './config/defaults.js';
export { BACKENDS, buildRunConfig, type BackendName, type RunConfig, type RunFlags } from './config/run-config.js';
export { decodeCloudConfig, encodeCloudConfig, type CloudConfig } from './config/cloud-config.js';
export { openStore, openStoreFromEnv, type OpenedStore } from './storage/open.js';
export { startEmbeddedStore, type EmbeddedStore } from './storage/embedded.js';
export { openMinioStore } from './storage/minio-store.js';
export { storeConfigFromEnv, storeKeys, type ObjectStore, type StoreConfig } from './storage/store.js';
export { checkRunId, cleanRuns, removedCount, type CleanResult } from './storage/clean.js';
export { backendModule } from './backends/index.js';
export type { BackendContext, BackendModule, CloudBackend, CloudJob, JobInfo } from './backends/backend.js';
export { startRun, type SplitMeasurement, type StartedRun, type StartRunOptions } from './profile/start-run.js';
export { PreparedSplit, doneKey, maxAbsDiff, plannedReps, runSweep, runsNoCloudPart, type SweepContext, type SweepOptions } from './profile/sweep.js';
export { COLUMNS, type Column, type Row } from './profile/columns.js';
export { CsvAppender, perCodecRows, readRows, summaryPath, writeSummary } from './profile/csv.js';

// Payloads: the envelope of tensors between the edge and the cloud.
export { decodePayload, encodePayload, payloadTensorBytes, PAYLOAD_DTYPES, PAYLOAD_VERSION, type CodedTensor, type DecodeOptions, type Payload } from './tensor/payload/index.js';
export { CodecError, decodeTensors, encodeCodedPayload, encodeTensors, int8Channel, isTensorCodecName, TENSOR_CODECS, tensorCodec, type TensorCodec, type TensorCodecName } from './tensor/codecs/index.js';
export { profileCodecs, PROFILED_CODECS, type CodecProfile, type CodecSpeed, type CodecWire } from './profile/codec-profile.js';
export { top1Agreement } from './profile/top1.js';

// Per-layer profiles of each side (the `profile` operation).
export { DEFAULT_PROFILE_REP, profileModel, type ProfileOptions, type ProfileResult } from './profile/layer-profiler.js';
export { calibrationPoints, cycleCosts, fitCycle, withCycleCosts, type CycleCalibration } from './profile/cycle-calibration.js';
export { measureSide, type SideMeasurement } from './profile/layer-profiler-side.js';
export { cycleMs, cycleScale, readProfile, writeProfile, type LayerProfile, type NodeProfile } from './profile/layer-profile.js';
export { parseTrace, readTrace, type KernelTime, type TracedRun } from './runtime/trace.js';
// Prediction: every split point from a per-layer profile, the store's measured costs and a link; recommendations.
export { cycleTimes, PREDICT_COLUMNS, predictRows, splitFacts, type CycleTimes, type PredictedRow, type SplitFacts } from './predict/predict.js';
export { checkProfile, edgeMemory, predictCompute, profileNodeKey, type EdgeMemory, type SplitCompute } from './predict/model.js';
export { wireBytes, type WireBytes } from './predict/payload-size.js';
export { measureRunStore, measureStoreCosts, NO_STORE_COSTS, type LinearCost, type StoreCosts } from './predict/store-costs.js';
export { checkLink, decadeBandwidths, linkCycleMs, wireMs, type Link } from './predict/link.js';
export { ape, compare, readMeasured, type Comparison, type MeasuredSplit } from './predict/measured.js';
export { crossoverChanges, measuredCandidates, predictedCandidates, recommend, type Candidate, type Constraints, type Recommendation } from './predict/recommend.js';
export { paretoSet } from './predict/pareto.js';
export { dagCutCosts, dagOptimum, payloadEnvelope, type DagOptimum } from './predict/dag.js';

// Pictures and pages: charts of results (vega-lite to SVG, sharp to PNG) and the HTML report.
export { modelFacts, type ModelFacts } from './report/model-facts.js';
export { readResults, readPredicted, predictionsFor, type Predictions, type ResultsFile, type SettingGroup, type SplitStat } from './report/results.js';
export { readRecommendation, type RecommendFile } from './report/recommendation.js';
export { crossoverChartSpec, splitChartSpec, type ChartSpec } from './report/charts.js';
export { renderSvg, svgToPng } from './report/render.js';
export { makeCharts, plotResults, type Chart, type WrittenChart } from './report/plot.js';
export { buildReport, writeReport } from './report/report.js';
// Pictures: the model graph with its split points (show_graph).
export { graphFiles, renderGraph, writeGraph, type GraphPicture } from './report/graph/show-graph.js';
export { modelGraph, type GraphEdge, type GraphNode, type ModelGraph, type SplitMarker } from './report/graph/model-graph.js';
// Conformity of split points with a serverless platform's limits (the `check` operation).
export { checkSplits, LimitsError, type CheckOptions, type CheckResult, type CheckRow, type Failure } from './check/check.js';
export { CHECK_SIDES, LAMBDA_LIMITS, LIMITS_VERSION, memoryQuantityMb, parseLimits, readLimitsFile, type CheckSides, type Limits } from './check/limits.js';
export { oscarServiceLimits, OSCAR_DEFAULT_MEMORY } from './check/oscar-limits.js';
export { MeasureError } from './check/measure.js';
// Quantisation: int8 weights of Conv, ConvTranspose, MatMul and Gemm (the `quant_model` operation), and the comparison with the float model.
export { CONV_PATTERNS, QUANT_TYPES, quantisableNodes, quantiseModel, type ConvPattern, type QuantisableNode, type QuantisedNode, type QuantiseOptions, type QuantiseResult, type QuantType, type SkippedNode } from './quant/quantise.js';
export { dequantiseWeight, quantiseWeight, type QuantisedWeight, type WeightQuantOptions } from './quant/weights.js';
export { compareModels, splitBatch, type CompareOptions, type OutputDeviation, type QuantComparison } from './quant/compare.js';
export { calibrate, type Calibration, type CalibrateOptions } from './quant/calibrate.js';
