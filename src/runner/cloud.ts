/**
 * The cloud runner: takes an input payload, runs the model part(s) it names (fetched by content
 * hash and kept warm), and returns a result payload with its own timings, measured on its clock.
 * An input that asks for a profile (payload.profile) gets the measurement of its one part instead
 * (layer-profiler-side.ts), with the same session options: every backend's jobs answer it; the
 * coded tensors such a request carries are decode samples, timed here (profile/codec-decode.ts).
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { messageLine, OnnxManagerError } from '../errors.js';
import { partHash } from '../onnx/part-hash.js';
import { runChain } from '../runtime/chain.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import { decodeTensors } from '../tensor/codecs/tensors.js';
import type { Payload } from '../tensor/payload/index.js';
import type { CodedTensor } from '../tensor/payload/types.js';
import { isCodecSample, measureCodecDecode } from '../profile/codec-decode.js';

export class CloudRunError extends OnnxManagerError {}

/** Where the runner gets model parts from, by sha256 of their bytes. */
export interface ModelSource {
  get(sha256: string): Promise<Uint8Array>;
}

interface Loaded {
  session: Session;
  loadMs: number;
}

export interface CloudRunnerOptions {
  session?: SessionOptions;
  /** Sessions kept warm (least recently used are released). Default 4. */
  keepWarm?: number;
}

export class CloudRunner {
  private readonly sessions = new Map<string, Promise<Loaded>>();

  constructor(
    private readonly source: ModelSource,
    private readonly createSession: (model: Uint8Array, options: SessionOptions) => Promise<Session>,
    private readonly options: CloudRunnerOptions = {},
  ) {}

  /** Loads a part (fetch, check its hash, create the session) unless it is warm; returns the cold-start time spent now. */
  async load(sha256: string): Promise<{ session: Session; loadMs: number; cold: boolean }> {
    const warm = this.sessions.get(sha256);
    if (warm) {
      // Most recently used goes last.
      this.sessions.delete(sha256);
      this.sessions.set(sha256, warm);
      return { ...(await warm), cold: false, loadMs: 0 };
    }
    const loading = (async (): Promise<Loaded> => {
      const t0 = performance.now();
      const bytes = await this.fetch(sha256);
      const session = await this.createSession(bytes, this.options.session ?? {});
      return { session, loadMs: performance.now() - t0 };
    })();
    this.sessions.set(sha256, loading);
    loading.catch(() => this.sessions.delete(sha256));
    await this.evict();
    const l = await loading;
    return { ...l, cold: true };
  }

  /** Releases a part's warm session, so that the next load of it is cold again (and timed). */
  async unload(sha256: string): Promise<void> {
    const warm = this.sessions.get(sha256);
    if (!warm) return;
    this.sessions.delete(sha256);
    await warm.then((l) => l.session.release()).catch(() => undefined);
  }

  /** A part's bytes from the source, checked against its hash. */
  private async fetch(sha256: string): Promise<Uint8Array> {
    const bytes = await this.source.get(sha256);
    const actual = partHash(bytes);
    if (actual !== sha256) throw new CloudRunError(`model part ${sha256.slice(0, 12)}… has the wrong content (sha256 ${actual.slice(0, 12)}…)`);
    return bytes;
  }

  private async evict(): Promise<void> {
    const keep = this.options.keepWarm ?? 4;
    while (this.sessions.size > keep) {
      const [oldest, p] = this.sessions.entries().next().value as [string, Promise<Loaded>];
      this.sessions.delete(oldest);
      await p.then((l) => l.session.release()).catch(() => undefined);
    }
  }

  /**
   * The sessions of the parts in order, each loaded only when asked for, that is when the one
   * before it has run (so a chain longer than keepWarm never releases a part it still needs).
   */
  private async *partSessions(hashes: readonly string[], loaded: (ms: number) => void, unread?: Unread): AsyncGenerator<Session> {
    for (const [i, hash] of hashes.entries()) {
      const l = await this.load(hash);
      loaded(l.loadMs);
      for (const name of l.session.inputNames) unread?.names.delete(name);
      // Every part's inputs are known once the last one is loaded: a tensor none of them reads is
      // refused before it runs (after a tensor a part lacks, which runChain names).
      const complete = l.session.inputNames.every((n) => unread?.available.has(n));
      if (unread?.names.size && i === hashes.length - 1 && complete) throw new CloudRunError(unreadMessage(unread));
      if (unread) for (const name of l.session.outputNames) unread.available.add(name);
      yield l.session;
    }
  }

  /**
   * Runs the parts named by the payload in order on its tensors. The result carries the model
   * outputs the payload asks for (else every tensor the parts produced that no later part
   * consumed), and the cloud's timings.
   */
  async process(input: Payload, received: { downloadMs?: number; decodeMs?: number } = {}, route: ProcessRoute = {}): Promise<Payload> {
    checkInput(input);
    const timings: { name: string; ms: number }[] = [];
    if (received.downloadMs !== undefined) timings.push({ name: 'cloud_download_ms', ms: received.downloadMs });
    // Coded tensors are decoded (and a body that does not decode refused) before any part runs;
    // their decoding is part of the cloud's decode time.
    // A profile request's decode samples are timed by the profile, not decoded as inputs.
    const samples = input.profile ? new Map([...(input.coded ?? [])].filter(([name]) => isCodecSample(name))) : new Map<string, CodedTensor>();
    const coded = samples.size ? new Map([...input.coded!].filter(([name]) => !samples.has(name))) : input.coded;
    const tCodec = performance.now();
    const tensors = await decodeTensors({ tensors: input.tensors, ...(coded ? { coded } : {}) });
    const codecMs = performance.now() - tCodec;
    if (received.decodeMs !== undefined) timings.push({ name: 'cloud_decode_ms', ms: received.decodeMs + codecMs });
    if (coded?.size) timings.push({ name: 'cloud_codec_decode_ms', ms: codecMs });
    if (input.profile) return this.profile(input, input.profile, tensors, timings, samples);
    let loadMs = 0;
    const parts = input.nextModels.length;
    // What the payload carries must be read by a part, returned as an output, or handed on to a later stage.
    const keep = new Set([...(input.outputs ?? []), ...(route.forwarded ?? [])]);
    const unread: Unread = { names: new Set([...tensors.keys()].filter((n) => !keep.has(n))), available: new Set(tensors.keys()), forwarding: route.forwarded !== undefined };
    const run = await runChain(this.partSessions(input.nextModels, (ms) => (loadMs += ms), unread), tensors, {
      missing: (name, part) => new CloudRunError(`part ${part} of ${parts} needs tensor '${name}', which the payload does not carry`),
    });
    let cloudMs = 0;
    for (const [i, ms] of run.partMs.entries()) {
      cloudMs += ms;
      timings.push({ name: `cloud_part${i + 1}_ms`, ms });
    }
    // The CPU time of this process during the parts' runs (the edge reads it as cloud_cpu_ms).
    const cloudCpuMs = run.partCpuMs.reduce((s, c) => s + c, 0);
    timings.push({ name: 'cloud_load_ms', ms: loadMs }, { name: 'cloud_ms', ms: cloudMs }, { name: 'cloud_cpu_ms', ms: cloudCpuMs });
    // The payload names the model outputs to return when it knows them (a model output that a
    // later part also reads would otherwise look like an intermediate tensor).
    let result = run.produced;
    if (input.outputs?.length) {
      result = new Map();
      for (const name of input.outputs) {
        const t = run.tensors.get(name);
        if (!t) throw new CloudRunError(`the parts did not produce model output '${name}'`);
        result.set(name, t);
      }
    }
    return { ...resultHeader(input), timings, tensors: result };
  }

  /** The answer to a profile request: its one part measured here (sessions of its own, not the warm ones). */
  private async profile(input: Payload, request: { rep: number; warmup: number }, tensors: Map<string, HostTensor>, timings: Payload['timings'], samples: ReadonlyMap<string, CodedTensor>): Promise<Payload> {
    if (input.nextModels.length !== 1) throw new CloudRunError(`a profile request names ${input.nextModels.length} model parts; it profiles exactly one`);
    const bytes = await this.fetch(input.nextModels[0]!);
    // Imported here: a job that runs parts never loads the profiler's code (start-up time).
    const { measureSide } = await import('../profile/layer-profiler-side.js');
    const measurement = await measureSide(this.createSession, bytes, this.options.session ?? {}, Object.fromEntries(tensors), { rep: request.rep, warmup: request.warmup });
    if (samples.size) measurement.codecDecode = await measureCodecDecode(samples);
    return { ...resultHeader(input), timings, tensors: new Map(), profileJson: JSON.stringify(measurement) };
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const p of all) await p.then((l) => l.session.release()).catch(() => undefined);
  }
}

/** The tensors a stage of a chain of services hands on to later stages, as a JSON array of names (deploy writes it, cloud/oscar/helper.ts reads it). */
export const STAGE_FORWARD_VARIABLE = 'ONNX_MANAGER_STAGE_FORWARD';

/** Where the tensors of a payload go besides this runner's parts. */
export interface ProcessRoute {
  /** Tensors a later stage of a chain of services reads (the deploy plan says which): carried on, not refused as unread. */
  forwarded?: ReadonlySet<string>;
}

/** The payload's tensors no part has read yet; `forwarding`: this runner is a stage of a chain. */
interface Unread {
  names: Set<string>;
  /** What the parts loaded so far can be fed: the payload's tensors and what earlier parts make. */
  available: Set<string>;
  forwarding: boolean;
}

function unreadMessage({ names, forwarding }: Unread): string {
  const list = [...names].slice(0, 8).map((n) => `'${n.length > 64 ? `${n.slice(0, 64)}...` : n}'`).join(', ') + (names.size > 8 ? ` and ${names.size - 8} more` : '');
  const what = names.size === 1 ? `tensor ${list}` : `tensors ${list}`;
  return `the payload carries ${what}, which ${forwarding ? 'neither this stage nor a later one reads' : 'no part reads'}`;
}

/** Refuses a payload that is no input for cloud parts: a result, or one carrying an error (which it names). */
export function checkInput(input: Pick<Payload, 'kind' | 'error'>): void {
  // The error first: an earlier stage of a chain of services hands its failure on as a result.
  if (input.error !== undefined) throw new CloudRunError(`the payload carries an error instead of tensors: ${oneLine(input.error)}`);
  if (input.kind !== 'input') throw new CloudRunError(`the payload is a result (kind ${input.kind}), not an input for the cloud parts`);
}

/** A sender's text on one line: line breaks as ' / ', other control characters dropped, at most 500 characters. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.split(/\s*[\r\n]+\s*/).join(' / ').replace(/[\u0000-\u001f\u007f]/g, '');
  return flat.length > 500 ? `${flat.slice(0, 500)}... (${flat.length} characters)` : flat;
}

/** A result payload that reports a failure back to the edge. */
export function errorPayload(input: Pick<Payload, 'runId' | 'splitIndex' | 'rep'>, error: unknown): Payload {
  return { ...resultHeader(input), timings: [], error: messageLine(error), tensors: new Map() };
}

/** What every result carries: the job it answers, and where it was computed. */
function resultHeader(input: Pick<Payload, 'runId' | 'splitIndex' | 'rep'>) {
  return { kind: 'output' as const, runId: input.runId, splitIndex: input.splitIndex, rep: input.rep, nextModels: [], host: hostname() };
}
