/**
 * run and run_all over an emulated link (--bandwidth, --rtt): complete ok rows with the link
 * recorded, a status line for each cloud part put over the link, the edge's store traffic through the shaping proxy (and only the edge's), the proxy
 * stopped with the run; bad values and a resume over another link refused by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { buildRunConfig } from '../../src/config/run-config.js';
import { UsageError } from '../../src/errors.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { COLUMNS } from '../../src/profile/columns.js';
import { startRun } from '../../src/profile/start-run.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { createSession } from '../../src/runtime/ort.js';
import { partUploadLine } from '../../src/cli/ops/run.js';
import { cli } from '../cli-helper.js';
import { chainSplitPoints } from '../helpers.js';
import { zoo } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-link-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const lenet = zoo.find((z) => z.name === 'lenet5')!;
const file = join(dir, 'lenet5.onnx');
writeFileSync(file, encodeModel(lenet.build()));
const POINTS = chainSplitPoints(lenet.build());

function rows(csv: string): Record<string, string>[] {
  return parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
}

describe('a split point measured twice in one run', () => {
  it('runs its cycles again: the second sweep does not find the first one\'s results in the store', async () => {
    const analysis = await analyzeFile(file, { createSession });
    const run = await startRun(analysis, buildRunConfig({ warmup: 0, threads: 1 }), { feeds: randomInputs(analysis) });
    try {
      const first = await run.sweep({ rep: 3, splits: [2] });
      const second = await run.sweep({ rep: 3, splits: [2] });
      for (const r of [...first, ...second]) assert.equal(r.status, 'ok', String(r.error));
      // Three cloud times equal to the microsecond would be the first sweep's results read again.
      assert.notDeepEqual(second.map((r) => r.cloud_ms), first.map((r) => r.cloud_ms));
    } finally {
      await run.close();
    }
  });
});

describe('run_all --bandwidth --rtt', () => {
  it('writes complete ok rows with bandwidth_mbit and rtt_ms, and says the link', async () => {
    const csv = join(dir, 'linked.csv');
    const args = ['run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--graph_opt', 'disabled', '--threads', '1', '--results_file', csv];
    const r = await cli([...args, '--bandwidth', '20', '--rtt', '4']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /link edge <-> store: 20 Mbit\/s each way, rtt 4 ms/);
    // A status line on stderr for each cloud part put over the link (each split point's one part, put once), none on stdout.
    const putting = r.errLines.filter((l) => /putting /.test(l));
    const parts = new Map<number, number>();
    for (const l of putting) {
      const m = /^progress: \d+\/\d+ rows \(putting the cloud part of split (\d+) \(\S+\) in the store over the link: (\d+(?:\.\d+)? (?:B|KiB|MiB)) at 20 Mbit\/s each way, rtt 4 ms\)$/.exec(l);
      assert.ok(m, l);
      parts.set(Number(m[1]), (parts.get(Number(m[1])) ?? 0) + 1);
    }
    assert.deepEqual([...parts.keys()].sort((x, y) => x - y), Array.from({ length: POINTS - 1 }, (_, i) => i), 'every split point with a cloud part');
    assert.ok([...parts.values()].every((n) => n === 1), 'each part once');
    assert.doesNotMatch(r.out, /putting/);
    const got = rows(csv);
    assert.deepEqual(Object.keys(got[0]!), [...COLUMNS]);
    assert.equal(got.length, POINTS * 2);
    for (const row of got) {
      assert.equal(row.status, 'ok', `${row.split_index}: ${row.error}`);
      assert.equal(row.bandwidth_mbit, '20');
      assert.equal(row.rtt_ms, '4');
      assert.ok(Number(row.max_abs_diff) <= 1e-5, `split ${row.split_index} equals the full model`);
      if (Number(row.split_index) === POINTS - 1) continue; // edge only: nothing crosses
      for (const c of COLUMNS.slice(0, COLUMNS.indexOf('status'))) assert.notEqual(row[c], '', `split ${row.split_index}: ${c} filled`);
      // A request and its answer each cross the link once: never sooner than the round trip.
      assert.ok(Number(row.upload_ms) >= 4, `upload ${row.upload_ms}`);
      assert.ok(Number(row.download_ms) >= 4, `download ${row.download_ms}`);
    }

    // Resuming it over another link (or none) would mix links in one file.
    for (const other of [['--bandwidth', '50', '--rtt', '4'], ['--rtt', '4'], []]) {
      const again = await cli([...args, '--resume', ...other]);
      assert.equal(again.code, 2, other.join(' '));
      assert.match(again.err, /linked\.csv was measured with --bandwidth 20 --rtt 4; resume it with the same --bandwidth and --rtt/);
    }
    const same = await cli([...args, '--resume', '--bandwidth', '20', '--rtt', '4']);
    assert.equal(same.code, 0, same.err);
  });

  it('leaves the link columns empty without shaping, and says the store is reached directly', async () => {
    const csv = join(dir, 'direct.csv');
    const r = await cli(['run_all', '--onnx_file', file, '--rep', '1', '--warmup', '0', '--splits', '0', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /link edge <-> store: direct/);
    const [row] = rows(csv);
    assert.equal(row!.bandwidth_mbit, '');
    assert.equal(row!.rtt_ms, '');
  });

  it('run prints the link; only the edge goes through the proxy, which stops with the run', async () => {
    const r = await cli(['run', '--onnx_file', file, '--split_layer', 'relu_0_out', '--rep', '1', '--warmup', '0', '--rtt', '2', '--verify']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /link edge <-> store: unlimited rate, rtt 2 ms/);
    assert.match(r.out, /verify: .*\(match\)/);

    const analysis = await analyzeFile(file, { createSession });
    const run = await startRun(analysis, buildRunConfig({ bandwidth: 100, rtt: 2, warmup: 0, threads: 1 }), { feeds: randomInputs(analysis) });
    let proxy;
    try {
      proxy = run.proxy!;
      assert.ok(proxy, 'a linked run has a proxy');
      // The first sweep also puts the cloud part in the store (over the link); the second finds it there.
      await run.sweep({ rep: 1, splits: [1] });
      const before = { ...proxy.bytes };
      const [row] = await run.sweep({ rep: 1, splits: [1] });
      assert.equal(row!.status, 'ok', String(row!.error));
      const up = proxy.bytes.up - before.up;
      const down = proxy.bytes.down - before.down;
      // The edge's payload went up and the result came down through the link; the cloud worker's
      // fetch of the payload and upload of the result did not (or each would count twice).
      assert.ok(up >= Number(row!.transfer_bytes) && up < 2 * Number(row!.transfer_bytes) + 64 * 1024, `up ${up}`);
      assert.ok(down >= Number(row!.result_bytes) && down < Number(row!.transfer_bytes), `down ${down}`);
    } finally {
      await run.close();
    }
    assert.equal(proxy.open, 0);
    await assert.rejects(
      new Promise((resolve, reject) => net.connect({ host: proxy.host, port: proxy.port }).on('connect', resolve).on('error', reject)),
      /ECONNREFUSED/,
      'the proxy no longer listens',
    );
    const direct = await startRun(analysis, buildRunConfig({ warmup: 0 }), { feeds: randomInputs(analysis) });
    assert.equal(direct.proxy, undefined);
    await direct.close();
  });

  it('refuses bad --bandwidth and --rtt by name, and the flags where no run is made', async () => {
    const cases: [string[], RegExp][] = [
      [['--bandwidth', '0'], /--bandwidth must be a positive number, got 0/],
      [['--bandwidth', '-3'], /--bandwidth must be a positive number, got -3/],
      [['--bandwidth', 'fast'], /--bandwidth must be a positive number, got 'fast'/],
      [['--rtt', '-1'], /--rtt must be a number of milliseconds >= 0, got -1/],
      [['--rtt', 'slow'], /--rtt must be a number of milliseconds >= 0, got 'slow'/],
    ];
    for (const op of ['run_all', 'run']) {
      for (const [extra, pattern] of cases) {
        const r = await cli([op, '--onnx_file', file, '--split_layer', 'relu_0_out', '--results_file', join(dir, 'bad.csv'), ...extra].filter((a, i, all) => op === 'run' || (a !== '--split_layer' && all[i - 1] !== '--split_layer')));
        assert.equal(r.code, 2, `${op} ${extra.join(' ')}`);
        assert.match(r.err, pattern, `${op} ${extra.join(' ')}`);
        assert.equal(r.err.trim().split('\n').length, 1, r.err);
      }
    }
    const r = await cli(['split_model_all', '--onnx_file', file, '--bandwidth', '5']);
    assert.equal(r.code, 2);
    assert.match(r.err, /split_model_all does not take --bandwidth/);
    // The library checks the same values.
    assert.throws(() => buildRunConfig({ bandwidth: 0 }, {}), (e: Error) => e instanceof UsageError && /--bandwidth must be a positive number of Mbit\/s, got 0/.test(e.message));
    assert.throws(() => buildRunConfig({ rtt: -2 }, {}), (e: Error) => e instanceof UsageError && /--rtt .* got -2/.test(e.message));
    assert.deepEqual(buildRunConfig({ bandwidth: 5 }, {}).link, { bandwidthMbit: 5, rttMs: 0 });
    assert.deepEqual(buildRunConfig({ rtt: 30 }, {}).link, { rttMs: 30 });
    assert.equal(buildRunConfig({}, {}).link, undefined);
  });
});

describe('the status line of a cloud part crossing the link', () => {
  it('names the part, its split point, its bytes and the link, with the time it takes when that is a second or more', () => {
    const u = { split: 8, splitLayer: 'gemm_0_out', part: 1, parts: 1, bytes: 44_544 };
    assert.equal(partUploadLine(u, { bandwidthMbit: 0.01, rttMs: 0 }), 'putting the cloud part of split 8 (gemm_0_out) in the store over the link: 43.5 KiB at 0.01 Mbit/s each way, rtt 0 ms, about 36 s');
    assert.equal(partUploadLine(u, { bandwidthMbit: 0.1, rttMs: 20 }), 'putting the cloud part of split 8 (gemm_0_out) in the store over the link: 43.5 KiB at 0.1 Mbit/s each way, rtt 20 ms, about 3.6 s');
    assert.equal(partUploadLine({ ...u, part: 2, parts: 3 }, { bandwidthMbit: 50, rttMs: 20 }), 'putting cloud part 2/3 of split 8 (gemm_0_out) in the store over the link: 43.5 KiB at 50 Mbit/s each way, rtt 20 ms');
    assert.equal(partUploadLine(u, { rttMs: 1500 }), 'putting the cloud part of split 8 (gemm_0_out) in the store over the link: 43.5 KiB at unlimited rate, rtt 1500 ms, about 1.5 s');
  });
});
