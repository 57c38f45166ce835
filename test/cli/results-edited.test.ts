/**
 * A run_all results file edited by hand, read by plot_results, report, recommend --results_file
 * and predict --measured: a time that is no number, negative, NaN or empty, a row cut short, or a
 * header that lost a column, is refused in one line naming the file, the line and the column
 * (they were believed: a total_ms of 'abc' or -5 made that split point the fastest, at 0.00 ms).
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { readRows } from '../../src/profile/csv.js';
import { PREDICT_COLUMNS } from '../../src/predict/predict.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();
let dir: string;
let model: string;
let header: string[];
let rows: Record<string, string>[];

before(async () => {
  dir = await temp('results-edited');
  model = writeZooModel('lenet5', dir);
  const file = join(dir, 'base.csv');
  const r = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--splits', '1', '2', '--results_file', file]);
  assert.equal(r.code, 0, r.err);
  rows = await readRows(file);
  header = Object.keys(rows[0]!);
});

const values = (r: Record<string, string>, h = header) => h.map((c) => r[c]!);
const withCell = (k: number, column: string, value: string) => rows.map((r, i) => values(i === k ? { ...r, [column]: value } : r));

/** Each reader of a run_all CSV, as a user runs it on `file`. */
const readers: [string, (file: string) => string[]][] = [
  ['plot_results', (file) => ['--operation', 'plot_results', '--results_file', file]],
  ['report', (file) => ['--operation', 'report', '--results_file', file]],
  ['recommend', (file) => ['--operation', 'recommend', '--onnx_file', model, '--results_file', file]],
  ['predict --measured', (file) => ['--operation', 'predict', '--onnx_file', model, '--measured', file, '--profile_rep', '1', '--results_file', join(dir, 'never.predict.csv')]],
];

const edits: [string, () => string[][], (() => string[]) | undefined, RegExp][] = [
  ['a total_ms of abc', () => withCell(1, 'total_ms', 'abc'), undefined, /: line 3 \(split 1, rep 1\): total_ms 'abc' is not a number of milliseconds >= 0/],
  ['a negative total_ms', () => withCell(0, 'total_ms', '-5'), undefined, /: line 2 \(split 1, rep 0\): total_ms '-5' is not a number of milliseconds >= 0/],
  ['a total_ms of NaN', () => withCell(2, 'total_ms', 'NaN'), undefined, /: line 4 \(split 2, rep 0\): total_ms 'NaN' is not a number of milliseconds >= 0/],
  ['an empty total_ms of an ok row', () => withCell(3, 'total_ms', ''), undefined, /: line 5 \(split 2, rep 1\): total_ms '' is not a number of milliseconds >= 0/],
  ['an edge_ms of abc', () => withCell(0, 'edge_ms', 'abc'), undefined, /: line 2 \(split 1, rep 0\): edge_ms 'abc' is not a number of milliseconds >= 0/],
  ['a transfer_bytes of -1', () => withCell(0, 'transfer_bytes', '-1'), undefined, /: line 2 \(split 1, rep 0\): transfer_bytes '-1' is not a number of bytes >= 0/],
  ['a row cut short', () => rows.map((r, i) => (i === 1 ? values(r).slice(0, 5) : values(r))), undefined, /: line 3: 5 fields, the header has \d+/],
  ['a header that lost a column', () => rows.map((r) => values(r)), () => header.filter((c) => c !== 'edge_load_ms'), /: line 2: (\d+) fields, the header has \d+/],
  ['a header without total_ms', () => rows.map((r) => values(r, header.filter((c) => c !== 'total_ms'))), () => header.filter((c) => c !== 'total_ms'), /no column total_ms/],
];

describe('a run_all results file edited by hand, read for pictures, a report or a recommendation', () => {
  for (const [what, lines, head, message] of edits) {
    for (const [reader, args] of readers) {
      it(`${reader}: ${what} is refused in one line naming the file and where`, async () => {
        const file = join(dir, `${what.replace(/\W+/g, '-')}.${reader.replace(/\W+/g, '-')}.csv`);
        writeFileSync(file, stringify([head?.() ?? header, ...lines()]));
        const before = readdirSync(dir).sort();
        const r = await cli(args(file));
        assert.notEqual(r.code, 0, r.out);
        assert.equal(r.errLines.length, 1, r.err);
        assert.ok(r.errLines[0]!.startsWith(`onnx-manager: ${file}`), r.errLines[0]);
        assert.match(r.errLines[0]!, message);
        assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
        assert.deepEqual(readdirSync(dir).sort(), before, 'nothing written');
      });
    }
  }
});

it('a max_abs_diff of Infinity (outputs of another shape, as run_all writes it) is read, not refused', async () => {
  const file = join(dir, 'infinite.csv');
  writeFileSync(file, stringify([header, ...withCell(1, 'max_abs_diff', 'Infinity')]));
  const r = await cli(['--operation', 'recommend', '--onnx_file', model, '--results_file', file]);
  assert.equal(r.code, 0, r.err);
});

describe('a predict results file edited by hand, drawn by plot_results (alone or as --predicted)', () => {
  /** A predict CSV of lenet5's split points 1 and 2, with `edit` applied to the second row. */
  const predicted = (name: string, edit: Record<string, string>): string => {
    const value = (c: string, split: number, layer: string): string =>
      c === 'split_index' ? String(split) : c === 'split_layer' || c === 'cut_tensors' ? layer : /_bytes$/.test(c) ? '2' : /_(ms|mb)$/.test(c) ? '1.5' : c === 'tensor_codec' ? 'raw' : '';
    const row = (split: number, layer: string) => Object.fromEntries(PREDICT_COLUMNS.map((c) => [c, value(c, split, layer)]));
    const file = join(dir, `${name}.predict.csv`);
    const rs = [row(1, 'conv_0_out'), { ...row(2, 'relu_0_out'), ...edit }];
    writeFileSync(file, stringify([[...PREDICT_COLUMNS], ...rs.map((r) => PREDICT_COLUMNS.map((c) => r[c]!))]));
    return file;
  };
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a total_ms of abc', { total_ms: 'abc' }, /: line 3 \(split 2\): total_ms 'abc' is not a number of milliseconds >= 0/],
    ['a negative edge_ms', { edge_ms: '-5' }, /: line 3 \(split 2\): edge_ms '-5' is not a number of milliseconds >= 0/],
    ['an empty total_ms', { total_ms: '' }, /: line 3 \(split 2\): total_ms '' is not a number of milliseconds >= 0/],
  ];
  for (const [what, edit, message] of cases) {
    it(`${what} is refused in one line naming the file and where`, async () => {
      const file = predicted(what.replace(/\W+/g, '-'), edit);
      const alone = await cli(['--operation', 'plot_results', '--results_file', file]);
      assert.equal(alone.code, 2, alone.err);
      assert.equal(alone.errLines.length, 1, alone.err);
      assert.match(alone.errLines[0]!, new RegExp(`^onnx-manager: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${message.source}; fix or remove that row, or choose another --results_file$`));
      const base = join(dir, 'base.csv');
      const over = await cli(['--operation', 'plot_results', '--results_file', base, '--predicted', file]);
      assert.equal(over.code, 2, over.err);
      assert.equal(over.errLines.length, 1, over.err);
      assert.match(over.errLines[0]!, /; fix or remove that row, or choose another --predicted$/);
    });
  }
});
