/**
 * run_all --tensor_codec: one row set per codec, the cut tensors sent coded (fewer bytes for the
 * casts), the codec's time in encode_ms and cloud_decode_ms, results close to the full model. A
 * split point that sends nothing (the edge-only one) is measured once, under the first codec, and
 * stands in every codec's comparison.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { readMeasured } from '../../src/predict/measured.js';
import { readResults } from '../../src/report/results.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-runall-codec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rows = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];

describe('run_all --tensor_codec', () => {
  it('int8:axis=N says once which split points have cut tensors without axis N (they go per tensor), and int8:axis=1 says nothing', async () => {
    const file = writeZooModel('lenet5', dir);
    const csv = join(dir, 'axis.csv');
    // lenet5's split points 3 and 7 cut a [1, 6, 14, 14] and a [1, 400] tensor.
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--splits', '3', '7', '--rep', '2', '--warmup', '0', '--tensor_codec', 'int8:axis=2', 'int8:axis=1', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const notes = r.out.split('\n').filter((l) => l.startsWith('note:'));
    assert.deepEqual(notes, ['note: --tensor_codec int8:axis=2: the cut tensors of 1 of 2 split points (7) have no axis 2; those are quantised per tensor, as int8']);
  });

  it('fp16 and deflate (and raw) give one row set each, coded on the wire, close to the full model', async () => {
    const file = writeZooModel('lenet5', dir);
    const csv = join(dir, 'lenet5.csv');
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--graph_opt', 'disabled', '--threads', '1', '--tensor_codec', 'raw', 'fp16', 'deflate', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    const splits = new Set(got.map((x) => x.split_index)).size;
    // The edge-only split point sends nothing: measured once, under raw (the first codec).
    assert.equal(got.length, (splits - 1) * 2 * 3 + 2);
    assert.deepEqual([...new Set(got.filter((x) => Number(x.transfer_bytes) === 0).map((x) => x.tensor_codec))], ['raw']);
    const by = (codec: string, split: string) => got.filter((x) => x.tensor_codec === codec && x.split_index === split);
    for (const row of got) {
      assert.equal(row.status, 'ok', `${row.split_index} ${row.tensor_codec}: ${row.error}`);
      const edgeOnly = Number(row.transfer_bytes) === 0;
      if (edgeOnly) continue;
      const raw = by('raw', row.split_index!)[0]!;
      const bound = row.tensor_codec === 'fp16' ? 0.05 : 1e-5;
      assert.ok(Number(row.max_abs_diff) <= bound, `split ${row.split_index} ${row.tensor_codec}: max diff ${row.max_abs_diff}`);
      if (row.tensor_codec === 'raw') {
        assert.equal(row.codec_encode_ms, '0');
        assert.equal(row.cloud_codec_decode_ms, '', 'nothing coded: no cloud codec time');
        continue;
      }
      assert.ok(Number(row.codec_encode_ms) <= Number(row.encode_ms), 'codec time is part of encode_ms');
      assert.ok(Number(row.cloud_codec_decode_ms) >= 0 && Number(row.cloud_codec_decode_ms) <= Number(row.cloud_decode_ms), 'cloud codec time is part of cloud_decode_ms');
      assert.equal(row.tensor_bytes, raw.tensor_bytes, 'tensor_bytes: the raw cut');
      if (row.tensor_codec === 'fp16') {
        const rawBytes = Number(raw.transfer_bytes);
        assert.ok(Math.abs(Number(row.transfer_bytes) - (rawBytes - Number(row.tensor_bytes) / 2)) < 64 * row.cut_tensors!.split(';').length, `fp16 halves the cut: ${row.transfer_bytes} vs raw ${rawBytes}`);
      }
    }
    const summary = parse(readFileSync(join(dir, 'lenet5.summary.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(summary.length, splits * 3, 'one summary line per split point and codec, the edge-only one too');
    assert.deepEqual([...new Set(summary.map((s) => s.tensor_codec))].sort(), ['deflate', 'fp16', 'raw']);
    // --resume with the same codecs has nothing left to do.
    const again = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--graph_opt', 'disabled', '--threads', '1', '--tensor_codec', 'raw', 'fp16', 'deflate', '--results_file', csv, '--resume']);
    assert.equal(again.code, 0, again.err);
    assert.equal(rows(csv).length, got.length);
  });

  it('measures a split point that sends nothing once, under the first codec, and every reader counts it in each codec; --resume leaves it done', async () => {
    const file = writeZooModel('lenet5', dir);
    const csv = join(dir, 'once.csv');
    // lenet5's split 12 is the edge-only one (logits): no cloud part, nothing sent.
    const base = ['--operation', 'run_all', '--onnx_file', file, '--splits', '5', '12', '--rep', '2', '--warmup', '0', '--results_file', csv];
    const r = await cli([...base, '--tensor_codec', 'raw', 'fp16']);
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    const alone = got.filter((x) => x.split_index === '12');
    assert.equal(alone.length, 2, 'the edge-only split point: one row per repetition, not one per codec');
    assert.deepEqual([...new Set(alone.map((x) => `${x.tensor_codec}/${x.backend}`))], ['raw/none']);
    assert.equal(got.filter((x) => x.split_index === '5').length, 4);
    // The count line adds up to the rows written.
    assert.match(r.out, /^6 rows \(1 split point x 2 repetitions x 2 tensor codecs, \+ split point 12, which sends nothing, x 2 repetitions under raw only\) in /m, r.out);
    // The summary has the split point in each codec's lines.
    const summary = parse(readFileSync(join(dir, 'once.summary.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(summary.filter((s) => s.split_index === '12').map((s) => `${s.tensor_codec}:${s.reps}`), ['raw:2', 'fp16:2']);
    // The edge-only split point the fastest: named in each codec's line.
    const edited = got.map((x) => ({ ...x, total_ms: x.split_index === '12' ? '1' : '500' }));
    writeFileSync(csv, stringify([Object.keys(got[0]!), ...edited.map((x) => Object.values(x))]));
    // Resumed, with the codecs in another order: nothing is left to do.
    const again = await cli([...base, '--tensor_codec', 'fp16', 'raw', '--resume']);
    assert.equal(again.code, 0, again.err);
    assert.equal(rows(csv).length, 6, 'nothing measured again');
    assert.match(again.out, /^0 rows measured now for 1 split point x 2 repetitions x 2 tensor codecs, \+ split point 12, which sends nothing, x 2 repetitions under fp16 only \(6 rows; 6 were in the file already, among its 6 rows from before\)/m, again.out);
    const fastest = again.out.split('\n').filter((l) => l.startsWith('fastest measured split'));
    assert.deepEqual(
      fastest.map((l) => l.replace(/, median.*/, '')),
      ['fastest measured split (tensor codec raw): 12 (logits)', 'fastest measured split (tensor codec fp16): 12 (logits)'],
      again.out,
    );
    // plot_results' and the report's groups, and predict --measured's and recommend's medians.
    const groups = (await readResults(csv)).groups;
    assert.deepEqual(
      groups.map((g) => `${g.setting.tensor_codec}: ${g.splits.map((s) => `${s.split_index}x${s.reps}`).join(' ')}`),
      ['raw: 5x2 12x2', 'fp16: 5x2 12x2'],
    );
    assert.deepEqual(
      (await readMeasured(csv)).map((m) => `${m.split_index}/${m.tensor_codec}x${m.reps}`),
      ['5/rawx2', '5/fp16x2', '12/rawx2', '12/fp16x2'],
    );
  });

  it('refuses an unknown codec with one line', async () => {
    const file = writeZooModel('lenet5', dir);
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--tensor_codec', 'lz4', '--results_file', join(dir, 'x.csv')]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /tensor_codec/);
  });
});
