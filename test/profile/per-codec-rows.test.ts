/**
 * perCodecRows: the rows of a split point that sends nothing (backend none), measured under one
 * codec, stand in every codec of the file measured with the same provider and link; a file from
 * before, with such rows under each codec, is read as it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perCodecRows } from '../../src/profile/csv.js';

const row = (split: number, codec: string, backend: string, extra: Record<string, string> = {}) => ({
  split_index: String(split),
  tensor_codec: codec,
  backend,
  exec_type: 'CPU',
  bandwidth_mbit: '',
  rtt_ms: '',
  rep: '0',
  ...extra,
});
const keys = (rows: readonly Record<string, string>[]) => rows.map((r) => `${r.split_index}/${r.tensor_codec}/${r.bandwidth_mbit || '-'}`);

describe('perCodecRows', () => {
  it("copies a split point that sends nothing into each other codec of its provider and link, and nowhere else", () => {
    const rows = [row(0, 'raw', 'local'), row(0, 'fp16', 'local'), row(0, 'int8', 'local', { bandwidth_mbit: '50' }), row(2, 'raw', 'none')];
    assert.deepEqual(keys(perCodecRows(rows)), ['0/raw/-', '0/fp16/-', '0/int8/50', '2/raw/-', '2/fp16/-']);
  });

  it('leaves a file from before (the split point under each codec) as it is', () => {
    const rows = [row(0, 'raw', 'local'), row(0, 'fp16', 'local'), row(2, 'raw', 'none'), row(2, 'fp16', 'none')];
    assert.deepEqual(perCodecRows(rows), rows);
  });

  it('takes rows without the tensor_codec column as raw', () => {
    const rows: Record<string, string>[] = [{ split_index: '0', backend: 'local', tensor_codec: 'fp16' }, { split_index: '2', backend: 'none' }];
    assert.deepEqual(perCodecRows(rows).map((r) => `${r.split_index}/${r.tensor_codec ?? '(raw)'}`), ['0/fp16', '2/(raw)', '2/fp16']);
  });
});
