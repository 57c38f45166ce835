/**
 * The charts as vega-lite specifications (rendered by render.ts): per setting, a stacked bar per
 * split point (edge, transfer, cloud and the rest of total_ms; medians) with p5-p95 whiskers of
 * total_ms, the bytes moved on a second axis, the best split marked and, when given, predicted
 * totals over the measured ones; and the crossover chart (best split vs bandwidth, log axis).
 */
import { choiceFor, choiceLines, constraintWords, excludedWords, fileName, splitName, type Choice } from './choice.js';
import type { RecommendFile } from './recommendation.js';
import { deviationText, type SettingGroup, type SplitStat } from './results.js';
import { wrapText } from './text-width.js';

export type ChartSpec = Record<string, unknown>;

/** The stacked parts in order, with their colours. */
export const PARTS = [
  { key: 'edge_ms', name: 'edge', colour: '#4c78a8' },
  { key: 'transfer_ms', name: 'transfer', colour: '#f58518' },
  { key: 'cloud_ms', name: 'cloud', colour: '#54a24b' },
  { key: 'other_ms', name: 'other (codec, wait)', colour: '#bab0ac' },
] as const;
const BYTES = { name: 'bytes moved', colour: '#7b3294' };
const PREDICTED = { name: 'predicted total', colour: '#d62728' };
const BEST_COLOUR = '#111111';
const EXCLUDED_OPACITY = 0.3;

/**
 * The legend's symbol for each series as its marks are drawn: bars a square, the bytes line a
 * dashed stroke, the predicted totals a diamond (vega-lite gives a merged legend one symbol).
 */
function legendSymbols(): ChartSpec {
  const is = (name: string) => `datum.value === '${name}'`;
  return {
    symbols: {
      update: {
        shape: { signal: `${is(BYTES.name)} ? 'stroke' : ${is(PREDICTED.name)} ? 'diamond' : 'square'` },
        stroke: { signal: "scale('color', datum.value)" },
        strokeWidth: { signal: `${is(BYTES.name)} ? 2 : 0` },
        strokeDash: { signal: `${is(BYTES.name)} ? [4, 2] : [1, 0]` },
        size: { signal: `${is(BYTES.name)} ? 144 : ${is(PREDICTED.name)} ? 90 : 110` },
        opacity: { value: 1 },
      },
    },
  };
}

/**
 * The unit the bytes axis is drawn in, for the largest amount moved: bytes, KiB or MiB, the binary
 * units every other size the tool prints is in (list_layers, run, recommend), so that a chart and
 * the table beside it give one amount the same number.
 */
export function bytesUnit(max: number): { name: string; per: number } {
  if (max >= 2 ** 20) return { name: 'MiB', per: 2 ** 20 };
  if (max >= 1024) return { name: 'KiB', per: 1024 };
  return { name: 'bytes', per: 1 };
}

const FONT = 'DejaVu Sans, Verdana, sans-serif';

/** The base config: one font the PNG renderer has, white background, readable sizes. */
const TITLE = { fontSize: 15, subtitleFontSize: 12 } as const;

function config(): ChartSpec {
  return {
    font: FONT,
    background: 'white',
    padding: 12,
    axis: { labelFontSize: 11, titleFontSize: 12, labelColor: '#333', titleColor: '#222' },
    legend: { labelFontSize: 11, titleFontSize: 12, orient: 'top', direction: 'horizontal', labelLimit: 260, columnPadding: 14 },
    title: { ...TITLE, anchor: 'start', subtitleColor: '#444' },
    view: { stroke: null },
  };
}

/** Bar width and labels for `n` split points: layer names while they fit, indices only beyond. */
export function xLayout(n: number): { step: number; named: boolean; angle: number } {
  if (n <= 24) return { step: 40, named: true, angle: -40 };
  if (n <= 60) return { step: 18, named: true, angle: -60 };
  return { step: Math.max(4, Math.min(12, Math.floor(1400 / n))), named: false, angle: 0 };
}

/** Index labels at least about 40 px apart: every 1st, 2nd, 5th, 10th, ... split point by index. */
export function sparseTicks(indices: readonly number[], step: number): string[] {
  const every = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((k) => k * step >= 40) ?? 1000;
  return indices.filter((i) => i % every === 0).map(String);
}

function xLabel(s: SplitStat, named: boolean): string {
  return named ? `${s.split_index} ${s.split_layer}` : String(s.split_index);
}

export interface SplitChartOptions {
  title: string;
  /** Predicted total_ms by split index. */
  predicted?: ReadonlyMap<number, number>;
  /** The rows are predict's (one per split point: no spread to draw); default measured. */
  predictedRows?: boolean;
  /** The best split point under recommend's constraints (default: the fastest, no constraints). */
  choice?: Choice;
  /** The recommend result: its own choice is named when it is another split point. */
  recommendation?: RecommendFile;
}

/** The values the bars are drawn from, one per split point and part (exported for tests). */
export function barValues(g: SettingGroup, excluded: ReadonlyMap<number, string> = new Map()): { split_index: number; part: string; order: number; ms: number; excluded: boolean }[] {
  return g.splits.flatMap((s) => PARTS.map((p, order) => ({ split_index: s.split_index, part: p.name, order, ms: s[p.key], excluded: excluded.has(s.split_index) })));
}

/** The x axis of a chart per split point: one band per split point, labelled as xLayout says. */
function splitAxis(g: SettingGroup, lay: ReturnType<typeof xLayout>, label: ReadonlyMap<number, string>): ChartSpec {
  return {
    field: 'x',
    type: 'ordinal',
    sort: g.splits.map((s) => label.get(s.split_index)!),
    title: lay.named ? 'split point (index and layer it cuts after)' : 'split point (index)',
    axis: { labelAngle: lay.angle, labelLimit: 140, labelPadding: 4, ...(lay.named ? {} : { values: sparseTicks(g.splits.map((s) => s.split_index), lay.step) }) },
  };
}

export function splitChartSpec(g: SettingGroup, o: SplitChartOptions): ChartSpec {
  const n = g.splits.length;
  const lay = xLayout(n);
  const choice = o.choice ?? choiceFor(g);
  const unit = bytesUnit(Math.max(...g.splits.map((s) => s.transfer_bytes)));
  const label = new Map(g.splits.map((s) => [s.split_index, xLabel(s, lay.named)]));
  const withLabel = <T extends { split_index: number }>(v: T) => ({ ...v, x: label.get(v.split_index)! });
  const bars = barValues(g, choice.excluded).map(withLabel);
  const stats = g.splits.map((s) =>
    withLabel({
      split_index: s.split_index,
      split_layer: s.split_layer,
      total_ms: s.total_ms,
      total_p5: s.total_p5,
      total_p95: s.total_p95,
      transfer_bytes: s.transfer_bytes,
      moved: s.transfer_bytes / unit.per,
      top: Math.max(s.total_p95, s.edge_ms + s.transfer_ms + s.cloud_ms + s.other_ms, o.predicted?.get(s.split_index) ?? 0),
      best: s === choice.best,
      fastestExcluded: s === choice.fastest && choice.excluded.has(s.split_index),
    }),
  );
  const predicted = o.predicted ? g.splits.filter((s) => o.predicted!.has(s.split_index)).map((s) => withLabel({ split_index: s.split_index, predicted_ms: o.predicted!.get(s.split_index)! })) : [];
  const domain = [...PARTS.map((p) => p.name), BYTES.name, ...(predicted.length ? [PREDICTED.name] : [])];
  const range = [...PARTS.map((p) => p.colour), BYTES.colour, ...(predicted.length ? [PREDICTED.colour] : [])];
  const x = splitAxis(g, lay, label);
  const colour = { scale: { domain, range }, title: null, legend: { encode: legendSymbols() } };
  // The p5-p95 whisker of total_ms: a rule with a tick at each end (measured rows only).
  const whiskers: ChartSpec[] = o.predictedRows
    ? []
    : [
        {
          data: { values: stats },
          mark: { type: 'rule', color: '#222', strokeWidth: 1 },
          encoding: { x, y: { field: 'total_p5', type: 'quantitative' }, y2: { field: 'total_p95' } },
        },
        ...['total_p5', 'total_p95'].map((f) => ({
          data: { values: stats },
          mark: { type: 'tick', color: '#222', thickness: 1, size: Math.max(3, lay.step * 0.4) },
          encoding: { x, y: { field: f, type: 'quantitative' } },
        })),
      ];
  const times: ChartSpec[] = [
    {
      data: { values: bars },
      mark: { type: 'bar', width: { band: 0.8 } },
      encoding: {
        x,
        y: { field: 'ms', type: 'quantitative', stack: 'zero', title: o.predictedRows ? 'ms (predicted)' : 'ms (median over ok repetitions)' },
        color: { field: 'part', type: 'nominal', ...colour },
        order: { field: 'order', type: 'quantitative' },
        opacity: { condition: { test: 'datum.excluded', value: EXCLUDED_OPACITY }, value: 1 },
      },
    },
    ...whiskers,
    {
      data: { values: stats.filter((s) => s.best) },
      mark: { type: 'point', shape: 'triangle-down', filled: true, size: 90, color: BEST_COLOUR, yOffset: -10 },
      encoding: { x, y: { field: 'top', type: 'quantitative' } },
    },
    {
      data: { values: stats.filter((s) => s.best) },
      mark: { type: 'text', text: 'best', fontWeight: 'bold', fontSize: 12, color: BEST_COLOUR, dy: -24, ...bestAlign(choice.best ? g.splits.indexOf(choice.best) : 0, n) },
      encoding: { x, y: { field: 'top', type: 'quantitative' } },
    },
    // The fastest split point when the constraints exclude it: named so, in grey.
    {
      data: { values: stats.filter((s) => s.fastestExcluded) },
      mark: { type: 'text', text: 'fastest, excluded', fontSize: 11, color: '#555', dy: -10, ...bestAlign(g.splits.indexOf(choice.fastest), n) },
      encoding: { x, y: { field: 'top', type: 'quantitative' } },
    },
  ];
  if (predicted.length) {
    times.push({
      data: { values: predicted },
      mark: { type: 'point', shape: 'diamond', filled: true, size: lay.named ? 70 : 30, strokeWidth: 0 },
      encoding: { x, y: { field: 'predicted_ms', type: 'quantitative' }, color: { datum: PREDICTED.name, ...colour } },
    });
  }
  const bytes: ChartSpec = {
    data: { values: stats },
    mark: { type: 'line', point: n <= 60 ? { filled: true, size: 25 } : false, strokeWidth: 2, strokeDash: [5, 3] },
    encoding: {
      x,
      y: { field: 'moved', type: 'quantitative', title: `bytes moved (${unit.name})`, axis: { orient: 'right', format: ',~r', titleColor: BYTES.colour, grid: false } },
      color: { datum: BYTES.name, ...colour },
    },
  };
  const detail = (s: SplitStat) => `total ${s.total_ms.toFixed(2)} ms, ${s.transfer_bytes} bytes moved`;
  const r = o.recommendation;
  const theirs = r && r.best.split_index !== choice.best?.split_index ? [`recommend's own choice (${fileName(r.file)}, ${r.source || 'recommend'}${r.link.bandwidthMbit !== undefined ? `, at ${r.link.bandwidthMbit} Mbit/s` : ''}): ${splitName(r.best)}`] : [];
  const width = Math.max(420, n * lay.step);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    // The text may also span the two axes beside the plot (each at least 40 px: labels and title).
    title: fitTitle(width + 80, o.title, [
        o.predictedRows ? `${g.label}; predicted by onnx-manager predict` : `${g.label}; medians over ${describeReps(g)}; whiskers: p5-p95 of total_ms`,
        ...choiceLines(choice, detail),
        ...(choice.excluded.size ? [`faded: the ${choice.excluded.size} split point(s) excluded by ${choice.constraints}`] : []),
        ...theirs,
        ...(deviationText(g) ? [deviationText(g)] : []),
      ]),
    width,
    height: 320,
    config: config(),
    layer: [{ layer: times }, bytes],
    resolve: { scale: { y: 'independent' } },
  };
}

/** The CPU chart's series: each side's CPU time (bars, the time chart's colours) and the parts' wall time (ticks). */
export const CPU_SIDES = [
  { key: 'edge_cpu_ms', wall: 'edge_ms', side: 'edge', name: 'edge CPU', colour: PARTS[0].colour },
  { key: 'cloud_cpu_ms', wall: 'cloud_ms', side: 'cloud', name: 'cloud CPU', colour: PARTS[2].colour },
] as const;
const WALL = { name: 'wall time (edge_ms, cloud_ms)', colour: '#111111' };

/** The values the CPU chart is drawn from: one per split point and side that records a CPU time (exported for tests). */
export function cpuValues(g: SettingGroup): { split_index: number; side: string; cpu_ms: number; wall_ms: number }[] {
  return g.splits.flatMap((s) => CPU_SIDES.flatMap((c) => (s[c.key] === undefined ? [] : [{ split_index: s.split_index, side: c.name, cpu_ms: s[c.key]!, wall_ms: s[c.wall] }])));
}

/**
 * The CPU time of each side's part per split point (medians of edge_cpu_ms and cloud_cpu_ms), side
 * by side, with the part's wall time as a tick on its bar: what each side's machine spends on the
 * model, against how long it takes. A side that runs nothing at a split point has no bar there.
 */
export function cpuChartSpec(g: SettingGroup, o: { title: string; choice?: Choice }): ChartSpec {
  const lay = xLayout(g.splits.length);
  const label = new Map(g.splits.map((s) => [s.split_index, xLabel(s, lay.named)]));
  const x = splitAxis(g, lay, label);
  const values = cpuValues(g).map((v) => ({ ...v, x: label.get(v.split_index)! }));
  const domain = [...CPU_SIDES.map((c) => c.name), WALL.name];
  const colour = {
    scale: { domain, range: [...CPU_SIDES.map((c) => c.colour), WALL.colour] },
    title: null,
    legend: { encode: { symbols: { update: { shape: { signal: `datum.value === '${WALL.name}' ? 'stroke' : 'square'` }, stroke: { signal: "scale('color', datum.value)" }, strokeWidth: { signal: `datum.value === '${WALL.name}' ? 2.5 : 0` }, size: { value: 110 }, opacity: { value: 1 } } } } },
  };
  const xOffset = { field: 'side', type: 'nominal', sort: CPU_SIDES.map((c) => c.name), scale: { domain: CPU_SIDES.map((c) => c.name), paddingInner: 0.08 } };
  const choice = o.choice ?? choiceFor(g);
  const best = choice.best;
  const cpuOf = (s: SplitStat) => CPU_SIDES.map((c) => s[c.key]).filter((v): v is number => v !== undefined);
  const bestCpu = best && cpuOf(best).length ? [`at the best split ${best.split_index} (${best.split_layer}): ${CPU_SIDES.filter((c) => best[c.key] !== undefined).map((c) => `${c.side} ${best[c.key]!.toFixed(2)} ms CPU, ${best[c.wall].toFixed(2)} ms wall`).join(', ')}`] : [];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: o.title,
      subtitle: [
        `${g.label}; medians over ${describeReps(g)}`,
        "bars: CPU time of each side's process during its part's run (user + system)",
        "ticks: the part's wall time; no bar: that side runs nothing there",
        ...bestCpu,
      ],
    },
    width: Math.max(420, g.splits.length * lay.step),
    height: 280,
    config: config(),
    layer: [
      {
        data: { values },
        mark: { type: 'bar' },
        encoding: { x, xOffset, y: { field: 'cpu_ms', type: 'quantitative', title: 'CPU ms (median over ok repetitions)' }, color: { field: 'side', type: 'nominal', ...colour } },
      },
      {
        data: { values },
        mark: { type: 'tick', thickness: 2.5, opacity: 1 },
        encoding: { x, xOffset, y: { field: 'wall_ms', type: 'quantitative' }, color: { datum: WALL.name, ...colour } },
      },
    ],
  };
}

/** The "best" label centred over its bar, or kept inside the chart at either end. */
function bestAlign(position: number, n: number): { align: string; dx: number } {
  if (n > 3 && position >= n - 2) return { align: 'right', dx: 4 };
  if (n > 3 && position <= 1) return { align: 'left', dx: -4 };
  return { align: 'center', dx: 0 };
}

function describeReps(g: SettingGroup): string {
  const reps = g.splits.map((s) => s.reps);
  const lo = Math.min(...reps);
  const hi = Math.max(...reps);
  return lo === hi ? `${lo} ok repetition${lo === 1 ? '' : 's'} per split point` : `${lo}-${hi} ok repetitions per split point`;
}

const CROSSOVER_WIDTH = 640;

/** A chart's title and subtitle lines wrapped to the plot's width, so that the text never widens the chart. */
function fitTitle(width: number, text: string, subtitle: readonly string[]): { text: string[]; subtitle: string[] } {
  return { text: wrapText(text, width, TITLE.fontSize, true), subtitle: subtitle.flatMap((line) => wrapText(line, width, TITLE.subtitleFontSize)) };
}

/** The best split point at each bandwidth of the crossover table, with the bandwidths where it changes. */
export function crossoverChartSpec(r: RecommendFile, title: string): ChartSpec {
  const layer = new Map<number, string>([...r.splits.map((s) => [s.split_index, s.split_layer] as const), ...r.crossover.map((c) => [c.split_index, c.split_layer] as const)]);
  // A choice is a split point and, when the cut tensors are coded, the codec: `186 conv (fp16)`.
  const name = (i: number, codec?: string) => `${i} ${layer.get(i) ?? ''}`.trim() + (codec && codec !== 'raw' ? ` (${codec})` : '');
  const xs = r.crossover.map((c) => c.bandwidth_mbit);
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  // The step line goes through the exact change points, the dots are the table's rows.
  const first = r.changes[0] ? name(r.changes[0].from, r.changes[0].from_codec) : name(r.crossover[0]!.split_index, r.crossover[0]!.tensor_codec);
  const steps = [
    { bandwidth_mbit: lo, split: first },
    ...r.changes.filter((c) => c.bandwidth_mbit > lo && c.bandwidth_mbit < hi).map((c) => ({ bandwidth_mbit: c.bandwidth_mbit, split: name(c.to, c.to_codec) })),
  ];
  steps.push({ bandwidth_mbit: hi, split: steps.at(-1)!.split });
  const dots = r.crossover.map((c) => ({ bandwidth_mbit: c.bandwidth_mbit, split: name(c.split_index, c.tensor_codec), total_ms: c.total_ms }));
  const order = [...new Set([...steps.map((s) => s.split), ...dots.map((d) => d.split)])].sort((a, b) => parseInt(b, 10) - parseInt(a, 10));
  const x = { field: 'bandwidth_mbit', type: 'quantitative', scale: { type: 'log', domain: [lo, hi] }, title: 'bandwidth edge <-> store (Mbit/s, log scale)', axis: { format: '~s', grid: true } };
  const y = { field: 'split', type: 'ordinal', sort: order, scale: { domain: order }, title: 'best split point', axis: { labelLimit: 200 } };
  const layers: ChartSpec[] = [
    // Drawn in bandwidth order (vega-lite's default order follows the ordinal y here).
    { data: { values: steps }, mark: { type: 'line', interpolate: 'step-after', color: '#4c78a8', strokeWidth: 2.5 }, encoding: { x, y, order: { field: 'bandwidth_mbit', type: 'quantitative' } } },
    { data: { values: dots }, mark: { type: 'point', filled: true, color: '#4c78a8', size: 60 }, encoding: { x, y } },
  ];
  // A line's label runs up along its left side; near the plot's left edge there is no room (the
  // split point names are there), so it goes on the line's right side instead.
  const atLeftEdge = (bw: number) => Math.log(bw / lo) < 0.04 * Math.log(hi / lo);
  const vertical = (values: { bandwidth_mbit: number; label: string }[], colour: string, top: boolean): ChartSpec[] =>
    [values.filter((v) => !atLeftEdge(v.bandwidth_mbit)), values.filter((v) => atLeftEdge(v.bandwidth_mbit))]
      .map((side, right) => ({ side, right: right === 1 }))
      .filter(({ side }) => side.length > 0)
      .map(({ side, right }) => ({
        data: { values: side },
        mark: { type: 'text', angle: -90, align: top ? 'right' : 'left', baseline: right ? 'top' : 'bottom', dx: top ? -6 : 6, dy: right ? 3 : -3, fontSize: 11, color: colour, y: top ? 0 : 'height' },
        encoding: { x, text: { field: 'label' } },
      }));
  if (r.changes.length) {
    const short = (i: number, codec?: string) => (codec && codec !== 'raw' ? `${i} (${codec})` : `${i}`);
    const changes = r.changes.map((c) => ({ bandwidth_mbit: c.bandwidth_mbit, label: `${short(c.from, c.from_codec)} -> ${short(c.to, c.to_codec)} at ${Number(c.bandwidth_mbit.toPrecision(3))} Mbit/s` }));
    layers.push({ data: { values: changes }, mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3] }, encoding: { x } }, ...vertical(changes, '#d62728', true));
  }
  if (r.link.bandwidthMbit !== undefined && r.link.bandwidthMbit >= lo && r.link.bandwidthMbit <= hi) {
    const asked = [{ bandwidth_mbit: r.link.bandwidthMbit, label: `asked: ${r.link.bandwidthMbit} Mbit/s -> split ${r.best.split_index}${r.best.tensor_codec && r.best.tensor_codec !== 'raw' ? ` (${r.best.tensor_codec})` : ''}` }];
    layers.push({ data: { values: asked }, mark: { type: 'rule', color: '#111', strokeWidth: 1.5 }, encoding: { x } }, ...vertical(asked, '#111', false));
  }
  // recommend's crossover table holds only the split points that meet its constraints.
  const constraints = constraintWords(r.constraints);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: fitTitle(CROSSOVER_WIDTH, constraints ? `${title}, under ${constraints}` : title, [
        `best split vs bandwidth at rtt ${r.link.rttMs} ms; ${r.changes.length ? `the choice changes ${r.changes.length} time(s) (red)` : 'the choice is the same at every bandwidth'}; dots: the crossover table`,
        constraints
          ? `only the split points that meet ${constraints} (recommend's constraints; ${excludedWords(r.splits)})`
          : 'no constraints: every split point is a candidate',
        r.source || 'recommend',
      ]),
    width: CROSSOVER_WIDTH,
    height: Math.max(220, 50 * order.length),
    config: config(),
    layer: layers,
  };
}
