/**
 * The report: one self-contained HTML page of a run_all CSV. The run's settings, the model's
 * summary (print_model's facts, with --onnx_file), the recommendation and crossover table (from
 * the recommend result beside the CSV), the charts inline as SVG (plot_results' charts, with the
 * predicted totals when a predict CSV is beside it) and the split table, sortable and searchable.
 * The page loads nothing: no script, style, font or image from anywhere, and a
 * Content-Security-Policy that forbids it.
 */
import { existsSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileError, UsageError } from '../errors.js';
import { refuseOutputOverInput } from '../files.js';
import { loadModel } from '../onnx/model.js';
import { readProfile, type LayerProfile } from '../profile/layer-profile.js';
import { summaryPath } from '../profile/csv.js';
import { modelFacts, type ModelFacts } from './model-facts.js';
import { OutputTransaction } from '../split/output.js';
import { esc, factsHtml, formatNumber, para, section, tableHtml, type Cell } from './html.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './page-assets.js';
import { makeCharts, type Charts } from './plot.js';
import { svgSize } from './render.js';
import { choiceLines, constraintWords, excludedWords, type Choice } from './choice.js';
import { recommendBeside, recommendPathsFor, type RecommendFile } from './recommendation.js';
import { describeLink } from '../predict/link.js';
import { EDGE_ONLY_BACKEND, hasLink, linkMismatch, modelMismatch, predictionsFor, readCsvRecords, readResults, type Predictions, type ResultsFile, type SplitStat } from './results.js';

export interface ReportOptions {
  onnxFile?: string;
}

/** The files the tools write beside a run_all CSV X.csv, when they are there. */
export interface Beside {
  summary?: string;
  profile?: string;
  predict?: string;
  recommend?: string;
}

export function besideFiles(csv: string): Beside {
  const base = csv.replace(/\.csv$/i, '');
  const found: Beside = {};
  const check = (k: keyof Beside, f: string) => {
    if (existsSync(f)) found[k] = f;
  };
  check('summary', summaryPath(csv));
  check('profile', `${base}.profile.csv`);
  check('predict', `${base}.predict.csv`);
  const recommendation = recommendBeside(csv);
  if (recommendation) found.recommend = recommendation;
  return found;
}

/** `results/x.csv` -> `results/x.html`. */
export function reportPathFor(csv: string): string {
  return csv.replace(/(\.csv)?$/i, '.html');
}

const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : '');
const distinct = (rows: readonly Record<string, string>[], c: string) => [...new Set(rows.map((r) => r[c] ?? ''))].filter((v) => v !== '');

function linkText(rows: readonly Record<string, string>[]): string {
  const links = [...new Set(rows.map((r) => (hasLink(r) ? `${r.bandwidth_mbit ? `${r.bandwidth_mbit} Mbit/s` : 'unlimited'} each way, rtt ${r.rtt_ms || 0} ms (emulated)` : 'direct (none emulated)')))];
  return links.join('; ');
}

function sideSettings(rows: readonly Record<string, string>[], p: LayerProfile | undefined, predictRows: readonly Record<string, string>[] | undefined): { threads: string; graphOpt: string; from: string } {
  // Rows of this version carry the settings themselves.
  if (rows.some((r) => r.graph_opt)) {
    const side = (c: string) => list(distinct(rows, c)) || "onnxruntime's choice";
    // Rows before the per-side columns have one threads column.
    const threads = rows.some((r) => 'edge_threads' in r) ? (side('edge_threads') === side('cloud_threads') ? side('edge_threads') : `edge ${side('edge_threads')}, cloud ${side('cloud_threads')}`) : side('threads');
    return { threads, graphOpt: list(distinct(rows, 'graph_opt')), from: '' };
  }
  if (p) {
    const t = (s: 'edge' | 'cloud') => (p.settings[s].threads === undefined ? "onnxruntime's choice" : String(p.settings[s].threads));
    return { threads: `edge ${t('edge')}, cloud ${t('cloud')}`, graphOpt: `edge ${p.settings.edge.graphOpt}, cloud ${p.settings.cloud.graphOpt}`, from: 'the profile' };
  }
  if (predictRows?.length) {
    const r = predictRows[0]!;
    return { threads: r.threads || "onnxruntime's choice", graphOpt: r.graph_opt ?? '', from: 'the predict CSV' };
  }
  return { threads: 'not recorded in this run_all CSV (an older version)', graphOpt: 'not recorded in this run_all CSV (an older version)', from: '' };
}

function settingsSection(results: ResultsFile, beside: Beside, profile: LayerProfile | undefined, predictRows: Record<string, string>[] | undefined, summaryRows: Record<string, string>[] | undefined): string {
  const rows = results.rows;
  const ok = rows.filter((r) => r.status === 'ok').length;
  const side = sideSettings(rows, profile, predictRows);
  const cpus = os.cpus();
  const facts: [string, string][] = [
    ['results file', `${path.basename(results.file)} (written ${statSync(results.file).mtime.toISOString()})`],
    ['rows', `${rows.length} (${ok} ok, ${rows.length - ok} failed) over ${new Set(rows.map((r) => r.split_index)).size} split points`],
    ['run id', list(distinct(rows, 'run_id'))],
    ['backend (where the cloud part ran)', `${list(distinct(rows, 'backend').filter((b) => b !== EDGE_ONLY_BACKEND)) || 'none'}${rows.some((r) => r.backend === EDGE_ONLY_BACKEND) ? ` (the edge-only split point runs no cloud part: backend ${EDGE_ONLY_BACKEND})` : ''}`],
    ['execution provider (exec_type)', list(distinct(rows, 'exec_type'))],
    [`intra-op threads${side.from ? ` (from ${side.from})` : ''}`, side.threads],
    [`graph optimisation${side.from ? ` (from ${side.from})` : ''}`, side.graphOpt],
    ['link edge <-> store', linkText(rows)],
    ['repetitions per split point', list([...new Set(results.groups.flatMap((g) => g.splits.map((s) => String(s.reps + s.failed))))])],
    ['machine', `not recorded in the results; this page was made on ${os.hostname()}: ${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`],
  ];
  if (summaryRows) {
    // One line per split point and tensor codec.
    const points = new Set(summaryRows.map((r) => r.split_index)).size;
    const codecs = new Set(summaryRows.map((r) => r.tensor_codec || 'raw')).size;
    const lines = codecs > 1 ? `${summaryRows.length} lines: ${points} split points x ${codecs} tensor codecs` : `${points} split points`;
    facts.push(['summary file', `${path.basename(beside.summary!)} (${lines}, ${summaryRows.reduce((n, r) => n + (Number(r.failed) || 0), 0)} failed rows)`]);
  }
  for (const [k, label] of [['profile', 'profile'], ['predict', 'predict CSV'], ['recommend', 'recommend result']] as const) {
    facts.push([label, beside[k] ? path.basename(beside[k]) : `none beside the CSV (${k === 'recommend' ? recommendPathsFor(path.basename(results.file)).join(' or ') : `${path.basename(results.file).replace(/\.csv$/i, '')}.${k}.csv`})`]);
  }
  return section('settings', 'Run settings', factsHtml(facts));
}

function modelSection(m: ModelFacts | undefined): string {
  if (!m) return section('model', 'Model', para('No model given (--onnx_file): its summary is not shown.', 'muted'));
  const facts: [string, string][] = [
    ['file', `${m.file} (${m.size_bytes} bytes)`],
    ['IR version', String(m.ir_version)],
    ['opset', m.opset_import.map((o) => `${o.domain} ${o.version}`).join(', ')],
    ['producer', m.producer || 'not given'],
    ['graph', m.graph],
    ['nodes', `${m.nodes} (${m.data_nodes} on the data path, ${m.constant_nodes} constant)`],
    ['initializers', String(m.initializers)],
    ['parameters', String(m.parameters)],
    ...(m.functions ? ([['local functions', String(m.functions)]] as [string, string][]) : []),
  ];
  const io = tableHtml(['', 'name', 'type'], [...m.inputs.map((i) => ['input', i.name, i.type]), ...m.outputs.map((o) => ['output', o.name, o.type])]);
  const ops = tableHtml(['op_type', 'count'], Object.entries(m.op_types), { numeric: new Set(['count']) });
  return section('model', 'Model', `${factsHtml(facts)}\n<h3>Inputs and outputs</h3>\n${io}\n<h3>Operators</h3>\n${ops}`);
}

function constraintText(r: RecommendFile): string {
  const words = constraintWords(r.constraints);
  return words ? `Constraints: ${words} (${excludedWords(r.splits)}).` : 'No constraints.';
}

/** ` under edge_ms <= 0.2` ('' without constraints). */
const under = (r: RecommendFile): string => (constraintWords(r.constraints) ? ` under ${constraintWords(r.constraints)}` : '');

const linkWords = (r: RecommendFile): string => describeLink(r.link);

function recommendationSection(r: RecommendFile | undefined, beside: Beside): string {
  if (!r) {
    return section('recommendation', 'Recommendation', para(`No recommend result beside the CSV: \`onnx-manager recommend --onnx_file <model> --results_file <this CSV>\` (or --profile ${beside.profile ? path.basename(beside.profile) : '<profile>'}) writes one.`, 'muted'));
  }
  const b = r.best;
  const box = `<div class="box"><p><strong>${esc(`Best split for ${linkWords(r)}${under(r)}: ${b.split_index} (${b.split_layer})`)}</strong></p>${para(
    `edge ${formatNumber(b.edge_ms)} ms + transfer ${formatNumber(b.transfer_ms)} ms + cloud ${formatNumber(b.cloud_ms)} ms; total ${formatNumber(b.total_ms)} ms; ${b.transfer_bytes} bytes sent`,
  )}${para(constraintText(r), 'muted')}${para(`From ${path.basename(r.file)}: ${r.source}`, 'muted')}</div>`;
  const changes = r.changes.length
    ? para(`The choice${under(r)} changes at: ${r.changes.map((c) => `${Number(c.bandwidth_mbit.toPrecision(4))} Mbit/s (${c.from} -> ${c.to})`).join(', ')}.`)
    : para(`The choice${under(r)} is the same from 1 Mbit/s to 10 Gbit/s.`);
  const pareto = r.splits.filter((s) => s.pareto).map((s) => String(s.split_index));
  const crossover = tableHtml(
    ['bandwidth_mbit', 'split_index', 'split_layer', 'total_ms'],
    r.crossover.map((c) => [c.bandwidth_mbit, c.split_index, c.split_layer, c.total_ms]),
    { id: 'crossover', numeric: new Set(['bandwidth_mbit', 'split_index', 'total_ms']) },
  );
  return section('recommendation', 'Recommendation', `${box}\n${changes}\n${pareto.length ? para(`Pareto set (edge compute vs bytes moved vs total): ${pareto.join(', ')}.`) : ''}\n<h3>Crossover: best split per bandwidth (rtt ${esc(r.link.rttMs)} ms)${esc(under(r))}</h3>\n${crossover}`);
}

/** How much larger than its own size a chart may be drawn to fill the page's width. */
export const CHART_GROWTH = 1.4;

/** The chart's SVG drawn as wide as the page lets it, from its own width up to CHART_GROWTH times it (never smaller: it scrolls). */
function pageChart(svg: string): string {
  const { width } = svgSize(svg);
  return svg.replace(/^<svg /, `<svg style="width: 100%; min-width: ${width}px; max-width: ${Math.round(width * CHART_GROWTH)}px; height: auto" `);
}

function chartsSection(c: Charts): string {
  const body = c.charts.map((ch) => `<figure class="chart" id="chart-${esc(ch.name)}">${pageChart(ch.svg)}<figcaption class="muted">${esc(ch.caption)}</figcaption></figure>`).join('\n');
  const note = c.predictedFile ? para(`Red diamonds: predicted total_ms from ${path.basename(c.predictedFile)}.`, 'muted') : '';
  return section('charts', 'Charts', `${note}\n${body}`);
}

/** The split table's CPU time columns (medians), as the run_all CSV names them. */
const CPU_STATS = ['edge_cpu_ms', 'cloud_cpu_ms'] as const;

const NUMERIC = new Set(['split_index', 'transfer_bytes', 'edge_ms', 'transfer_ms', 'cloud_ms', 'other_ms', 'total_ms', 'total_p5', 'total_p95', 'edge_cpu_ms', 'cloud_cpu_ms', 'predicted_total_ms', 'max_abs_diff', 'top1_agreement', 'reps', 'failed']);

/** The best column of a split point's row: best, or why the constraints exclude it. */
function bestCell(s: SplitStat, c: Choice): string {
  if (s.split_index === c.best?.split_index) return c.constraints ? `best under ${c.constraints}` : 'best';
  const why = c.excluded.get(s.split_index);
  if (why === undefined) return '';
  return `${s.split_index === c.fastest.split_index ? 'fastest, ' : ''}excluded: ${why}`;
}

function splitTableSection(results: ResultsFile, predicted: Predictions | undefined, choices: readonly Choice[]): string {
  const several = results.groups.length > 1;
  // The outputs' deviation from the full model, where the rows have it.
  const all = results.groups.flatMap((g) => g.splits);
  const dev = [...(all.some((s) => s.max_abs_diff !== undefined) ? (['max_abs_diff'] as const) : []), ...(all.some((s) => s.top1_agreement !== undefined) ? (['top1_agreement'] as const) : [])];
  // The CPU time per side, where the rows record it (files from before the columns: left out).
  const cpu = all.some((s) => s.edge_cpu_ms !== undefined || s.cloud_cpu_ms !== undefined) ? CPU_STATS : [];
  const headers = [...(several ? ['setting'] : []), 'split_index', 'split_layer', 'cut_tensors', 'transfer_bytes', 'edge_ms', 'transfer_ms', 'cloud_ms', 'other_ms', 'total_ms', 'total_p5', 'total_p95', ...cpu, ...(predicted ? ['predicted_total_ms'] : []), ...dev, 'reps', 'failed', 'best'];
  const entries: { index: number; cells: Cell[]; best: boolean }[] = [];
  for (const [gi, g] of results.groups.entries()) {
    const choice = choices[gi]!;
    const group: typeof entries = [];
    for (const s of g.splits) {
      const p = predictionsFor(predicted, g)?.get(s.split_index);
      const times = [s.transfer_bytes, s.edge_ms, s.transfer_ms, s.cloud_ms, s.other_ms, s.total_ms, s.total_p5, s.total_p95, ...cpu.map((c): Cell => s[c] ?? ''), ...(predicted ? [p === undefined ? '' : p] : []), ...dev.map((c): Cell => (s[c] === undefined ? '' : c === 'max_abs_diff' ? { text: s[c]!.toPrecision(3), value: s[c]! } : s[c]!))];
      const cells = [s.split_index, s.split_layer, s.cut_tensors.split(';').join('; '), ...times, s.reps, s.failed, bestCell(s, choice)];
      group.push({ index: s.split_index, cells, best: s.split_index === choice.best?.split_index });
    }
    // A split point without an ok row: its failures and the last error, no times.
    const blanks = 8 + cpu.length + (predicted ? 1 : 0) + dev.length;
    for (const f of g.failedOnly) group.push({ index: f.split_index, cells: [f.split_index, f.split_layer, '', ...Array<Cell>(blanks).fill(''), 0, f.failed, `failed: ${f.error}`], best: false });
    group.sort((a, b) => a.index - b.index);
    entries.push(...group.map((e) => ({ ...e, cells: [...(several ? [g.label] : []), ...e.cells] })));
  }
  const rows = entries.map((e) => e.cells);
  const search = `<p><label for="search">Search: </label><input id="search" type="search" placeholder="split index, layer or tensor name" autocomplete="off"> <span id="shown" class="muted"></span></p>`;
  const cpuNote = cpu.length ? " edge_cpu_ms and cloud_cpu_ms are the CPU time (user + system, every thread) of each side's process during its part's run; empty where that side runs nothing." : '';
  const note = para(`Medians over the rows with status ok; other_ms is what total_ms holds beyond edge, transfer and cloud (encoding, decoding, the trigger, waiting); total_p5 and total_p95 are the spread of total_ms.${cpuNote} Click a header to sort.`, 'muted');
  const table = tableHtml(headers, rows, { id: 'splits', numeric: NUMERIC, sortable: true, rowClass: (i) => (entries[i]!.best ? 'best' : undefined) });
  return section('splits-section', 'Split points', `${note}\n${search}\n<div class="table-wrap">${table}</div>`);
}

/** Refuses a model other than the one the rows were measured on (their model_sha256), as predict and --resume do. */
async function checkSameModel(results: ResultsFile, onnxFile: string): Promise<void> {
  const model = await loadModel(onnxFile);
  const other = results.rows.find((r) => r.model_sha256 && r.model_sha256 !== model.sha256);
  if (other) throw new UsageError(`${results.file} holds results of another model (model_sha256 ${other.model_sha256!.slice(0, 12)}…, ${model.label} is ${model.sha256.slice(0, 12)}…)`);
}

/** The page for `csv`, with what is beside it. */
export async function buildReport(csv: string, o: ReportOptions = {}): Promise<string> {
  const results = await readResults(csv);
  if (results.kind !== 'run_all') throw new FileError(`${csv}: a predict CSV; report takes a run_all results file (the predict CSV beside it, X.predict.csv, is included)`, { file: csv });
  const beside = besideFiles(csv);
  if (o.onnxFile) await checkSameModel(results, o.onnxFile);
  const model = o.onnxFile ? await modelFacts(o.onnxFile) : undefined;
  const profile = beside.profile ? await readProfile(beside.profile) : undefined;
  const predictRows = beside.predict ? await readCsvRecords(beside.predict) : undefined;
  const summaryRows = beside.summary ? await readCsvRecords(beside.summary) : undefined;
  // A prediction for another model or link than the rows' is not drawn over them; the page says so.
  const besidePredict = beside.predict ? await readResults(beside.predict) : undefined;
  const notDrawn = besidePredict?.kind === 'predict' ? (modelMismatch(besidePredict, results) ?? linkMismatch(besidePredict, results)) : undefined;
  const charts = await makeCharts(csv, beside.predict && !notDrawn ? { predicted: beside.predict } : {});
  const name = path.basename(csv).replace(/\.csv$/i, '');
  const title = `${name}: split profile${model ? ` of ${path.basename(model.file)}` : ''}`;
  const best = results.groups.map((g, i) => `${g.label}: ${choiceLines(charts.choices[i]!, (s) => `median total ${formatNumber(s.total_ms)} ms`).join('; ')}`);
  const r = charts.recommendation;
  if (notDrawn) best.push(`${path.basename(beside.predict!)} (beside the CSV) is not drawn: ${notDrawn}`);
  if (r) best.push(`recommend (${path.basename(r.file)}; ${r.source}) for ${linkWords(r)}${under(r)}: best split ${r.best.split_index} (${r.best.split_layer}), total ${formatNumber(r.best.total_ms)} ms`);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${PAGE_STYLE}</style></head><body>`,
    `<h1>${esc(title)}</h1>`,
    para(`Made by onnx-manager report from ${path.basename(csv)} on ${new Date().toISOString()}.`, 'muted'),
    `<ul>${best.map((b) => `<li>${esc(b)}</li>`).join('')}</ul>`,
    settingsSection(results, beside, profile, predictRows, summaryRows),
    modelSection(model),
    recommendationSection(charts.recommendation, beside),
    chartsSection(charts),
    splitTableSection(results, charts.predicted, charts.choices),
    `<script>${PAGE_SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** Writes the page (default: beside the CSV, X.html); returns where. */
export async function writeReport(csv: string, o: ReportOptions & { outputFile?: string } = {}): Promise<{ file: string; bytes: number }> {
  if (o.outputFile !== undefined) {
    const beside = besideFiles(csv);
    refuseOutputOverInput(o.outputFile, 'output_file', 'report', [
      ['the results file (--results_file)', csv],
      ['the model (--onnx_file)', o.onnxFile],
      ['the summary beside the results file', beside.summary],
      ['the profile beside the results file', beside.profile],
      ['the predict CSV beside the results file', beside.predict],
      ['the recommendation beside the results file', beside.recommend],
    ]);
  }
  const html = await buildReport(csv, o);
  const file = path.resolve(o.outputFile ?? reportPathFor(csv));
  await OutputTransaction.run(path.dirname(file), (tx) => tx.write(path.basename(file), html));
  return { file, bytes: Buffer.byteLength(html) };
}
