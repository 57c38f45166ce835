/**
 * run_all's closing "fastest measured split" line: the same median as the summary (the mean of
 * the two middle values for an even count), one line per tensor codec.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-runall-best-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];

describe('run_all fastest measured split', () => {
  it('is the median the summary holds, per tensor codec, with that codec\'s bytes', async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'best.csv');
    const base = ['--operation', 'run_all', '--onnx_file', lenet, '--splits', '5', '12', '--rep', '2', '--warmup', '0', '--tensor_codec', 'raw', 'fp16', '--results_file', csv];
    const first = await cli(base);
    assert.equal(first.code, 0, first.err);
    const rows = read(csv);
    // Totals chosen so that the lower middle value and the median pick other numbers (and, pooled
    // over both codecs, another split point): raw 5 {1, 100} median 50.5, 12 {40, 0.66} median
    // 20.33; fp16 5 {2, 3} median 2.5, 12 {40, 0.66} median 20.33.
    const totals: Record<string, number[]> = { '5/raw': [1, 100], '12/raw': [40, 0.66], '5/fp16': [2, 3], '12/fp16': [40, 0.66] };
    for (const r of rows) {
      assert.equal(r.status, 'ok', r.error);
      r.total_ms = String(totals[`${r.split_index}/${r.tensor_codec}`]!.shift());
    }
    writeFileSync(csv, stringify([Object.keys(rows[0]!), ...rows.map((r) => Object.values(r))]));
    const again = await cli([...base, '--resume']);
    assert.equal(again.code, 0, again.err);
    const lines = again.out.split('\n').filter((l) => l.startsWith('fastest measured split'));
    const fp16Bytes = rows.find((r) => r.split_index === '5' && r.tensor_codec === 'fp16')!.transfer_bytes;
    assert.equal(lines.length, 2, again.out);
    assert.match(lines[0]!, /^fastest measured split \(tensor codec raw\): 12 \(logits\), median total 20\.33 ms, 0 B sent/, again.out);
    assert.match(lines[1]!, new RegExp(`^fastest measured split \\(tensor codec fp16\\): 5 \\(\\S+\\), median total 2\\.50 ms, ${Number(fp16Bytes) > 1024 ? '' : `${fp16Bytes} B `}`), again.out);
    // The summary says the same.
    const summary = read(csv.replace(/\.csv$/, '.summary.csv'));
    const at = (i: string, codec: string) => Number(summary.find((s) => s.split_index === i && s.tensor_codec === codec)!.total_ms_median);
    assert.equal(at('12', 'raw'), 20.33);
    assert.equal(at('5', 'fp16'), 2.5);
  });

  it('with one tensor codec names none, and takes the median of an even count', async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'one.csv');
    const base = ['--operation', 'run_all', '--onnx_file', lenet, '--splits', '0', '12', '--rep', '2', '--warmup', '0', '--results_file', csv];
    assert.equal((await cli(base)).code, 0);
    const rows = read(csv);
    const totals: Record<string, number[]> = { '0': [30, 31], '12': [40.342, 0.66] };
    for (const r of rows) r.total_ms = String(totals[r.split_index]!.shift());
    writeFileSync(csv, stringify([Object.keys(rows[0]!), ...rows.map((r) => Object.values(r))]));
    const again = await cli([...base, '--resume']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /^fastest measured split: 12 \(logits\), median total 20\.50 ms, 0 B sent/m, again.out);
  });
});
