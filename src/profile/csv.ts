/**
 * The results CSV: rows appended as they finish (so a killed sweep keeps what it measured),
 * read back for --resume, and the per-split summary written beside it.
 */
import { notCsvError } from '../content-kind.js';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { existsSync } from 'node:fs';
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { makeFolders, readFailure, readUserFile } from '../files.js';
import * as path from 'node:path';
import { FileError, WriteError } from '../errors.js';
import { OutputTransaction } from '../split/output.js';
import { COLUMNS, CPU_COLUMNS, EDGE_ONLY_BACKEND, TIME_COLUMNS, ms, type Row } from './columns.js';
import { percentile } from './stats.js';

/**
 * The bytes of the payload a repetition sends, from rows of one split point: the most the
 * repetitions other than 0 sent, which is what predict and check work out; repetition 0's payload is
 * written without its rep field, which moves its first tensor's alignment padding, so it can be a
 * few bytes shorter or longer. Repetition 0's own when it is the only one; undefined without a number.
 */
export function sentBytes(rows: readonly Record<string, unknown>[], column: 'transfer_bytes' | 'result_bytes'): number | undefined {
  const later = rows.filter((r) => r.rep !== undefined && r.rep !== '' && String(r.rep) !== '0');
  const sent = (later.length ? later : rows).map((r) => Number(r[column])).filter((x) => Number.isFinite(x) && x >= 0);
  return sent.length ? Math.max(...sent) : undefined;
}

const cannotWrite = (file: string, err: unknown): WriteError => new WriteError(`${file}: cannot write the results (${readFailure(err)})`, { cause: err, file });

export class CsvAppender {
  private handle: FileHandle | undefined;

  private constructor(
    readonly file: string,
    /** The file is new or empty: its first write is the header with the first row. */
    private readonly fresh: boolean,
    /** The length of the whole rows of a file whose last line a kill tore, else undefined. */
    private readonly whole: number | undefined,
  ) {}

  /**
   * Opens the file for appending. Nothing is written until the first row: a sweep stopped before
   * it leaves no file (a file that was there, as it was), so that an empty header-only file never
   * stands for a sweep that measured nothing.
   */
  static async open(file: string): Promise<CsvAppender> {
    try {
      await makeFolders(path.dirname(path.resolve(file)));
      const text = existsSync(file) ? await readFile(file, 'utf8') : '';
      const fresh = text.trim() === '';
      // A row torn by a kill is dropped with the first row (it is not counted as done, so it runs again).
      const whole = !fresh && !text.endsWith('\n') ? Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)) : undefined;
      return new CsvAppender(file, fresh, whole);
    } catch (err) {
      throw cannotWrite(file, err);
    }
  }

  /** One write per row (the first with the header of a new file), so a kill leaves whole rows (and at most one torn last line). */
  async append(row: Row): Promise<void> {
    const line = stringify([COLUMNS.map((c) => row[c])]);
    if (this.handle) {
      await this.handle.write(line);
      return;
    }
    let handle: FileHandle;
    try {
      if (this.whole !== undefined) await truncate(this.file, this.whole);
      handle = await open(this.file, this.fresh ? 'w' : 'a');
    } catch (err) {
      throw cannotWrite(this.file, err);
    }
    this.handle = handle;
    await handle.write(this.fresh ? stringify([[...COLUMNS]]) + line : line);
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }
}

/**
 * Columns added after the first results files, with the value an older row has in them: rows
 * from before the tensor codecs sent their cut tensors raw; the others were not recorded.
 */
export const LATER_COLUMNS: Readonly<Partial<Record<(typeof COLUMNS)[number], string>>> = {
  tensor_codec: 'raw',
  codec_encode_ms: '',
  cloud_codec_decode_ms: '',
  top1_agreement: '',
  store_retries: '',
  warmup_ms: '',
  cloud_restarts: '',
  edge_cpu_ms: '',
  cloud_cpu_ms: '',
};

/**
 * Columns of earlier versions that later ones split up: `threads` (both sides' sessions, with
 * onnxruntime's spinning on) became edge_threads, cloud_threads and spinning.
 */
const LEGACY_COLUMNS: Readonly<Record<string, Partial<Record<(typeof COLUMNS)[number], (old: string) => string>>>> = {
  threads: { edge_threads: (t) => t, cloud_threads: (t) => t, spinning: () => 'on' },
};

/**
 * The LATER_COLUMNS a results file to resume lacks (`rows` as read); a file lacking any other
 * column, or holding one this version does not write, is refused.
 */
export function missingLaterColumns(file: string, rows: readonly Record<string, string>[]): (typeof COLUMNS)[number][] {
  const header = Object.keys(rows[0] ?? {});
  const missing = COLUMNS.filter((c) => !header.includes(c));
  const derived = new Set(header.flatMap((c) => Object.keys(LEGACY_COLUMNS[c] ?? {})));
  const unknown = missing.filter((c) => !(c in LATER_COLUMNS) && !derived.has(c));
  if (unknown.length) throw new FileError(`${file} is not a run_all results file of this version (no column ${unknown.join(', ')})`, { file });
  const extra = header.filter((c) => !(COLUMNS as readonly string[]).includes(c) && !(c in LEGACY_COLUMNS));
  if (extra.length) throw new FileError(`${file} is not a run_all results file of this version (unknown column ${extra.join(', ')})`, { file });
  return missing;
}

/**
 * Gives `rows` (as read from a file) the `missing` LATER_COLUMNS, derived from the legacy columns
 * they replace where there are some, and drops the legacy columns: the rows then read as this
 * version's (for the settings check), before anything is written.
 */
export function upgradeRows(rows: Record<string, string>[], missing: readonly (typeof COLUMNS)[number][]): void {
  for (const r of rows) {
    for (const c of missing) {
      const legacy = Object.keys(LEGACY_COLUMNS).find((old) => old in r && LEGACY_COLUMNS[old]![c]);
      r[c] = legacy ? LEGACY_COLUMNS[legacy]![c]!(r[legacy]!) : LATER_COLUMNS[c]!;
    }
    for (const old of Object.keys(LEGACY_COLUMNS)) delete r[old];
  }
}

/** Rewrites `file` whole with the current header and `rows` (upgraded): a temporary file renamed into place, so rows appended next line up. */
export async function writeUpgradedResults(file: string, rows: readonly Record<string, string>[]): Promise<void> {
  await writeCsv(file, [[...COLUMNS], ...rows.map((r) => COLUMNS.map((c) => r[c] ?? ''))]);
}

/** Where each record read by csvRecords came from: its line in the file, its fields and its header's. */
const READ_FROM = new WeakMap<object, { line: number; fields: number; header: number }>();

/** The line of the file a record read by csvRecords ends on (undefined for records made otherwise). */
export function lineOf(r: object): number | undefined {
  return READ_FROM.get(r)?.line;
}

/**
 * The records of a CSV file's bytes, by its header; a torn last line (a sweep still running or
 * killed) is dropped. A file of another kind (a model or an image given by mistake) is named as
 * such rather than quoted by the parser; `what` names the file expected ("a CSV file"); a file
 * written whole keeps a last line without its newline (`lastLine: 'keep'`). A record
 * keeps the fields its header names; how many it had, and its line, are kept for the checks
 * (checkRowFields, lineOf).
 */
export function csvRecords(file: string, bytes: Buffer, what: string, opts: { lastLine?: 'drop' | 'keep' } = {}): Record<string, string>[] {
  const wrong = notCsvError(file, bytes, what);
  if (wrong) throw wrong;
  let text = bytes.toString('utf8');
  if (opts.lastLine !== 'keep' && !text.endsWith('\n')) text = text.slice(0, text.lastIndexOf('\n') + 1);
  let read: { record: string[]; info: { lines: number } }[];
  try {
    read = parse(text, { skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof read;
  } catch (err) {
    throw new FileError(`${file}: not ${what} (${(err as Error).message.split('\n')[0]})`, { cause: err, file });
  }
  const header = read[0]?.record ?? [];
  return read.slice(1).map(({ record, info }) => {
    const r: Record<string, string> = {};
    record.forEach((v, i) => {
      if (i < header.length) r[header[i]!] = v;
    });
    READ_FROM.set(r, { line: info.lines, fields: record.length, header: header.length });
    return r;
  });
}

/** Rows of an existing results file (for --resume); a torn last line is dropped. */
export async function readRows(file: string): Promise<Record<string, string>[]> {
  if (!existsSync(file)) return [];
  return csvRecords(file, await readFile(file), 'a run_all results CSV');
}

/** Columns every run_all results file has had, of this version and the earlier ones. */
const CORE_COLUMNS = ['split_index', 'split_layer', 'rep', 'status', 'total_ms'];

/**
 * Refuses a results file to add rows to that holds something other than run_all results (a file
 * of the user's, another tool's CSV): its first line lacks the columns every results file has.
 * A missing or empty file is fine; so is one with a header and no rows.
 */
export async function checkResultsHeader(file: string): Promise<void> {
  if (!existsSync(file)) return;
  const head = headerLine(await readFile(file, 'utf8'));
  if (!head || CORE_COLUMNS.every((c) => head.columns.includes(c))) return;
  const { shown } = head;
  throw new FileError(`${file} holds something other than run_all results (its first line: '${shown}'); choose another --results_file`, { file });
}

/**
 * The first line of a CSV file's text (undefined for a blank file): its column names (quotes
 * removed), and the line as a message shows it (at most 80 characters).
 */
export function headerLine(text: string): { columns: string[]; shown: string } | undefined {
  if (text.trim() === '') return undefined;
  const first = text.split('\n', 1)[0]!.trim();
  return { columns: first.split(',').map((c) => c.replace(/^"|"$/g, '')), shown: first.length > 80 ? `${first.slice(0, 80)}...` : first };
}

/**
 * A row of a results file refused: the file was edited or damaged (`n` counts rows from 1, the
 * header apart; the row is named by its line where it was read from a file). `flag` names the
 * option the file came from.
 */
function rowError(file: string, n: number, r: Record<string, string>, what: string, flag: string, where = true): FileError {
  const at = where ? ` (split ${r.split_index}${r.rep !== undefined ? `, rep ${r.rep}` : ''})` : '';
  return new FileError(`${file}: ${rowName(r, n)}${at}: ${what}; fix or remove that row, or choose another ${flag}`, { file });
}

const rowName = (r: Record<string, string>, n: number): string => {
  const line = lineOf(r);
  return line === undefined ? `row ${n}` : `line ${line}`;
};

/** Refuses a row of a results file with fewer or more fields than its header (rows as read, before any column is added). */
export function checkRowFields(file: string, rows: readonly Record<string, string>[], flag = '--results_file'): void {
  const fields = Math.max(0, ...rows.map((r) => Object.keys(r).length));
  rows.forEach((r, i) => {
    const from = READ_FROM.get(r);
    const [n, of] = from ? [from.fields, from.header] : [Object.keys(r).length, fields];
    if (n !== of) throw rowError(file, i + 1, r, `${n} fields, the header has ${of}`, flag, false);
  });
}

/** The byte counts of a row, and the other numbers that cannot be below 0 (empty where not recorded). */
const BYTE_COLUMNS = ['tensor_bytes', 'transfer_bytes', 'result_bytes'] as const;
const OTHER_NUMBER_COLUMNS = ['max_abs_diff', 'top1_agreement', 'warmup_ms', 'bandwidth_mbit', 'rtt_ms', 'store_retries', 'cloud_restarts'] as const;
/** max_abs_diff is Infinity where the outputs differ in shape or type, or one is NaN and the other not (maxAbsDiff). */
const MAY_BE_INFINITE: ReadonlySet<string> = new Set(['max_abs_diff']);

/**
 * Refuses a row of a run_all results file whose values cannot be a measurement, whatever the
 * model: a split index or repetition that is no count, a status that is none, a time or a byte
 * count that is no number >= 0 (or a total_ms missing from an ok row). Such a row would be
 * summed up, charted and ranked as it is (a total_ms of 'abc' or -5 made its split point the
 * fastest at 0 ms). The rows of a predict file (`kind` predict) have no repetition or status;
 * each has its total_ms.
 */
export function checkRowNumbers(file: string, rows: readonly Record<string, string>[], flag = '--results_file', kind: 'run_all' | 'predict' = 'run_all'): void {
  rows.forEach((r, i) => {
    const n = i + 1;
    if (!/^\d+$/.test(r.split_index ?? '')) throw rowError(file, n, r, `split_index '${r.split_index ?? ''}' is not a split point's index`, flag, false);
    if (kind === 'run_all') {
      if (!/^\d+$/.test(r.rep ?? '')) throw rowError(file, n, r, `rep '${r.rep ?? ''}' is not a repetition number`, flag);
      if (!['ok', 'error', 'timeout'].includes(r.status ?? '')) throw rowError(file, n, r, `status '${r.status ?? ''}' is not ok, error or timeout`, flag);
    }
    const number = (v: string) => v.trim() !== '' && Number.isFinite(Number(v)) && Number(v) >= 0;
    for (const c of [...TIME_COLUMNS, ...CPU_COLUMNS]) {
      const v = r[c] ?? '';
      const missing = v === '' && c === 'total_ms' && (kind === 'predict' || r.status === 'ok');
      if (missing || (v !== '' && !number(v))) throw rowError(file, n, r, `${c} '${v}' is not a number of milliseconds >= 0`, flag);
    }
    for (const c of BYTE_COLUMNS) {
      const v = r[c] ?? '';
      if (v !== '' && !(number(v) && Number.isInteger(Number(v)))) throw rowError(file, n, r, `${c} '${v}' is not a number of bytes >= 0`, flag);
    }
    for (const c of OTHER_NUMBER_COLUMNS) {
      const v = r[c] ?? '';
      if (v !== '' && !number(v) && !(MAY_BE_INFINITE.has(c) && v === 'Infinity')) throw rowError(file, n, r, `${c} '${v}' is not a number >= 0`, flag);
    }
  });
}

/**
 * Refuses a row of a results file to resume that cannot be a measurement of this model: one
 * checkRowNumbers refuses, a split index the model does not have, another split layer at that
 * index, an ok row of a split point, repetition and codec given twice.
 */
export function checkRowValues(file: string, rows: readonly Record<string, string>[], points: readonly { index: number; splitLayer: string }[]): void {
  const flag = '--results_file';
  const layers = new Map(points.map((p) => [p.index, p.splitLayer]));
  const indexes = points.map((p) => p.index);
  const firstOk = new Map<string, string>();
  rows.forEach((r, i) => {
    const n = i + 1;
    const split = Number(r.split_index);
    if (!/^\d+$/.test(r.split_index ?? '') || !layers.has(split)) {
      throw rowError(file, n, r, `split_index '${r.split_index}' is not a split point of the model (${Math.min(...indexes)} to ${Math.max(...indexes)})`, flag, false);
    }
    if (r.split_layer !== layers.get(split)) throw rowError(file, n, r, `split_layer '${r.split_layer}' is not split point ${split}'s (${layers.get(split)})`, flag);
    checkRowNumbers(file, [r], flag);
    if (r.status !== 'ok') return;
    const key = `${split}/${Number(r.rep)}/${r.tensor_codec || 'raw'}`;
    const first = firstOk.get(key);
    if (first !== undefined) throw rowError(file, n, r, `a second ok row of split ${split}, rep ${Number(r.rep)}${r.tensor_codec && r.tensor_codec !== 'raw' ? `, codec ${r.tensor_codec}` : ''} (${first} is the first)`, flag);
    firstOk.set(key, rowName(r, n));
  });
}

/** Columns a run_all results file needs to be read for its times (charts, a report, a recommendation, predict --measured). */
export const RUN_ALL_NEEDED = COLUMNS.filter((c) => ['split_index', 'split_layer', 'transfer_bytes', 'edge_ms', 'cloud_ms', 'transfer_ms', 'total_ms', 'status', 'rep'].includes(c));

/**
 * Refuses the records of a run_all results file read for its numbers (`flag`: the option it came
 * from) whose rows could not be a sweep's: a row of more or fewer fields than the header, a value
 * checkRowNumbers refuses. One line naming the file, the row's line and the column.
 */
export function checkResultsRows(file: string, rows: readonly Record<string, string>[], flag: string, kind: 'run_all' | 'predict' = 'run_all'): void {
  checkRowFields(file, rows, flag);
  checkRowNumbers(file, rows, flag, kind);
}

/**
 * The rows of a run_all results file read for its numbers (predict --measured): a missing file
 * named as such, one without rows or without the columns it needs refused, and its rows checked
 * (checkResultsRows).
 */
export async function readResultsRows(file: string, flag: string): Promise<Record<string, string>[]> {
  const rows = csvRecords(file, await readUserFile(file), 'a run_all results CSV');
  if (rows.length === 0) throw new FileError(`${file}: no rows (not a run_all results file?)`, { file });
  const missing = RUN_ALL_NEEDED.filter((c) => !(c in rows[0]!));
  if (missing.length) {
    // A predict CSV has run_all's columns but for the repetitions and their status.
    const predicted = missing.every((c) => c === 'rep' || c === 'status') && 'total_ms' in rows[0]!;
    if (predicted) throw new FileError(`${file}: a predict CSV, not run_all results (no column ${missing.join(', ')}); give the run_all CSV the rows were measured in`, { file });
    throw new FileError(`${file}: not a run_all results file (no column ${missing.join(', ')})`, { file });
  }
  checkResultsRows(file, rows, flag);
  return rows;
}

type CsvRow = Readonly<Record<string, string | number | undefined>>;

/**
 * Rows as each tensor codec's comparison takes them. A split point that runs no cloud part
 * (backend none: the edge-only one) sends nothing, so the codec cannot change its cycles: a sweep
 * over several codecs measures it once, under the first codec listed (see runSweep). Its rows
 * stand in every other codec the rows hold (with the same provider and link) as copies carrying
 * that codec, unless that codec has rows of its own for the split point (files from before).
 */
export function perCodecRows<T extends CsvRow>(rows: readonly T[]): T[] {
  const codecOf = (r: CsvRow): string => String(r.tensor_codec || 'raw');
  const where = (r: CsvRow): string => ['exec_type', 'bandwidth_mbit', 'rtt_ms'].map((c) => String(r[c] ?? '')).join('\u0000');
  const codecs = new Map<string, Set<string>>();
  for (const r of rows) codecs.set(where(r), (codecs.get(where(r)) ?? new Set()).add(codecOf(r)));
  const alone = rows.filter((r) => r.backend === EDGE_ONLY_BACKEND);
  const own = new Set(alone.map((r) => `${where(r)}\u0000${Number(r.split_index)}\u0000${codecOf(r)}`));
  const copies: T[] = [];
  for (const r of alone) {
    for (const codec of codecs.get(where(r))!) {
      if (codec !== codecOf(r) && !own.has(`${where(r)}\u0000${Number(r.split_index)}\u0000${codec}`)) copies.push({ ...r, tensor_codec: codec } as T);
    }
  }
  return [...rows, ...copies];
}

/** `results/x.csv` -> `results/x.summary.csv`. */
export function summaryPath(file: string): string {
  return file.replace(/(\.csv)?$/i, '.summary.csv');
}

/** Whether any of `rows` holds a CPU time (files from before edge_cpu_ms and cloud_cpu_ms do not). */
export function recordsCpu(rows: readonly Record<string, string | number | undefined>[]): boolean {
  return rows.some((r) => CPU_COLUMNS.some((c) => r[c] !== '' && r[c] !== undefined));
}

/**
 * Median, p5 and p95 of every time column per split point, over rows with status ok; and of the
 * CPU time columns where the rows record them (left out for rows from before them), empty where
 * a side runs nothing.
 */
export async function writeSummary(file: string, rows: readonly Record<string, string | number>[]): Promise<string> {
  // One line per split point and tensor codec (rows from before codecs: raw); a split point that
  // sends nothing, measured under one codec, has the same line in each.
  const bySplit = new Map<string, Record<string, string | number>[]>();
  const codecOf = (r: Record<string, string | number>): string => String(r.tensor_codec || 'raw');
  for (const r of perCodecRows(rows)) {
    const k = `${Number(r.split_index)}/${codecOf(r)}`;
    if (!bySplit.has(k)) bySplit.set(k, []);
    bySplit.get(k)!.push(r);
  }
  const header = ['split_index', 'split_layer', 'cut_tensors', 'tensor_bytes', 'transfer_bytes', 'reps', 'failed'];
  for (const c of TIME_COLUMNS) header.push(`${c}_median`, `${c}_p5`, `${c}_p95`);
  header.push('tensor_codec', 'max_abs_diff_max', 'top1_agreement');
  const cpu = recordsCpu(rows) ? CPU_COLUMNS : [];
  for (const c of cpu) header.push(`${c}_median`, `${c}_p5`, `${c}_p95`);
  const lines: (string | number)[][] = [header];
  const keys = [...bySplit.keys()];
  const order = (k: string): number => Number(k.split('/')[0]);
  for (const key of keys.sort((a, b) => order(a) - order(b))) {
    const all = bySplit.get(key)!;
    const k = order(key);
    const ok = all.filter((r) => r.status === 'ok');
    const first = ok[0] ?? all[0]!;
    // The bytes a repetition sends, as the report, the charts, predict --measured and recommend take them.
    const bytes = sentBytes(ok, 'transfer_bytes') ?? first.transfer_bytes!;
    const line: (string | number)[] = [k, first.split_layer!, first.cut_tensors!, first.tensor_bytes!, bytes, ok.length, all.length - ok.length];
    const spread = (v: number[]): (string | number)[] => [0.5, 0.05, 0.95].map((p) => (v.length ? ms(percentile(v, p)) : ''));
    for (const c of TIME_COLUMNS) line.push(...spread(ok.map((r) => Number(r[c])).filter((x) => Number.isFinite(x))));
    const diffs = ok.map((r) => r.max_abs_diff).filter((x) => x !== '' && x !== undefined).map(Number);
    const top1 = ok.map((r) => r.top1_agreement).filter((x) => x !== '' && x !== undefined).map(Number);
    // The mean over the rows: the fraction of all their classifier rows that agree.
    line.push(codecOf(first), diffs.length ? Math.max(...diffs) : '', top1.length ? Math.round((top1.reduce((a, b) => a + b, 0) / top1.length) * 1e6) / 1e6 : '');
    // An empty CPU cell is no value (the side ran nothing), not 0.
    for (const c of cpu) line.push(...spread(ok.filter((r) => r[c] !== '' && r[c] !== undefined).map((r) => Number(r[c])).filter((x) => Number.isFinite(x))));
    lines.push(line);
  }
  const out = summaryPath(file);
  await writeCsv(out, lines);
  return out;
}

/** Writes a CSV file whole: lines (the header first) under a temporary name, renamed into place when complete. */
export async function writeCsv(file: string, lines: readonly (readonly unknown[])[]): Promise<void> {
  await OutputTransaction.run(path.dirname(path.resolve(file)), (tx) => tx.write(path.basename(file), stringify(lines as unknown[][])));
}

/** Rows as CSV text, one column per name (missing values empty). */
export function csvText(columns: readonly string[], rows: readonly object[]): string {
  return stringify([[...columns], ...rows.map((r) => columns.map((c) => (r as Record<string, unknown>)[c] ?? ''))]);
}

/** Writes rows as a CSV file whole, one column per name (missing values empty). */
export async function writeCsvFile(file: string, columns: readonly string[], rows: readonly object[]): Promise<void> {
  await OutputTransaction.run(path.dirname(path.resolve(file)), (tx) => tx.write(path.basename(file), csvText(columns, rows)));
}
