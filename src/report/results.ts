/**
 * A results file read for pictures: a run_all CSV (one row per split point per repetition) or a
 * predict CSV (one predicted row per split point), as per-split statistics grouped by the
 * setting the rows were taken with (backend, provider, link). Medians are over the rows with
 * status ok; the whiskers are the p5 and p95 of total_ms.
 */
import { FileError } from '../errors.js';
import { readUserFile } from '../files.js';
import { CPU_COLUMNS, EDGE_ONLY_BACKEND } from '../profile/columns.js';
import { checkResultsRows, csvRecords, perCodecRows, RUN_ALL_NEEDED, sentBytes } from '../profile/csv.js';
import { median, percentile } from '../profile/stats.js';
import { PREDICT_COLUMNS } from '../predict/predict.js';

export type ResultsKind = 'run_all' | 'predict';

/** The columns that tell the rows apart by how they were taken. */
export const SETTING_COLUMNS = ['backend', 'exec_type', 'bandwidth_mbit', 'rtt_ms', 'tensor_codec'] as const;
export type Setting = Record<(typeof SETTING_COLUMNS)[number], string>;

export interface SplitStat {
  split_index: number;
  split_layer: string;
  cut_tensors: string;
  transfer_bytes: number;
  /** Rows with status ok, and the others. */
  reps: number;
  failed: number;
  edge_ms: number;
  transfer_ms: number;
  cloud_ms: number;
  /** What total_ms holds beyond edge, transfer and cloud: encoding, decoding, the trigger, waiting. */
  other_ms: number;
  total_ms: number;
  total_p5: number;
  total_p95: number;
  /**
   * Median CPU time of each side's part (run_all rows that record it): undefined where that side
   * runs nothing, or the rows are from before the columns.
   */
  edge_cpu_ms?: number;
  cloud_cpu_ms?: number;
  /** The outputs against the full model's (run_all rows that have them): the largest max_abs_diff, the mean top1_agreement. */
  max_abs_diff?: number;
  top1_agreement?: number;
}

export interface SettingGroup {
  setting: Setting;
  /** Words for a title, e.g. `backend local, CPU, 50 Mbit/s, rtt 5 ms`. */
  label: string;
  /** For a file name: only what differs between the file's settings, e.g. `link-50mbit-rtt5ms`. */
  slug: string;
  splits: SplitStat[];
  /** The split point with the lowest median total_ms. */
  best: SplitStat;
  /** Split points with no ok row: how many rows failed and the last error. */
  failedOnly: FailedSplit[];
}

export interface FailedSplit {
  split_index: number;
  split_layer: string;
  failed: number;
  error: string;
}

export interface ResultsFile {
  file: string;
  kind: ResultsKind;
  rows: Record<string, string>[];
  groups: SettingGroup[];
}

function kindOf(file: string, header: readonly string[]): ResultsKind {
  if (RUN_ALL_NEEDED.every((c) => header.includes(c))) return 'run_all';
  if (!header.includes('status') && PREDICT_COLUMNS.every((c) => header.includes(c))) return 'predict';
  const missing = RUN_ALL_NEEDED.filter((c) => !header.includes(c));
  throw new FileError(`${file}: not a run_all or predict results file (no column ${missing.join(', ')})`, { file });
}

/** Reads the CSV whole; a torn last line (a sweep still running or killed) is dropped. */
export async function readCsvRecords(file: string): Promise<Record<string, string>[]> {
  return csvRecords(file, await readUserFile(file), 'a CSV file');
}

/**
 * A run_all or predict results file, its rows grouped; a row whose numbers cannot be a
 * measurement or a prediction is refused (checkResultsRows; `flag` names the option the file came from).
 */
export async function readResults(file: string, flag = '--results_file'): Promise<ResultsFile> {
  const rows = await readCsvRecords(file);
  if (rows.length === 0) throw new FileError(`${file}: no rows (not a run_all or predict results file?)`, { file });
  const kind = kindOf(file, Object.keys(rows[0]!));
  checkResultsRows(file, rows, flag, kind);
  const ok = kind === 'predict' ? rows : rows.filter((r) => r.status === 'ok');
  if (ok.length === 0) throw new FileError(`${file}: no row with status ok`, { file });
  return { file, kind, rows, groups: groupRows(rows, kind) };
}

/** The backend of the edge-only split point's rows (no cloud part ran). */
export { EDGE_ONLY_BACKEND };

const settingOf = (r: Record<string, string>): Setting => Object.fromEntries(SETTING_COLUMNS.map((c) => [c, r[c] ?? ''])) as Setting;
const settingKey = (s: Setting): string => SETTING_COLUMNS.map((c) => s[c]).join('\u0000');

/** Whether the rows were taken over an emulated link (a bandwidth, or a round trip above 0). */
export function hasLink(r: { bandwidth_mbit?: string; rtt_ms?: string }): boolean {
  return Boolean(r.bandwidth_mbit) || Number(r.rtt_ms || 0) > 0;
}

function linkWords(s: Setting): string {
  return hasLink(s) ? `${s.bandwidth_mbit ? `${s.bandwidth_mbit} Mbit/s` : 'unlimited'}, rtt ${s.rtt_ms || 0} ms` : 'direct link';
}

function settingLabel(s: Setting): string {
  return [s.backend && `backend ${s.backend}`, s.exec_type, linkWords(s), s.tensor_codec && s.tensor_codec !== 'raw' && `cut tensors sent as ${s.tensor_codec}`].filter(Boolean).join(', ');
}

function slugPart(c: (typeof SETTING_COLUMNS)[number], s: Setting): string {
  if (c === 'backend') return `backend-${s.backend || 'none'}`;
  if (c === 'exec_type') return (s.exec_type || 'none').toLowerCase();
  // int8:axis=1 -> codec-int8-axis-1 (file-name characters only).
  if (c === 'tensor_codec') return `codec-${(s.tensor_codec || 'raw').replace(/[^A-Za-z0-9]+/g, '-')}`;
  return hasLink(s) ? `link-${s.bandwidth_mbit ? `${s.bandwidth_mbit}mbit` : 'unlimited'}-rtt${s.rtt_ms || 0}ms` : 'link-direct';
}

/** File-name words for each setting: the backend, provider or link, as far as they differ in the file. */
function slugs(settings: readonly Setting[]): string[] {
  const differs = (c: (typeof SETTING_COLUMNS)[number]) => new Set(settings.map((s) => s[c])).size > 1;
  const link = differs('bandwidth_mbit') || differs('rtt_ms');
  return settings.map((s) => {
    const parts: string[] = [];
    if (differs('backend')) parts.push(slugPart('backend', s));
    if (differs('exec_type')) parts.push(slugPart('exec_type', s));
    if (link) parts.push(slugPart('rtt_ms', s));
    if (differs('tensor_codec')) parts.push(slugPart('tensor_codec', s));
    return parts.join('.').replace(/[^A-Za-z0-9.-]+/g, '_');
  });
}

function num(r: Record<string, string>, c: string): number {
  const v = Number(r[c]);
  return r[c] !== '' && r[c] !== undefined && Number.isFinite(v) ? v : NaN;
}

function splitStat(all: readonly Record<string, string>[], kind: ResultsKind): SplitStat | undefined {
  const ok = kind === 'predict' ? all : all.filter((r) => r.status === 'ok');
  if (ok.length === 0) return undefined;
  const values = (c: string) => ok.map((r) => num(r, c)).filter((v) => Number.isFinite(v) && v >= 0);
  const med = (c: string) => {
    const v = values(c);
    return v.length ? median(v) : 0;
  };
  const total = values('total_ms');
  const s = {
    split_index: Number(ok[0]!.split_index),
    split_layer: ok[0]!.split_layer ?? '',
    cut_tensors: ok[0]!.cut_tensors ?? '',
    transfer_bytes: sentBytes(ok, 'transfer_bytes') ?? 0,
    reps: ok.length,
    failed: all.length - ok.length,
    edge_ms: med('edge_ms'),
    transfer_ms: med('transfer_ms'),
    cloud_ms: med('cloud_ms'),
    total_ms: med('total_ms'),
    total_p5: total.length ? percentile(total, 0.05) : 0,
    total_p95: total.length ? percentile(total, 0.95) : 0,
  };
  const diffs = values('max_abs_diff');
  const top1 = values('top1_agreement');
  const cpu = CPU_COLUMNS.flatMap((c) => (values(c).length ? [[c, median(values(c))] as const] : []));
  return {
    ...s,
    other_ms: Math.max(0, s.total_ms - s.edge_ms - s.transfer_ms - s.cloud_ms),
    ...Object.fromEntries(cpu),
    ...(diffs.length ? { max_abs_diff: Math.max(...diffs) } : {}),
    ...(top1.length ? { top1_agreement: top1.reduce((a, b) => a + b, 0) / top1.length } : {}),
  };
}

/** Whether a group's rows record the CPU time of either side (rows from before the columns do not). */
export function hasCpu(g: SettingGroup): boolean {
  return g.splits.some((s) => s.edge_cpu_ms !== undefined || s.cloud_cpu_ms !== undefined);
}

/** How far a group's outputs came from the full model's, in words ('' when its rows do not say). */
export function deviationText(g: SettingGroup): string {
  const sent = g.splits.filter((x) => x.transfer_bytes > 0);
  const diffs = sent.map((x) => x.max_abs_diff).filter((v): v is number => v !== undefined);
  if (diffs.length === 0) return '';
  const top1 = sent.map((x) => x.top1_agreement).filter((v): v is number => v !== undefined);
  const agree = top1.length ? `, top-1 agreement ${(100 * Math.min(...top1)).toFixed(1)}% at worst` : '';
  return `outputs vs the full model: max |diff| ${Math.max(...diffs).toPrecision(3)}${agree}`;
}

/** Per-split statistics per setting, in the order the settings first appear; splits in index order. */
export function groupRows(rows: readonly Record<string, string>[], kind: ResultsKind): SettingGroup[] {
  const bySetting = new Map<string, { setting: Setting; bySplit: Map<number, Record<string, string>[]> }>();
  const add = (setting: Setting, r: Record<string, string>) => {
    const k = settingKey(setting);
    if (!bySetting.has(k)) bySetting.set(k, { setting, bySplit: new Map() });
    const bySplit = bySetting.get(k)!.bySplit;
    const i = Number(r.split_index);
    bySplit.set(i, [...(bySplit.get(i) ?? []), r]);
  };
  // The edge-only split point runs no cloud part (backend 'none'): it belongs to every backend's
  // chart with the same provider, link and tensor codec (measured under one codec, it stands in
  // each: perCodecRows), and stands alone only when there is none.
  const edgeOnly = (r: Record<string, string>) => r.backend === EDGE_ONLY_BACKEND;
  const all = kind === 'run_all' ? perCodecRows(rows) : rows;
  for (const r of all) if (!edgeOnly(r)) add(settingOf(r), r);
  for (const r of all.filter(edgeOnly)) {
    const own = settingOf(r);
    const same = [...bySetting.values()].map((g) => g.setting).filter((s) => s.exec_type === own.exec_type && s.bandwidth_mbit === own.bandwidth_mbit && s.rtt_ms === own.rtt_ms && s.tensor_codec === own.tensor_codec);
    for (const s of same.length ? same : [own]) add(s, r);
  }
  const found = [...bySetting.values()]
    .map(({ setting, bySplit }) => {
      const indices = [...bySplit.keys()].sort((a, b) => a - b);
      const stats = indices.map((i) => splitStat(bySplit.get(i)!, kind));
      const failedOnly = indices
        .filter((_, k) => stats[k] === undefined)
        .map((i) => {
          const rs = bySplit.get(i)!;
          return { split_index: i, split_layer: rs[0]!.split_layer ?? '', failed: rs.length, error: rs.at(-1)!.error || rs.at(-1)!.status || '' };
        });
      return { setting, splits: stats.filter((s): s is SplitStat => s !== undefined), failedOnly };
    })
    .filter((g) => g.splits.length > 0);
  const names = slugs(found.map((g) => g.setting));
  return found.map((g, i) => ({
    setting: g.setting,
    label: settingLabel(g.setting),
    slug: names[i]!,
    splits: g.splits,
    best: g.splits.reduce((b, s) => (s.total_ms < b.total_ms ? s : b)),
    failedOnly: g.failedOnly,
  }));
}

/** Predicted totals by split index, from a predict CSV, checked against the measured split points. */
/** Predicted total_ms per split point, per link and tensor codec of the predictions ('raw' for files without the column). */
export type Predictions = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** Predictions are kept by link and tensor codec: a group of measured rows is drawn with those of its own. */
const predictionKey = (s: Setting): string => `${linkWords(s)}\u0000${s.tensor_codec || 'raw'}`;

/** The predictions for a group of measured rows: those of the group's own link and tensor codec (none if the predict file has no such pair). */
export function predictionsFor(p: Predictions | undefined, g: SettingGroup): ReadonlyMap<number, number> | undefined {
  return p?.get(predictionKey(g.setting));
}

/**
 * Why the predictions of `predicted` cannot be drawn over `measured`'s rows: no link of the one is
 * a link of the other (undefined when one is).
 */
export function linkMismatch(predicted: ResultsFile, measured: ResultsFile): string | undefined {
  const links = (r: ResultsFile) => [...new Set(r.groups.map((g) => linkWords(g.setting)))];
  const said = (w: string) => (w === 'direct link' ? 'a direct link (no --bandwidth/--rtt)' : w);
  const [p, m] = [links(predicted), links(measured)];
  if (p.some((l) => m.includes(l))) return undefined;
  return `predicted for ${p.map(said).join('; ')}, but ${measured.file} was measured over ${m.map(said).join('; ')}; predict for that link (\`predict --measured ${measured.file}\` takes it)`;
}

/**
 * Why the predictions of `predicted` cannot be drawn over `measured`'s rows: they are of another
 * model (their model_sha256; undefined when both are of one, or a file does not say). Models can
 * share their split layers' names (a model builder's naming), so the layers alone do not tell.
 */
export function modelMismatch(predicted: ResultsFile, measured: ResultsFile): string | undefined {
  const sha = (r: ResultsFile) => r.rows.find((x) => x.model_sha256)?.model_sha256;
  const [theirs, ours] = [sha(predicted), sha(measured)];
  if (!theirs || !ours || theirs === ours) return undefined;
  return `predictions of another model (model_sha256 ${theirs.slice(0, 12)}…), but ${measured.file} was measured on model_sha256 ${ours.slice(0, 12)}…`;
}

export async function readPredicted(file: string, measured: ResultsFile): Promise<Predictions> {
  const p = await readResults(file, '--predicted');
  if (p.kind !== 'predict') throw new FileError(`${file}: not a predict results file (it is a ${p.kind} file; --predicted takes what \`onnx-manager predict\` writes)`, { file });
  const mismatch = modelMismatch(p, measured) ?? linkMismatch(p, measured);
  if (mismatch) throw new FileError(`${file}: ${mismatch}`, { file });
  const layers = new Map(measured.groups.flatMap((g) => g.splits.map((s) => [s.split_index, s.split_layer] as const)));
  const out = new Map<string, Map<number, number>>();
  for (const g of p.groups) {
    const key = predictionKey(g.setting);
    const totals = out.get(key) ?? new Map<number, number>();
    for (const s of g.splits) {
      const layer = layers.get(s.split_index);
      if (layer !== undefined && layer !== s.split_layer) {
        throw new FileError(`${file}: split ${s.split_index} is '${s.split_layer}' here but '${layer}' in ${measured.file}: predictions of another model`, { file });
      }
      if (!totals.has(s.split_index)) totals.set(s.split_index, s.total_ms);
    }
    out.set(key, totals);
  }
  if (![...out.values()].some((m) => [...m.keys()].some((i) => layers.has(i)))) throw new FileError(`${file}: no split point in common with ${measured.file}`, { file });
  return out;
}
