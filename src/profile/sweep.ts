/**
 * The edge -> store -> cloud cycle, and the sweep over split points. For each split point the
 * parts are built in memory, the cloud part is put in the store once by content hash, the edge
 * session is created once, warm-up cycles run unrecorded, then each repetition is one row.
 */
import { performance } from 'node:perf_hooks';
import type { CloudBackend, JobInfo, Prepared } from '../backends/backend.js';
import { messageLine, OnnxManagerError, UsageError } from '../errors.js';
import { partHash } from '../onnx/part-hash.js';
import { runChain } from '../runtime/chain.js';
import type { ProviderChoice } from '../runtime/providers.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import type { ModelAnalysis } from '../split/analysis.js';
import type { SplitPoint } from '../split/points.js';
import { buildPointParts, type BuiltPart } from '../split/split.js';
import type { LinkShape } from '../storage/shaping-proxy.js';
import { storeKeys, type ObjectStore } from '../storage/store.js';
import { encodeCodedPayload } from '../tensor/codecs/tensors.js';
import { top1Agreement } from './top1.js';
import { hostTensorBytes } from '../tensor/host.js';
import { decodePayload, encodePayload, type Payload } from '../tensor/payload/index.js';
import { EDGE_ONLY_BACKEND, emptyRow, ms, transferOnPath, type Row } from './columns.js';
import { preloadParts, putPart, UploadedParts, type PartUploadListener } from './part-preload.js';
import { StoreUnavailableError, untilSteady } from './store-outage.js';
import { waitForResult } from './wait-result.js';

export class SweepError extends OnnxManagerError {}

export interface SweepContext {
  analysis: ModelAnalysis;
  store: ObjectStore;
  backend: CloudBackend;
  createSession: (model: Uint8Array, options: SessionOptions) => Promise<Session>;
  provider: ProviderChoice;
  /** The --exec_type the user gave, for the CSV. */
  execType: string;
  /** Options of the edge sessions (the provider is added). */
  sessionOptions?: SessionOptions;
  feeds: Record<string, HostTensor>;
  runId: string;
  timeoutMs: number;
  warmup: number;
  /** Full-model outputs to compare each result with (max_abs_diff column). */
  expected?: Record<string, HostTensor>;
  /** Leave input/output objects in the store (default: removed, in one request, after each split point). */
  keepObjects?: boolean;
  /** The emulated link the edge's store connections go through, for the rows (bandwidth_mbit, rtt_ms). */
  link?: LinkShape;
  /** Intra-op threads of each side's sessions ('': onnxruntime's default) and whether idle threads spin, for the rows. */
  threads?: { edge_threads: number | ''; cloud_threads: number | ''; spinning: 'on' | 'off' };
  /** Graph optimisation of each session, for the rows. */
  graphOpt?: string;
  /** Cloud parts put in the store before the sweep (sha256 -> upload ms), each taken by the first split point that needs it. */
  uploadedParts?: UploadedParts;
  /** The result keys cycles of this run have used (kept by the sweep). */
  usedKeys?: Set<string>;
  /**
   * Codecs the cut tensors are sent with (--tensor_codec), one row set each; default ['raw']. A
   * split point that runs no cloud part sends nothing: it has one row set, the first codec's.
   */
  tensorCodecs?: readonly string[];
  /** The codec of the cycles in progress (set by the sweep from tensorCodecs). */
  tensorCodec?: string;
  /** The store retry budget (ms) every input payload carries (the backend's requestStoreRetryMs). */
  storeRetryMs?: number;
  /** Hears of each cloud part before it is put in the store (a status line while parts cross the link). */
  onPartUpload?: PartUploadListener;
  /**
   * Ctrl-C: cuts the upload in progress (a cloud part, a cycle's payload) and ends the split point
   * or cycle in progress with the signal's reason; no row is made of it.
   */
  signal?: AbortSignal;
}

/** The input shapes a sweep runs with, as the input_shapes column holds them: name:1x3x224x224;... */
export function inputShapesOf(feeds: Readonly<Record<string, HostTensor>>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name}:${t.dims.join('x')}`)
    .join(';');
}

export interface CycleResult {
  row: Row;
  outputs: Map<string, HostTensor>;
  /** Retries the cloud side made of the store during the cycle (it reported them); the cycle runs again. */
  cloudStoreRetries?: number;
}

/** Largest absolute difference between two float tensors (Infinity on a shape or type mismatch). */
export function maxAbsDiff(a: HostTensor | undefined, b: HostTensor): number {
  if (!a || a.type !== b.type || a.dims.join() !== b.dims.join()) return Infinity;
  const x = a.data as unknown as ArrayLike<number | bigint>;
  const y = b.data as unknown as ArrayLike<number | bigint>;
  let d = 0;
  for (let i = 0; i < y.length; i++) {
    const u = x[i]!;
    const v = y[i]!;
    // Equal values (infinities included, whose difference would be NaN) differ by nothing.
    if (u === v) continue;
    const diff = typeof u === 'bigint' || typeof v === 'bigint' ? (u === v ? 0 : Infinity) : Math.abs((u as number) - (v as number));
    if (Number.isNaN(diff)) {
      if (!(Number.isNaN(u as number) && Number.isNaN(v as number))) return Infinity;
    } else if (diff > d) d = diff;
  }
  return d;
}

/** One split point, ready to run: edge session, cloud parts in the store and loaded. */
export class PreparedSplit {
  /** Store keys this split point's cycles wrote. */
  private readonly written: string[] = [];
  /** The warm-up cycles' time before the recorded ones (for the rows' warmup_ms). */
  private warmupMs = 0;

  private constructor(
    readonly point: SplitPoint,
    readonly edge: Session | undefined,
    readonly cloudModels: string[],
    /** Cut tensor names in payload order. */
    readonly cut: string[],
    readonly edgeLoadMs: number,
    /** undefined: every load of the cloud parts overlapped an outage of the worker's store, so none is reported. */
    readonly cloudLoadMs: number | undefined,
    readonly modelUploadMs: number,
  ) {}

  /**
   * Builds the split point's parts, puts its cloud parts in the store, creates the edge session
   * and has the cloud side load its parts. While the cloud side loads, the edge (idle then) puts
   * the cloud parts of `upcoming` split points in the store (see part-preload.ts). A load during
   * which the worker's store was unavailable is done again, cold, once it is back; the retries of
   * the store seen while preparing go into the first row's store_retries.
   */
  static async prepare(ctx: SweepContext, point: SplitPoint, upcoming: readonly SplitPoint[] = []): Promise<PreparedSplit> {
    const parts = buildPointParts(ctx.analysis, point);
    const external = parts.find((p) => p.part.external);
    if (external) {
      throw new SweepError(`split ${point.index}: ${external.file} keeps its weights in an external data file, which run/run_all cannot send yet`);
    }
    const edgePart: BuiltPart | undefined = parts.find((p) => p.plan.number === 1);
    const cloudParts = parts.filter((p) => p.plan.number !== 1);
    let uploadMs = 0;
    let retries = 0;
    const cloudModels: string[] = [];
    for (const [k, p] of cloudParts.entries()) {
      const bytes = p.part.model.concat();
      const hash = partHash(bytes);
      // Put while the cloud side started (see part-preload.ts): its upload time is this split point's.
      const preloaded = ctx.uploadedParts?.get(hash);
      if (preloaded !== undefined) {
        ctx.uploadedParts!.delete(hash);
        uploadMs += preloaded;
        cloudModels.push(hash);
        continue;
      }
      ctx.onPartUpload?.({ split: point.index, splitLayer: point.splitLayer, part: k + 1, parts: cloudParts.length, bytes: bytes.length });
      const upload = await putPart(ctx.store, hash, bytes, ctx.signal);
      uploadMs += upload.value;
      retries += upload.retries;
      cloudModels.push(hash);
    }
    let edge: Session | undefined;
    let edgeLoadMs = 0;
    if (edgePart) {
      const t0 = performance.now();
      edge = await ctx.createSession(edgePart.part.model.concat(), { ...ctx.sessionOptions, executionProviders: [ctx.provider] });
      edgeLoadMs = performance.now() - t0;
    }
    let cloudLoadMs: number | undefined = 0;
    const restarts = ctx.backend.restarts;
    try {
      if (cloudModels.length > 0) {
        const loading = loadCloudParts(ctx.backend, cloudModels);
        if (upcoming.length > 0) await preloadParts(ctx.analysis, ctx.store, upcoming, loading, (ctx.uploadedParts ??= new UploadedParts()), ctx.onPartUpload, ctx.signal);
        const load = await loading;
        cloudLoadMs = load.ms;
        retries += load.retries;
      }
    } catch (err) {
      await edge?.release();
      throw err;
    }
    const cut = point.cutTensors.map((t) => t.name);
    const prepared = new PreparedSplit(point, edge, cloudModels, cut, edgeLoadMs, cloudLoadMs, uploadMs);
    prepared.loadedAt = ctx.backend.restarts;
    prepared.countedRestarts = restarts ?? 0;
    // What the preloads saw (of this split point's or earlier ones' parts) is counted once, here.
    prepared.loadRetries = retries + (ctx.uploadedParts?.retries ?? 0);
    if (ctx.uploadedParts) ctx.uploadedParts.retries = 0;
    return prepared;
  }

  /** The backend's restart count when the cloud parts were last loaded, and up to which rows counted restarts. */
  private loadedAt?: number;
  private countedRestarts = 0;
  /** Store retries seen while the split point was prepared (or its parts loaded again), for the next recorded row. */
  private loadRetries = 0;

  /**
   * Loads the cloud parts again when the worker was restarted since they were loaded, then runs
   * the sweep's warm-up cycles on the fresh worker, so the cycle run again is as warm as the
   * others (untimed, unrecorded: before the cycle).
   */
  private async reload(ctx: SweepContext): Promise<void> {
    const now = ctx.backend.restarts;
    if (now === undefined || now === this.loadedAt || this.cloudModels.length === 0) return;
    this.loadRetries += (await loadCloudParts(ctx.backend, this.cloudModels)).retries;
    this.loadedAt = ctx.backend.restarts;
    for (let w = 1; w <= ctx.warmup; w++) {
      // A warm-up that fails leaves the cycle itself to fail, and to be run again, as it would.
      // Its objects go with the split point's others when it is done (release).
      await this.cycleOnce(ctx, -w, await this.freshJob(ctx, -w)).catch(() => undefined);
    }
  }

  /**
   * The store keys of repetition `rep`'s cycle (its `attempt`-th run again, each with keys of its
   * own: a worker ended for missing the deadline can still write its late result before it is gone,
   * and that result must not be taken for the new attempt's). A split point measured again in the
   * same run reuses its keys: what the last time left goes first, or the wait would find the old result at once.
   */
  private async freshJob(ctx: SweepContext, rep: number, attempt = 0): Promise<{ inputKey: string; outputKey: string }> {
    const job = this.jobOf(ctx, rep, attempt);
    const used = (ctx.usedKeys ??= new Set());
    if (used.has(job.outputKey)) await ctx.store.remove([job.inputKey, job.outputKey]);
    used.add(job.outputKey);
    return job;
  }

  /**
   * One full cycle; `rep` < 0 marks a warm-up. Failures are returned as rows with status 'error' (or 'timeout').
   * A cycle during which the store retried runs again from its start (store_retries counts the
   * retries); a StoreUnavailableError (the store gone for the whole budget) is thrown.
   */
  async cycle(ctx: SweepContext, rep: number): Promise<CycleResult> {
    let job = await this.freshJob(ctx, rep);
    const discard = async (): Promise<void> => {
      if (this.cloudModels.length > 0) await ctx.store.remove([job.inputKey, job.outputKey]);
    };
    let storeRetries = 0;
    let timeouts = 0;
    for (let attempt = 0; ; attempt++) {
      let result: CycleResult;
      const before = ctx.backend.restarts ?? 0;
      try {
        await this.reload(ctx);
        const steady = await untilSteady(ctx.store, () => this.cycleOnce(ctx, rep, job), discard);
        storeRetries += steady.retries;
        result = steady.value;
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw err;
        ctx.signal?.throwIfAborted();
        result = { row: failedRow(ctx, this.point, rep, err), outputs: new Map() };
      }
      if (result.row.status === 'timeout') timeouts++;
      // An outage of the store that only the cloud side saw is in this cycle's timings as well.
      const cloudRetries = result.cloudStoreRetries ?? 0;
      storeRetries += cloudRetries;
      // A cycle that overlapped a restart of the worker runs again on the fresh one, its parts loaded
      // first; a second deadline missed means the cloud side is too slow for --timeout, not stopped.
      const restarted = (ctx.backend.restarts ?? 0) !== before;
      if ((!restarted && cloudRetries === 0) || attempt >= MAX_RESTART_RERUNS || timeouts >= 2) {
        const now = ctx.backend.restarts ?? 0;
        if (rep >= 0) {
          storeRetries += this.loadRetries;
          this.loadRetries = 0;
        }
        Object.assign(result.row, { store_retries: storeRetries, cloud_restarts: ctx.backend.restarts === undefined ? '' : now - this.countedRestarts });
        // A warm-up's row is not recorded: a restart it saw goes to the next recorded row.
        if (rep >= 0) this.countedRestarts = now;
        return result;
      }
      await discard().catch(() => undefined);
      job = await this.freshJob(ctx, rep, attempt + 1);
    }
  }

  private jobOf(ctx: SweepContext, rep: number, attempt = 0): { inputKey: string; outputKey: string } {
    const codec = ctx.tensorCodec ?? 'raw';
    // Each codec's cycles have their own objects (a result of another codec is never taken for this one's).
    const repKey = `${rep < 0 ? `w${-rep}` : String(rep)}${codec === 'raw' ? '' : `-${codec.replace(/[^A-Za-z0-9]/g, '_')}`}${attempt > 0 ? `-again${attempt}` : ''}`;
    return (
      ctx.backend.jobKeys?.(ctx.runId, this.point.index, repKey) ?? {
        inputKey: storeKeys.input(ctx.runId, this.point.index, repKey),
        outputKey: storeKeys.output(ctx.runId, this.point.index, repKey),
      }
    );
  }

  private async cycleOnce(ctx: SweepContext, rep: number, job: { inputKey: string; outputKey: string }): Promise<CycleResult> {
    const p = this.point;
    const row = splitRow(ctx, p, rep);
    Object.assign(row, {
      edge_load_ms: ms(this.edgeLoadMs),
      cloud_load_ms: this.cloudLoadMs === undefined ? '' : ms(this.cloudLoadMs),
      model_upload_ms: ms(this.modelUploadMs),
      warmup_ms: ms(this.warmupMs),
      backend: this.cloudModels.length > 0 ? ctx.backend.name : EDGE_ONLY_BACKEND,
      status: 'ok',
    });
    let outputs = new Map<string, HostTensor>(Object.entries(ctx.feeds));
    let cloudStoreRetries = 0;
    const t0 = performance.now();
    let tDone = 0;
    try {
      if (this.edge) {
        const edge = await runChain([this.edge], outputs);
        row.edge_ms = ms(edge.partMs[0]!);
        row.edge_cpu_ms = ms(edge.partCpuMs[0]!);
        outputs = edge.tensors;
      } else {
        row.edge_ms = 0;
      }
      if (this.cloudModels.length === 0) {
        Object.assign(row, { transfer_bytes: 0, encode_ms: 0, upload_ms: 0, cloud_ms: 0, download_ms: 0, decode_ms: 0, transfer_ms: 0, wait_ms: 0, result_bytes: 0 });
      } else {
        const tensors = new Map<string, HostTensor>();
        for (const n of this.cut) tensors.set(n, outputs.get(n)!);
        const codec = ctx.tensorCodec ?? 'raw';
        row.tensor_bytes = [...tensors.values()].reduce((s, t) => s + hostTensorBytes(t), 0);
        const payload: Omit<Payload, 'coded'> = {
          kind: 'input',
          runId: ctx.runId,
          splitIndex: p.index,
          rep: Math.max(rep, 0),
          nextModels: this.cloudModels,
          timings: [{ name: 'edge_ms', ms: Number(row.edge_ms) }],
          outputs: ctx.analysis.index.outputs.filter((o) => !outputs.has(o)),
          tensors,
          ...(ctx.storeRetryMs !== undefined ? { storeRetryMs: ctx.storeRetryMs } : {}),
        };
        // A codec's bodies are written straight into the one message buffer that is sent; raw
        // tensors go as chunks viewing the edge's outputs (the store joins them as it sends).
        const codecTiming = { codecMs: 0 };
        const tEnc = performance.now();
        const chunks = codec === 'raw' ? encodePayload(payload) : await encodeCodedPayload(payload, codec, codecTiming);
        const codecMs = codecTiming.codecMs;
        const tUp = performance.now();
        await ctx.store.put(job.inputKey, chunks, ctx.signal);
        const tWait = performance.now();
        await waitForResult(ctx, job);
        const tDown = performance.now();
        const bytes = await ctx.store.get(job.outputKey);
        const tDec = performance.now();
        const result = decodePayload(bytes, { file: job.outputKey });
        const tEnd = performance.now();
        tDone = tEnd;
        Object.assign(row, {
          transfer_bytes: chunks.byteLength,
          result_bytes: bytes.length,
          // The codec's time is part of the edge's encoding.
          encode_ms: ms(tUp - tEnc),
          codec_encode_ms: ms(codecMs),
          upload_ms: ms(tWait - tUp),
          wait_ms: ms(tDown - tWait),
          download_ms: ms(tDec - tDown),
          decode_ms: ms(tEnd - tDec),
        });
        const timing = new Map(result.timings.map((t) => [t.name, t.ms]));
        let cloudUploadMs = 0;
        const cloudTime = (name: string): number | '' => (timing.has(name) ? ms(timing.get(name)!) : '');
        row.cloud_ms = cloudTime('cloud_ms');
        row.cloud_cpu_ms = cloudTime('cloud_cpu_ms');
        // Backends that start a fresh process per job (Kubernetes Jobs, OSCAR) load the part on
        // every job: that cold start is this row's, not the split point's.
        const coldLoad = timing.get('cloud_load_ms') ?? 0;
        if (coldLoad > 0 && rep >= 0) row.cloud_load_ms = ms(coldLoad);
        row.cloud_download_ms = cloudTime('cloud_download_ms');
        row.cloud_decode_ms = cloudTime('cloud_decode_ms');
        row.cloud_encode_ms = cloudTime('cloud_encode_ms');
        row.cloud_codec_decode_ms = cloudTime('cloud_codec_decode_ms');
        if (ctx.backend.jobInfo) {
          const info = await ctx.backend.jobInfo(job).catch(() => ({}) as JobInfo);
          if (info.name !== undefined) row.job_name = info.name;
          if (info.queueS !== undefined) row.job_queue_s = info.queueS;
          if (info.runS !== undefined) row.job_run_s = info.runS;
          if (info.uploadMs !== undefined) {
            row.cloud_upload_ms = ms(info.uploadMs);
            cloudUploadMs = info.uploadMs;
          }
          cloudStoreRetries = info.storeRetries ?? 0;
        }
        row.transfer_ms = ms(
          transferOnPath({
            uploadMs: tWait - tUp,
            waitMs: tDown - tWait,
            downloadMs: tDec - tDown,
            cloudMovesMs: (timing.get('cloud_download_ms') ?? 0) + cloudUploadMs,
            cloudWorkMs: ['cloud_decode_ms', 'cloud_ms', 'cloud_encode_ms'].reduce((a, n) => a + (timing.get(n) ?? 0), 0),
          }),
        );
        // The result counts the retries up to its encoding; the worker's answer, its upload too.
        cloudStoreRetries = Math.max(cloudStoreRetries, timing.get('cloud_store_retries') ?? 0);
        if (result.error) throw new SweepError(`cloud: ${result.error}`);
        for (const [n, t] of result.tensors) outputs.set(n, t);
      }
      row.total_ms = ms((tDone || performance.now()) - t0);
      if (ctx.expected) {
        let worst = 0;
        for (const [name, t] of Object.entries(ctx.expected)) worst = Math.max(worst, maxAbsDiff(outputs.get(name), t));
        row.max_abs_diff = worst;
        const top1 = top1Agreement(outputs, ctx.expected);
        if (top1 !== undefined) row.top1_agreement = top1;
      }
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      ctx.signal?.throwIfAborted();
      row.total_ms = ms(performance.now() - t0);
      row.status = isTimeout(err) ? 'timeout' : 'error';
      row.error = messageLine(err);
      // A worker still on the job would delay the next one.
      if (row.status === 'timeout') ctx.backend.abandon?.(job);
    } finally {
      // Removed together when the split point is done, not between repetitions.
      if (this.cloudModels.length > 0 && !this.written.includes(job.outputKey)) this.written.push(job.inputKey, job.outputKey);
    }
    return cloudStoreRetries > 0 ? { row, outputs, cloudStoreRetries } : { row, outputs };
  }

  /**
   * ctx.warmup unrecorded cycles, then one recorded cycle per repetition, each handed to
   * `onCycle`; stops before the next repetition when `signal` aborts. The caller releases.
   */
  async runReps(ctx: SweepContext, reps: readonly number[], onCycle: (result: CycleResult) => Promise<void> | void, signal?: AbortSignal): Promise<void> {
    const t0 = performance.now();
    for (let w = 1; w <= ctx.warmup; w++) await this.cycle(ctx, -w);
    this.warmupMs = performance.now() - t0;
    for (const r of reps) {
      if (signal?.aborted) break;
      await onCycle(await this.cycle(ctx, r));
    }
  }

  async release(ctx: SweepContext): Promise<void> {
    await this.edge?.release();
    const keys = this.written.splice(0);
    if (!ctx.keepObjects && keys.length > 0) await ctx.store.remove(keys).catch(() => undefined);
  }
}

/** A cycle runs at most this many times more when the worker was restarted, or the cloud side retried the store, during it. */
const MAX_RESTART_RERUNS = 2;

function isTimeout(err: unknown): boolean {
  return err instanceof OnnxManagerError && err.name === 'TimeoutError';
}

/** A load of the cloud parts: its time (undefined when every attempt overlapped an outage) and the store retries the attempts saw. */
interface CloudLoad {
  ms: number | undefined;
  retries: number;
}

/**
 * Loads the cloud parts on the backend. A load during which the worker's store was unavailable
 * holds the outage in its time: it is done again, cold, at most MAX_RESTART_RERUNS times more.
 */
async function loadCloudParts(backend: CloudBackend, models: readonly string[]): Promise<CloudLoad> {
  let retries = 0;
  for (let attempt = 0; ; attempt++) {
    const load = await prepareOnce(backend, models, attempt > 0);
    if (!load.storeRetries) return { ms: load.loadMs, retries };
    retries += load.storeRetries;
    if (attempt >= MAX_RESTART_RERUNS) return { ms: undefined, retries };
  }
}

/** One load; when the worker ended meanwhile (it crashed, or was killed after missing the deadline), once more on the fresh one. */
async function prepareOnce(backend: CloudBackend, models: readonly string[], fresh: boolean): Promise<Prepared> {
  const before = backend.restarts;
  const options = fresh ? { fresh } : {};
  try {
    return await backend.prepare(models, options);
  } catch (err) {
    if (before === undefined || backend.restarts === before) throw err;
    return backend.prepare(models, options);
  }
}

/** The columns every row of a split point starts with. */
function splitRow(ctx: SweepContext, point: SplitPoint, rep: number): Row {
  return Object.assign(emptyRow(), {
    split_index: point.index,
    split_layer: point.splitLayer,
    cut_tensors: point.cutTensors.map((t) => t.name).join(';'),
    tensor_bytes: point.transferBytes,
    rep,
    exec_type: ctx.execType,
    backend: runsNoCloudPart(ctx.analysis, point) ? EDGE_ONLY_BACKEND : ctx.backend.name,
    run_id: ctx.runId,
    tensor_codec: ctx.tensorCodec ?? 'raw',
    bandwidth_mbit: ctx.link?.bandwidthMbit ?? '',
    rtt_ms: ctx.link?.rttMs ?? '',
    model_sha256: ctx.analysis.model.sha256,
    input_shapes: inputShapesOf(ctx.feeds),
    edge_threads: ctx.threads?.edge_threads ?? '',
    cloud_threads: ctx.threads?.cloud_threads ?? '',
    spinning: ctx.threads?.spinning ?? '',
    graph_opt: ctx.graphOpt ?? '',
  });
}

/** A row for a split point that could not be prepared: status timeout when a deadline (--timeout) was missed, else error. */
export function failedRow(ctx: SweepContext, point: SplitPoint, rep: number, err: unknown): Row {
  return Object.assign(splitRow(ctx, point, rep), { status: isTimeout(err) ? 'timeout' : 'error', error: messageLine(err) });
}

export interface SweepOptions {
  /** Split indexes to run (default all). */
  splits?: readonly number[];
  rep: number;
  /** (split_index, rep) pairs already in the results (for --resume). */
  done?: ReadonlySet<string>;
  onRow?: (row: Row) => Promise<void> | void;
  onSplitStart?: (point: SplitPoint) => void;
  /** Stops the sweep after the row in progress (Ctrl-C); what is done stays done. */
  signal?: AbortSignal;
}

/** The key of a (split_index, rep, tensor_codec) row; raw rows keep the key they had before codecs. */
export function doneKey(split: number | string, rep: number | string, codec: string = 'raw'): string {
  return codec === 'raw' || codec === '' ? `${split}/${rep}` : `${split}/${rep}/${codec}`;
}

/** Whether a split point runs no cloud part: every data node on the edge (the edge-only split, or a cut file's node set that takes them all). */
export function runsNoCloudPart(a: ModelAnalysis, point: SplitPoint): boolean {
  return point.position >= a.index.dataNodes.length;
}

/**
 * What a sweep over `codecs` (--tensor_codec, in the order given) measures of a split point: per
 * codec, the repetitions of 0..rep-1 not in `done` (doneKey). A split point that runs no cloud
 * part sends nothing, so the codec cannot change its cycles: it is measured once, under the first
 * codec, and a repetition with a row of any codec (a file from before, or codecs given in another
 * order) is done.
 */
export function plannedReps(a: ModelAnalysis, point: SplitPoint, codecs: readonly string[], rep: number, done?: ReadonlySet<string>): { codec: string; reps: number[] }[] {
  const alone = runsNoCloudPart(a, point);
  const isDone = (r: number, codec: string) => (alone ? codecs : [codec]).some((c) => done?.has(doneKey(point.index, r, c)) ?? false);
  return (alone ? codecs.slice(0, 1) : codecs).map((codec) => ({ codec, reps: Array.from({ length: rep }, (_, r) => r).filter((r) => !isDone(r, codec)) }));
}

/** How many split points ahead the edge puts cloud parts while the cloud side loads the current one. */
const UPCOMING = 2;

/** Runs every requested split point; failed split points become error rows and the sweep goes on. */
/** Refuses, as --rep and --splits are refused, a rep that is no integer >= 1 and a split that is no index of the model's split points. */
function checkSweepOptions(a: ModelAnalysis, opts: SweepOptions): void {
  if (!Number.isInteger(opts.rep) || opts.rep < 1) throw new UsageError(`rep must be an integer >= 1, got ${opts.rep}`);
  const last = a.splitPoints.length - 1;
  for (const i of opts.splits ?? []) {
    if (typeof i !== 'number') throw new UsageError(`splits: '${String(i)}' is no split point index of ${a.model.label}, which has split points 0..${last} (analysis.splitPoints gives each index with its splitLayer)`);
    if (!Number.isInteger(i) || i < 0 || i > last) throw new UsageError(`splits: ${i} is no split point of ${a.model.label}, which has split points 0..${last}`);
  }
}

export async function runSweep(ctx: SweepContext, opts: SweepOptions): Promise<Row[]> {
  checkSweepOptions(ctx.analysis, opts);
  const rows: Row[] = [];
  const wanted = opts.splits ? new Set(opts.splits) : undefined;
  ctx.usedKeys ??= new Set(); // shared by the codecs' contexts
  const points = ctx.analysis.splitPoints
    .filter((point) => !wanted || wanted.has(point.index))
    .map((point) => ({
      point,
      todo: plannedReps(ctx.analysis, point, ctx.tensorCodecs ?? ['raw'], opts.rep, opts.done)
        .map(({ codec, reps }) => ({ ctx: { ...ctx, tensorCodec: codec }, reps }))
        .filter((c) => c.reps.length > 0),
    }))
    .filter((p) => p.todo.length > 0);
  for (const [i, { point, todo }] of points.entries()) {
    if (opts.signal?.aborted) break;
    opts.onSplitStart?.(point);
    let prepared: PreparedSplit | undefined;
    try {
      prepared = await PreparedSplit.prepare(ctx, point, points.slice(i + 1, i + 1 + UPCOMING).map((p) => p.point));
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      ctx.signal?.throwIfAborted();
      for (const c of todo) {
        for (const r of c.reps) {
          const row = failedRow(c.ctx, point, r, err);
          rows.push(row);
          await opts.onRow?.(row);
        }
      }
      continue;
    }
    try {
      for (const c of todo) {
        await prepared.runReps(
          c.ctx,
          c.reps,
          async ({ row }) => {
            rows.push(row);
            await opts.onRow?.(row);
          },
          opts.signal,
        );
      }
    } finally {
      await prepared.release(ctx);
    }
  }
  return rows;
}
