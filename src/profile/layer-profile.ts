/**
 * Per-layer profiles (`<results>.profile.csv`): what each node of the model costs on each side,
 * plus each side's fixed costs, and the settings the numbers were measured with. Written by the
 * `profile` operation, read by `predict` and `recommend`.
 *
 * Rows of kind `node` hold one model node (by its name in the model, never a fused kernel's);
 * rows of kind `fixed` hold a side's costs that are not any node's, named by FIXED_COSTS:
 * `run_call` (ms per run() call beyond its kernels), `feed_per_mb` and `fetch_per_mb` (ms per
 * MB of inputs fed and of outputs fetched), all measured on hot runs (back to back), and
 * optionally CYCLE_COSTS: a part run in a sweep's cycle takes `cycle_ms` + `cycle_scale` x its
 * hot time, and the cloud's cycle_wait_ms (see cycle-calibration.ts). median_ms and p95_ms are over `runs`
 * runs. A profile without those rows (written before them) reads as cycle_ms 0, cycle_scale 1.
 *
 * The tensor codecs (codec-profile.ts), in the optional columns CODEC_COLUMNS: rows of kind
 * `codec_speed` hold a codec's (tensor_codec) encode (side edge, measured on the edge) or decode
 * (side cloud, measured where the cloud runs on a few of the coded cut tensors; the edge's when
 * the cloud side timed none) cost,
 * node `call` (ms per coded tensor) or `per_mb` (ms per MB of raw tensor bytes), in median_ms;
 * rows of kind `codec_wire` hold one split point's input payload with a codec (node: the
 * split_index): wire_bytes as sent, and the raw bytes and count of the cut tensors it coded.
 * Rows of kind `codec` (node and tensor_codec: its name) say which codecs the profile measured,
 * raw first (raw alone: none other); a profile without them holds the codecs of its codec_speed
 * rows. A profile without any codec rows (written before them) predicts raw transfers only.
 *
 * The store's costs measured with the profile (store-costs.ts), in the optional column
 * STORE_COLUMNS: rows of kind `store_cost` (side edge) named by STORE_COSTS, each cost in median_ms
 * (spread: a ratio), `runs` the requests timed, `store` the store they were measured on
 * ('embedded' or its endpoint). predict and recommend take them for a run on that store, so both
 * give the same times from one profile, and the cloud's cycle_wait_ms stays what it was measured
 * against. A profile without them (or for another store) has its store measured again.
 */
import { readRegularFile } from '../files.js';
import { FileError } from '../errors.js';
import type { LinkShape } from '../storage/shaping-proxy.js';
import { checkRowFields, csvRecords, lineOf, writeCsv } from './csv.js';
import type { CodecProfile, CodecSpeed, CodecWire } from './codec-profile.js';
import type { StoreCosts } from '../predict/store-costs.js';

export const PROFILE_COLUMNS = [
  'side',
  'kind',
  'node',
  'op_type',
  'median_ms',
  'p95_ms',
  'runs',
  'output_bytes',
  'params',
  'macs',
  'exec_type',
  'threads',
  'graph_opt',
  'backend',
  'model_sha256',
] as const;

/**
 * The link the cycle costs were calibrated behind (empty: none), on every row; a profile
 * written before these columns reads as calibrated without a link.
 */
export const CALIBRATION_COLUMNS = ['calibration_bandwidth_mbit', 'calibration_rtt_ms'] as const;
/** Columns of the codec rows, after PROFILE_COLUMNS (absent from profiles written before them). */
export const CODEC_COLUMNS = ['tensor_codec', 'wire_bytes', 'coded_tensor_bytes', 'coded_tensors'] as const;

/** The column of the store_cost rows, after CODEC_COLUMNS (absent from profiles written before it). */
export const STORE_COLUMNS = ['store'] as const;
/** The store costs a profile holds, each a StoreCosts field (spread: optional). */
export const STORE_COSTS = ['put_fixed_ms', 'put_per_mb_ms', 'get_fixed_ms', 'get_per_mb_ms', 'notify_ms', 'encode_fixed_ms', 'encode_per_mb_ms', 'decode_fixed_ms', 'decode_per_mb_ms', 'spread'] as const;
type StoreCostName = (typeof STORE_COSTS)[number];

export const SIDES = ['edge', 'cloud'] as const;
export type Side = (typeof SIDES)[number];
export const FIXED_COSTS = ['run_call', 'feed_per_mb', 'fetch_per_mb'] as const;
export type FixedCost = (typeof FIXED_COSTS)[number];
/**
 * The optional fixed costs: a part in a cycle takes cycle_ms + cycle_scale x its hot time; the
 * edge-only split (edge side only) edge_only_scale x its hot time, since its cycles have no wait;
 * cycle_wait_ms (cloud side only): what a cycle's wait holds beyond the cloud's part, the store's
 * costs as this process measures them and the link (the trigger reaching the cloud side, the
 * cloud's requests costing more from its process, the result's event coming late).
 */
export const CYCLE_COSTS = ['cycle_ms', 'cycle_scale', 'edge_only_scale', 'cycle_wait_ms'] as const;
export type CycleCost = (typeof CYCLE_COSTS)[number];

export interface CostStat {
  medianMs: number;
  p95Ms: number;
  runs: number;
}

export interface NodeProfile {
  side: Side;
  node: string;
  opType: string;
  medianMs: number;
  p95Ms: number;
  runs: number;
  outputBytes: number;
  params: number;
  macs: number;
}

/** What a side's numbers were measured with. */
export interface SideSettings {
  execType: string;
  /** Intra-op threads; undefined: onnxruntime's choice. */
  threads?: number;
  graphOpt: string;
  /** Where the side ran: 'local' for the edge, the backend's name for the cloud. */
  backend: string;
}

export interface LayerProfile {
  modelSha256: string;
  settings: Record<Side, SideSettings>;
  nodes: NodeProfile[];
  fixed: Record<Side, Record<FixedCost, CostStat> & Partial<Record<CycleCost, CostStat>>>;
  /** The link the calibration cycles ran behind (absent: none). */
  calibrationLink?: LinkShape;
  /** The tensor codecs on the cut tensors; absent in profiles made before them. */
  codecs?: CodecProfile;
  /** The store's costs measured with the profile, and which store ('embedded' or its endpoint); absent: not measured. */
  store?: { store: string; costs: StoreCosts };
}

/** A StoreCosts as the profile's named values. */
function storeCostValues(c: StoreCosts): Partial<Record<StoreCostName, number>> {
  return {
    put_fixed_ms: c.put.fixedMs,
    put_per_mb_ms: c.put.perMbMs,
    get_fixed_ms: c.get.fixedMs,
    get_per_mb_ms: c.get.perMbMs,
    notify_ms: c.notifyMs,
    encode_fixed_ms: c.encode.fixedMs,
    encode_per_mb_ms: c.encode.perMbMs,
    decode_fixed_ms: c.decode.fixedMs,
    decode_per_mb_ms: c.decode.perMbMs,
    ...(c.spread !== undefined ? { spread: c.spread } : {}),
  };
}

/** The profile's named values as a StoreCosts, or the first one missing. */
function storeCostsOf(v: Partial<Record<StoreCostName, number>>, requests: number): StoreCosts | string {
  const missing = STORE_COSTS.find((n) => n !== 'spread' && v[n] === undefined);
  if (missing) return missing;
  const get = (n: StoreCostName) => v[n]!;
  return {
    put: { fixedMs: get('put_fixed_ms'), perMbMs: get('put_per_mb_ms') },
    get: { fixedMs: get('get_fixed_ms'), perMbMs: get('get_per_mb_ms') },
    notifyMs: get('notify_ms'),
    encode: { fixedMs: get('encode_fixed_ms'), perMbMs: get('encode_per_mb_ms') },
    decode: { fixedMs: get('decode_fixed_ms'), perMbMs: get('decode_per_mb_ms') },
    requests,
    ...(v.spread !== undefined ? { spread: v.spread } : {}),
  };
}

/** A side's cycle cost in ms (0 when the profile has none). */
export function cycleMs(p: LayerProfile, side: Side): number {
  return p.fixed[side].cycle_ms?.medianMs ?? 0;
}

/** A side's cycle scale (1 when the profile has none). */
export function cycleScale(p: LayerProfile, side: Side): number {
  return p.fixed[side].cycle_scale?.medianMs ?? 1;
}

/** A cycle scale beyond this (a part in a cycle this many times slower than hot) is told to the user. */
export const ODD_CYCLE_SCALE = 5;

/**
 * One line per side whose cycle scale is beyond ODD_CYCLE_SCALE: a calibration that far off comes
 * from a machine busy with something else while the profile ran (seen: 26 at load 10), and every
 * compute time predicted for that side is scaled by it.
 */
export function oddCalibrationLines(p: LayerProfile, load: readonly number[], cores: number): string[] {
  return (['edge', 'cloud'] as const)
    .filter((side) => cycleScale(p, side) > ODD_CYCLE_SCALE)
    .map((side) => `the profile's ${side} parts ran ${cycleScale(p, side).toFixed(1)}x slower in its calibration cycles than alone (cycle_scale; load ${load[0]!.toFixed(1)} on ${cores} cores now): every predicted ${side}_ms is scaled by that; profile again on a quieter machine, or check against a sweep with --measured`);
}

/** The cloud side's cycle wait in ms (0 when the profile has none). */
export function cycleWaitMs(p: LayerProfile): number {
  return p.fixed.cloud.cycle_wait_ms?.medianMs ?? 0;
}

/** The edge-only split's scale over its hot time (undefined when the profile has none: the cycle line applies). */
export function edgeOnlyScale(p: LayerProfile): number | undefined {
  return p.fixed.edge.edge_only_scale?.medianMs;
}

function rowsOf(p: LayerProfile): (string | number)[][] {
  const common = (side: Side) => {
    const s = p.settings[side];
    const l = p.calibrationLink;
    return [s.execType, s.threads ?? '', s.graphOpt, s.backend, p.modelSha256, l?.bandwidthMbit ?? '', l ? l.rttMs : ''];
  };
  const none = [...CODEC_COLUMNS, ...STORE_COLUMNS].map(() => '');
  const rows: (string | number)[][] = [[...PROFILE_COLUMNS, ...CALIBRATION_COLUMNS, ...CODEC_COLUMNS, ...STORE_COLUMNS]];
  for (const n of p.nodes) rows.push([n.side, 'node', n.node, n.opType, n.medianMs, n.p95Ms, n.runs, n.outputBytes, n.params, n.macs, ...common(n.side), ...none]);
  for (const side of SIDES) {
    for (const name of [...FIXED_COSTS, ...CYCLE_COSTS]) {
      const f = p.fixed[side][name];
      if (!f) continue;
      rows.push([side, 'fixed', name, '', f.medianMs, f.p95Ms, f.runs, '', '', '', ...common(side), ...none]);
    }
  }
  if (p.codecs?.profiled) for (const codec of ['raw', ...p.codecs.profiled]) rows.push(['edge', 'codec', codec, '', 0, 0, 0, '', '', '', ...common('edge'), codec, '', '', '', '']);
  for (const [codec, s] of Object.entries(p.codecs?.speed ?? {})) {
    for (const [side, cost] of [['edge', s.encode], ['cloud', s.decode]] as const) {
      rows.push([side, 'codec_speed', 'call', '', cost.callMs, cost.callMs, s.runs, '', '', '', ...common(side), codec, '', '', s.tensors, '']);
      rows.push([side, 'codec_speed', 'per_mb', '', cost.perMbMs, cost.perMbMs, s.runs, '', '', '', ...common(side), codec, '', '', s.tensors, '']);
    }
  }
  for (const [split, per] of Object.entries(p.codecs?.wire ?? {})) {
    for (const [codec, w] of Object.entries(per)) rows.push(['edge', 'codec_wire', split, '', 0, 0, 1, '', '', '', ...common('edge'), codec, w.wireBytes, w.codedTensorBytes, w.codedTensors, '']);
  }
  if (p.store) {
    for (const [name, v] of Object.entries(storeCostValues(p.store.costs))) rows.push(['edge', 'store_cost', name, '', v, v, p.store.costs.requests, '', '', '', ...common('edge'), '', '', '', '', p.store.store]);
  }
  return rows;
}

/** Writes the profile whole (a temporary name renamed into place). */
export async function writeProfile(file: string, p: LayerProfile): Promise<void> {
  await writeCsv(file, rowsOf(p));
}

/** Reads a profile, refusing a file that is not one (naming the file and what is wrong). */
export async function readProfile(file: string): Promise<LayerProfile> {
  let records: Record<string, string>[];
  try {
    // Written whole, so a last line without its newline is a row (an editor's), not a torn one.
    records = csvRecords(file, await readRegularFile(file), 'a profile CSV', { lastLine: 'keep' });
  } catch (err) {
    if (err instanceof FileError) throw err;
    throw new FileError(`${file}: cannot read the profile (${(err as Error).message.split('\n')[0]})`, { cause: err, file });
  }
  const bad = (what: string): never => {
    throw new FileError(`${file}: not a profile of this version (${what})`, { file });
  };
  if (records.length === 0) bad('no rows');
  const header = Object.keys(records[0]!);
  const missing = PROFILE_COLUMNS.filter((c) => !header.includes(c));
  if (['side', 'kind', 'node', 'median_ms'].every((c) => missing.includes(c as (typeof PROFILE_COLUMNS)[number]))) {
    const what = header.includes('split_index') ? (header.includes('status') ? 'a run_all results file' : 'a results file') : 'another kind of CSV';
    throw new FileError(`${file}: not a profile: it is ${what}, with none of a profile's columns (${PROFILE_COLUMNS.slice(0, 4).join(', ')}, ...); make one with the profile operation`, { file });
  }
  if (missing.length) bad(`missing column(s) ${missing.join(', ')}`);
  checkRowFields(file, records, '--profile');
  // A value edited by hand or damaged: named by its line and column, as a results file's are.
  const edited = (line: number, what: string): never => {
    throw new FileError(`${file}: line ${line}: ${what}; the profile was edited or damaged: fix that value, or make the profile again with the profile operation`, { file });
  };
  const isNumber = (v: string | undefined): boolean => v !== undefined && v.trim() !== '' && Number.isFinite(Number(v)) && Number(v) >= 0;
  const num = (r: Record<string, string>, c: string, line: number): number => {
    if (!isNumber(r[c])) edited(line, `${c} '${r[c] ?? ''}' is not a number >= 0`);
    return Number(r[c]);
  };
  records.forEach((r, i) => {
    const line = lineOf(r) ?? i + 2;
    if (r.threads && !/^\d+$/.test(r.threads)) edited(line, `threads '${r.threads}' is not a number of threads`);
    for (const c of CALIBRATION_COLUMNS) if (r[c] !== undefined && r[c] !== '' && !isNumber(r[c])) edited(line, `${c} '${r[c]}' is not a number >= 0`);
  });
  const settings = {} as Record<Side, SideSettings>;
  const fixed = { edge: {}, cloud: {} } as LayerProfile['fixed'];
  const nodes: NodeProfile[] = [];
  const speed: Record<string, CodecSpeed> = {};
  const wire: Record<number, Record<string, CodecWire>> = {};
  let profiled: string[] | undefined;
  const storeValues: Partial<Record<StoreCostName, number>> = {};
  let storeName: string | undefined;
  let storeRequests = 0;
  const sha = records[0]!.model_sha256!;
  records.forEach((r, i) => {
    const line = lineOf(r) ?? i + 2;
    const side = r.side as Side;
    if (!SIDES.includes(side)) bad(`line ${line}: side '${r.side}'`);
    if (r.model_sha256 !== sha) bad(`line ${line}: another model_sha256`);
    settings[side] ??= { execType: r.exec_type!, graphOpt: r.graph_opt!, backend: r.backend!, ...(r.threads ? { threads: Number(r.threads) } : {}) };
    const base = { medianMs: num(r, 'median_ms', line), p95Ms: num(r, 'p95_ms', line), runs: num(r, 'runs', line) };
    if (r.kind === 'fixed') {
      if (!FIXED_COSTS.includes(r.node as FixedCost) && !CYCLE_COSTS.includes(r.node as CycleCost)) bad(`line ${line}: fixed cost '${r.node}'`);
      fixed[side][r.node as FixedCost] = base;
    } else if (r.kind === 'codec_speed') {
      const codec = r.tensor_codec ?? '';
      if (codec === '' || (r.node !== 'call' && r.node !== 'per_mb')) bad(`line ${line}: codec cost '${r.node}' of codec '${codec}'`);
      const s = (speed[codec] ??= { encode: { callMs: 0, perMbMs: 0 }, decode: { callMs: 0, perMbMs: 0 }, tensors: num(r, 'coded_tensors', line), runs: base.runs });
      s[side === 'edge' ? 'encode' : 'decode'][r.node === 'call' ? 'callMs' : 'perMbMs'] = base.medianMs;
    } else if (r.kind === 'codec_wire') {
      const split = Number(r.node);
      if (!r.tensor_codec || r.node === '' || !Number.isInteger(split) || split < 0) bad(`line ${line}: codec_wire split '${r.node}' of codec '${r.tensor_codec ?? ''}'`);
      (wire[split] ??= {})[r.tensor_codec!] = { wireBytes: num(r, 'wire_bytes', line), codedTensorBytes: num(r, 'coded_tensor_bytes', line), codedTensors: num(r, 'coded_tensors', line) };
    } else if (r.kind === 'codec') {
      if (!r.tensor_codec || r.node !== r.tensor_codec) bad(`line ${line}: codec row '${r.node}' of codec '${r.tensor_codec ?? ''}'`);
      profiled ??= [];
      if (r.tensor_codec !== 'raw') profiled.push(r.tensor_codec!);
    } else if (r.kind === 'store_cost') {
      if (!STORE_COSTS.includes(r.node as StoreCostName) || !r.store || (storeName !== undefined && r.store !== storeName)) bad(`line ${line}: store cost '${r.node}' of store '${r.store ?? ''}'`);
      storeName = r.store;
      storeRequests = base.runs;
      storeValues[r.node as StoreCostName] = base.medianMs;
    } else if (r.kind === 'node') {
      nodes.push({ side, node: r.node!, opType: r.op_type!, ...base, outputBytes: num(r, 'output_bytes', line), params: num(r, 'params', line), macs: num(r, 'macs', line) });
    } else {
      bad(`line ${line}: kind '${r.kind}'`);
    }
  });
  for (const side of SIDES) {
    if (!settings[side]) bad(`no ${side} rows`);
    for (const name of FIXED_COSTS) if (!fixed[side][name]) bad(`no ${side} ${name} row`);
  }
  const first = records[0]!;
  const bw = first.calibration_bandwidth_mbit ?? '';
  const rtt = first.calibration_rtt_ms ?? '';
  // Numbers >= 0 on every row (checked above).
  const calibrationLink = rtt === '' && bw === '' ? undefined : { ...(bw !== '' ? { bandwidthMbit: Number(bw) } : {}), rttMs: rtt === '' ? 0 : Number(rtt) };
  const p: LayerProfile = { modelSha256: sha, settings, nodes, fixed, ...(calibrationLink ? { calibrationLink } : {}) };
  if (profiled) {
    const missing = profiled.find((c) => !speed[c]);
    if (missing) bad(`codec ${missing} is listed but has no codec_speed rows`);
    p.codecs = { profiled, speed, wire };
  } else if (Object.keys(speed).length > 0 || Object.keys(wire).length > 0) p.codecs = { speed, wire };
  if (storeName !== undefined) {
    const costs = storeCostsOf(storeValues, storeRequests);
    if (typeof costs === 'string') bad(`store costs without ${costs}`);
    p.store = { store: storeName, costs: costs as StoreCosts };
  }
  return p;
}
