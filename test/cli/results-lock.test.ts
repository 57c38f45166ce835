/**
 * Two run_all on one results file at once: the second is refused while the first runs (each
 * appended every row: 78 rows for 39), and a lock left by a killed run is taken over.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readRows } from '../../src/profile/csv.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();
let dir: string;
let model: string;

before(async () => {
  dir = await temp('results-lock');
  model = writeZooModel('lenet5', dir);
});

const sweep = (file: string, ...extra: string[]) => cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--splits', '1', '2', '--results_file', file, ...extra]);

describe('one run_all per results file', () => {
  it('a second sweep on the file is refused while the first runs, and the first writes each row once', async () => {
    const file = join(dir, 'both.csv');
    const first = sweep(file);
    // The first holds the file from its start: wait until its lock is there.
    for (let t = 0; t < 600 && !existsSync(`${file}.lock`); t++) await sleep(50);
    for (const extra of [[], ['--resume']]) {
      const second = await sweep(file, ...extra);
      assert.equal(second.code, 2, second.err);
      assert.equal(second.errLines.length, 1, second.err);
      assert.match(second.errLines[0]!, new RegExp(`^onnx-manager: ${file} is being written by another run_all \\(process ${process.pid} on ${hostname()}, ${file}\\.lock\\); wait for it to end or choose another --results_file`));
    }
    const r = await first;
    assert.equal(r.code, 0, r.err);
    const rows = await readRows(file);
    assert.equal(rows.length, 4);
    assert.equal(new Set(rows.map((x) => `${x.split_index}/${x.rep}`)).size, 4);
    assert.equal(existsSync(`${file}.lock`), false, 'the lock goes with the sweep');
  });

  it('a lock of a process that is gone is taken over; a refusal after the lock leaves none', async () => {
    const file = join(dir, 'stale.csv');
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${file}.lock`, `${hostname()} ${gone.stdout}\n`);
    const r = await sweep(file);
    assert.equal(r.code, 0, r.err);
    assert.equal((await readRows(file)).length, 4);
    assert.equal(existsSync(`${file}.lock`), false);
    const again = await sweep(file);
    assert.equal(again.code, 2, again.err);
    assert.match(again.err, /already holds results/);
    assert.equal(existsSync(`${file}.lock`), false);
    assert.equal(readFileSync(file, 'utf8').split('\n').length, 6);
  });
});
