/**
 * plot_results: the charts of a results file, as SVG and PNG beside it. One chart per setting
 * found in the file (X.svg when there is one, X.<setting>.svg when there are several), each
 * followed by its CPU chart (X.cpu-time.svg, X.<setting>.cpu-time.svg) where the rows record CPU time, and the
 * crossover chart (X.crossover.svg) when recommend's X.recommend.json is beside the CSV or is
 * the file given.
 */
import * as path from 'node:path';
import { OutputTransaction } from '../split/output.js';
import { cpuChartSpec, crossoverChartSpec, splitChartSpec, type ChartSpec } from './charts.js';
import { choiceFor, choiceLines, constraintWords, type Choice } from './choice.js';
import { readRecommendation, recommendBeside, type RecommendFile } from './recommendation.js';
import { renderSvg, svgToPng } from './render.js';
import { hasCpu, predictionsFor, readPredicted, readResults, type Predictions, type ResultsFile, type SettingGroup } from './results.js';

export interface Chart {
  /** File name without extension, e.g. `lenet5` or `lenet5.link-50mbit-rtt5ms` or `lenet5.crossover`. */
  name: string;
  /** What the chart shows, for messages and the report. */
  caption: string;
  spec: ChartSpec;
  svg: string;
}

export interface Charts {
  results?: ResultsFile;
  recommendation?: RecommendFile;
  /** The predict CSV drawn over the measured totals, and its totals by split index. */
  predictedFile?: string;
  predicted?: Predictions;
  /** The best split point of each of the results' groups (in their order), under the recommendation's constraints. */
  choices: Choice[];
  charts: Chart[];
}

/** `results/x.csv` -> `results/x`; `results/x.recommend.json` -> `results/x`. */
export function chartBase(file: string): string {
  return file.replace(/(\.recommend\.json|\.csv)$/i, '');
}

function splitCaption(g: SettingGroup, c: Choice): string {
  const failed = g.failedOnly.length ? `; not drawn, no ok row: ${g.failedOnly.map((f) => f.split_index).join(', ')}` : '';
  return `${g.splits.length} split point(s), ${g.label}; ${choiceLines(c).join('; ')}${failed}`;
}

/**
 * The charts of `file` (a run_all or predict CSV, or a recommend JSON), with `predicted` totals
 * drawn over the measured ones; `recommendation` is used when given, else the one beside the CSV.
 */
export async function makeCharts(file: string, o: { predicted?: string; recommendation?: RecommendFile } = {}): Promise<Charts> {
  const base = chartBase(file);
  const title = path.basename(base);
  const out: Charts = { choices: [], charts: [] };
  let recommendation = o.recommendation;
  if (/\.json$/i.test(file)) recommendation = await readRecommendation(file);
  else {
    const results = await readResults(file);
    out.results = results;
    const predicted = o.predicted ? await readPredicted(o.predicted, results) : undefined;
    if (o.predicted && predicted) Object.assign(out, { predictedFile: o.predicted, predicted });
    // The recommendation's constraints pick the best split point in every chart.
    const beside = recommendBeside(file);
    if (!recommendation && beside) recommendation = await readRecommendation(beside);
    const several = results.groups.length > 1;
    for (const g of results.groups) {
      const mine = predictionsFor(predicted, g);
      const choice = choiceFor(g, recommendation);
      out.choices.push(choice);
      const spec = splitChartSpec(g, { title: `${title}: time per split point`, ...(mine ? { predicted: mine } : {}), predictedRows: results.kind === 'predict', choice, ...(recommendation ? { recommendation } : {}) });
      const name = several ? `${path.basename(base)}.${g.slug}` : path.basename(base);
      out.charts.push({ name, caption: splitCaption(g, choice), spec, svg: await renderSvg(spec) });
      // The CPU time per side, where the rows record it (files from before edge_cpu_ms and cloud_cpu_ms have no such chart).
      if (hasCpu(g)) {
        const cpu = cpuChartSpec(g, { title: `${title}: CPU time per side per split point`, choice });
        out.charts.push({ name: `${name}.cpu-time`, caption: `CPU time of each side's part per split point (edge_cpu_ms, cloud_cpu_ms; medians) against its wall time, ${g.label}`, spec: cpu, svg: await renderSvg(cpu) });
      }
    }
  }
  if (recommendation) {
    out.recommendation = recommendation;
    const spec = crossoverChartSpec(recommendation, `${title}: best split vs bandwidth`);
    out.charts.push({ name: `${path.basename(base)}.crossover`, caption: `best split vs bandwidth${constraintWords(recommendation.constraints) ? ` under ${constraintWords(recommendation.constraints)}` : ''} (${path.basename(recommendation.file)})`, spec, svg: await renderSvg(spec) });
  }
  return out;
}

export interface WrittenChart {
  svg: string;
  png: string;
  width: number;
  height: number;
  caption: string;
}

/** Writes every chart of `file` as SVG and PNG beside it (all or none). */
export async function plotResults(file: string, o: { predicted?: string } = {}): Promise<WrittenChart[]> {
  const { charts } = await makeCharts(file, o);
  const dir = path.dirname(path.resolve(file));
  const pngs = await Promise.all(charts.map((c) => svgToPng(c.svg)));
  return OutputTransaction.run(dir, async (tx) => {
    const written: WrittenChart[] = [];
    for (const [i, c] of charts.entries()) {
      const p = pngs[i]!;
      written.push({ svg: await tx.write(`${c.name}.svg`, c.svg), png: await tx.write(`${c.name}.png`, p.png), width: p.width, height: p.height, caption: c.caption });
    }
    return written;
  });
}
