/**
 * The fault suite's "run_all killed and resumed" scenario, small: the real run_all on lenet5
 * against the embedded S3 server in a process of its own, killed (SIGKILL) at seeded moments that
 * follow the sweep's progress, and resumed until it finishes. Every seeded kill happens (a fast
 * sweep no longer finishes before the later moments), and the table's figures are 0.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Rng } from '../../faults/rng.js';
import { embeddedStore } from '../../faults/stores.js';
import { killMoments, runAllKilled } from '../../faults/sweep-faults.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { tempDirs } from '../helpers.js';
import { zoo } from '../models/zoo.js';

const freshDir = tempDirs();

describe('run_all killed and resumed at moments that follow the sweep', () => {
  it('kill moments are seeded row counts, rising, each inside the sweep', () => {
    const a = killMoments(new Rng(7), 78, 6);
    assert.deepEqual(a, killMoments(new Rng(7), 78, 6), 'seeded');
    assert.equal(a.length, 6);
    for (let k = 1; k < a.length; k++) assert.ok(a[k]! > a[k - 1]!, `rising: ${a.join(',')}`);
    assert.ok(a[0]! >= 1 && a.at(-1)! < 78 * 0.9, `inside the sweep: ${a.join(',')}`);
    assert.throws(() => killMoments(new Rng(1), 5, 6), /6 kills do not fit in a sweep of 5 rows/);
  });

  it('every seeded kill happens, and no row is lost, duplicated or wrongly ok', { timeout: 300_000 }, async () => {
    const work = await freshDir('faults-killed');
    const model = join(work, 'lenet5.onnx');
    writeFileSync(model, encodeModel(zoo.find((z) => z.name === 'lenet5')!.build()));
    const store = await embeddedStore(join(work, 's3'));
    try {
      const t = await runAllKilled(store, { model, splits: 13, rep: 1, work, seed: 5 }, 5);
      assert.deepEqual(
        { faults: t.faults, lost: t.rowsLost, duplicated: t.rowsDuplicated, wronglyOk: t.rowsWronglyOk, mishandled: t.mishandled },
        { faults: 5, lost: 0, duplicated: 0, wronglyOk: 0, mishandled: 0 },
        t.notes.join('\n'),
      );
    } finally {
      await store.stop();
    }
  });
});
