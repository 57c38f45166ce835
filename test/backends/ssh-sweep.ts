/**
 * What a sweep run through the ssh backend must show, whichever SSH server ran it: every row ok,
 * its outputs equal to the full model's, the cloud parts run by the ssh worker.
 */
import assert from 'node:assert/strict';
import { readRows } from '../../src/profile/csv.js';

/** The results CSV holds `count` rows, each ok, equal to the full model and run through ssh where a tensor crossed; returns them. */
export async function assertSweepOk(csv: string, count: number): Promise<Record<string, string>[]> {
  const rows = await readRows(csv);
  assert.equal(rows.length, count);
  for (const row of rows) {
    assert.equal(row.status, 'ok', `${row.split_index}/${row.rep}: ${row.error}`);
    assert.ok(Number(row.max_abs_diff) <= 1e-5, `split ${row.split_index}: max_abs_diff ${row.max_abs_diff}`);
    assert.equal(row.backend, Number(row.transfer_bytes) > 0 ? 'ssh' : 'none', `split ${row.split_index}`);
  }
  return rows;
}
