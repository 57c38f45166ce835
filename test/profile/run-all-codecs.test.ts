/**
 * run_all --tensor_codec: one row set per codec, the cut tensors sent coded (fewer bytes for the
 * casts), the codec's time in encode_ms and cloud_decode_ms, results close to the full model.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
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
    assert.equal(got.length, splits * 2 * 3);
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
    assert.equal(summary.length, splits * 3, 'one summary line per split point and codec');
    assert.deepEqual([...new Set(summary.map((s) => s.tensor_codec))].sort(), ['deflate', 'fp16', 'raw']);
    // --resume with the same codecs has nothing left to do.
    const again = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--graph_opt', 'disabled', '--threads', '1', '--tensor_codec', 'raw', 'fp16', 'deflate', '--results_file', csv, '--resume']);
    assert.equal(again.code, 0, again.err);
    assert.equal(rows(csv).length, got.length);
  });

  it('refuses an unknown codec with one line', async () => {
    const file = writeZooModel('lenet5', dir);
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--tensor_codec', 'lz4', '--results_file', join(dir, 'x.csv')]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /tensor_codec/);
  });
});
