/**
 * --resume of a results file edited by hand: rows removed or reordered are run again or kept;
 * a row whose numbers, split point or fields cannot be right, or an ok row given twice, is
 * refused naming the row by its line, and the file is left as it was (they were believed: a total_ms of
 * 'abc' and -5 made split 1 the fastest with a median of 0.00 ms, and split 99 of a model of 13
 * went into the summary).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { readRows } from '../../src/profile/csv.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();
let dir: string;
let model: string;
let header: string[];
let rows: Record<string, string>[];

const sweep = (file: string, ...extra: string[]) => cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--splits', '1', '2', '--results_file', file, ...extra]);

before(async () => {
  dir = await temp('resume-edited');
  model = writeZooModel('lenet5', dir);
  const file = join(dir, 'base.csv');
  const r = await sweep(file);
  assert.equal(r.code, 0, r.err);
  rows = await readRows(file);
  header = Object.keys(rows[0]!);
});

function edited(name: string, lines: string[][]): string {
  const file = join(dir, `${name}.csv`);
  writeFileSync(file, stringify([header, ...lines]));
  return file;
}
const values = (r: Record<string, string>) => header.map((c) => r[c]!);
const withCell = (k: number, column: string, value: string) => rows.map((r, i) => values(i === k ? { ...r, [column]: value } : r));

describe('--resume of a results file edited by hand', () => {
  it('rows removed and reordered: the missing ones run again, each (split point, repetition) once', async () => {
    const file = edited('reordered', [values(rows[3]!), values(rows[0]!)]);
    const r = await sweep(file, '--resume');
    assert.equal(r.code, 0, r.err);
    const after = await readRows(file);
    assert.deepEqual(after.map((x) => `${x.split_index}/${x.rep}`).sort(), ['1/0', '1/1', '2/0', '2/1']);
  });

  const refused: [string, () => string[][], RegExp][] = [
    ['a time that is no number', () => withCell(1, 'total_ms', 'abc'), /line 3 \(split 1, rep 1\): total_ms 'abc' is not a number of milliseconds >= 0/],
    ['a negative time', () => withCell(0, 'edge_ms', '-5'), /line 2 \(split 1, rep 0\): edge_ms '-5' is not a number of milliseconds >= 0/],
    ['a split point the model does not have', () => withCell(2, 'split_index', '99'), /line 4: split_index '99' is not a split point of the model \(0 to 12\)/],
    ['a split layer that is not its split point', () => withCell(2, 'split_layer', 'nonsense'), /line 4 \(split 2, rep 0\): split_layer 'nonsense' is not split point 2's \(relu_0_out\)/],
    ['a repetition that is no count', () => withCell(1, 'rep', 'x'), /line 3 \(split 1, rep x\): rep 'x' is not a repetition number/],
    ['a status of its own', () => withCell(1, 'status', 'fine'), /line 3 \(split 1, rep 1\): status 'fine' is not ok, error or timeout/],
    ['a row cut short', () => rows.map((r, i) => (i === 1 ? values(r).slice(0, 5) : values(r))), /line 3: 5 fields, the header has \d+/],
    ['an ok row twice', () => [...rows.map(values), values(rows[1]!)], /line 6 \(split 1, rep 1\): a second ok row of split 1, rep 1 \(line 3 is the first\)/],
  ];
  for (const [what, lines, message] of refused) {
    it(`${what} is refused naming the row; the file is left as it was`, async () => {
      const file = edited(what.replace(/\W+/g, '-'), lines());
      const before = readFileSync(file, 'utf8');
      const r = await sweep(file, '--resume');
      assert.equal(r.code, 2, r.err);
      assert.equal(r.errLines.length, 1, r.err);
      assert.match(r.errLines[0]!, message);
      assert.match(r.errLines[0]!, /fix or remove that row, or choose another --results_file$/);
      assert.equal(readFileSync(file, 'utf8'), before);
    });
  }
});
