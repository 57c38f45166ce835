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
import { humanBytes } from '../../src/cli/format.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-runall-best-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];

/** Rewrites the total_ms of every row of `file`, in row order per key of `key(row)`; returns the rows. */
function setTotals(file: string, totals: Record<string, number[]>, key: (r: Record<string, string>) => string): Record<string, string>[] {
  const rows = read(file);
  for (const r of rows) {
    assert.equal(r.status, 'ok', r.error);
    r.total_ms = String(totals[key(r)]!.shift());
  }
  writeFileSync(file, stringify([Object.keys(rows[0]!), ...rows.map((r) => Object.values(r))]));
  return rows;
}

describe('run_all fastest measured split', () => {
  it('is the median the summary holds, per tensor codec, with that codec\'s bytes', async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'best.csv');
    const base = ['--operation', 'run_all', '--onnx_file', lenet, '--splits', '5', '12', '--rep', '2', '--warmup', '0', '--tensor_codec', 'raw', 'fp16', '--results_file', csv];
    const first = await cli(base);
    assert.equal(first.code, 0, first.err);
    // Totals chosen so that the lower middle value and the median pick other numbers (and, pooled
    // over both codecs, another split point): raw 5 {1, 100} median 50.5, 12 {40, 0.66} median
    // 20.33; fp16 5 {2, 3} median 2.5, and 12 (the edge-only split point, which sends nothing, is
    // measured once, under raw, and stands in fp16's comparison too) median 20.33.
    const totals: Record<string, number[]> = { '5/raw': [1, 100], '12/raw': [40, 0.66], '5/fp16': [2, 3] };
    const rows = setTotals(csv, totals, (r) => `${r.split_index}/${r.tensor_codec}`);
    const again = await cli([...base, '--resume']);
    assert.equal(again.code, 0, again.err);
    const lines = again.out.split('\n').filter((l) => l.startsWith('fastest measured split'));
    const fp16Bytes = rows.find((r) => r.split_index === '5' && r.tensor_codec === 'fp16')!.transfer_bytes;
    assert.equal(lines.length, 2, again.out);
    assert.match(lines[0]!, /^fastest measured split \(tensor codec raw\): 12 \(logits\), median total 20\.33 ms, 0 B sent/, again.out);
    const rawBytes = rows.find((r) => r.split_index === '5' && r.tensor_codec === 'raw')!.transfer_bytes;
    assert.notEqual(humanBytes(Number(fp16Bytes)), humanBytes(Number(rawBytes)), 'the codecs send other byte counts');
    assert.ok(lines[1]!.startsWith(`fastest measured split (tensor codec fp16): 5 (${rows.find((r) => r.split_index === '5')!.split_layer}), median total 2.50 ms, ${humanBytes(Number(fp16Bytes))} sent`), again.out);
    // The summary says the same.
    const summary = read(csv.replace(/\.csv$/, '.summary.csv'));
    const at = (i: string, codec: string) => Number(summary.find((s) => s.split_index === i && s.tensor_codec === codec)!.total_ms_median);
    assert.equal(at('12', 'raw'), 20.33);
    assert.equal(at('5', 'fp16'), 2.5);
    assert.equal(at('12', 'fp16'), 20.33);
  });

  it('with one tensor codec names none, and takes the median of an even count', async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'one.csv');
    const base = ['--operation', 'run_all', '--onnx_file', lenet, '--splits', '0', '12', '--rep', '2', '--warmup', '0', '--results_file', csv];
    assert.equal((await cli(base)).code, 0);
    setTotals(csv, { '0': [30, 31], '12': [40.342, 0.66] }, (r) => r.split_index!);
    const again = await cli([...base, '--resume']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /^fastest measured split: 12 \(logits\), median total 20\.50 ms, 0 B sent/m, again.out);
  });

  it('of a finished sweep whose rows failed at a split point, counts the split points with an ok row (not "so far")', async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'failed.csv');
    // No cloud worker answers within 0.1 ms: split 0 fails; the edge-only split 12 needs no cloud.
    const r = await cli(['--operation', 'run_all', '--onnx_file', lenet, '--timeout', '0.0001', '--splits', '0', '12', '--rep', '2', '--warmup', '0', '--results_file', csv]);
    assert.equal(r.code, 1, r.err);
    assert.ok(read(csv).filter((x) => x.split_index === '0').every((x) => x.status !== 'ok'), 'split 0 failed');
    assert.match(r.out, /^fastest measured split \(of the 1 of 2 split points with an ok row\): 12 \(logits\)/m, r.out);
    assert.doesNotMatch(r.out, /so far/, r.out);
  });
});
