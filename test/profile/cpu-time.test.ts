/**
 * The CPU time each side spends on its part (edge_cpu_ms, cloud_cpu_ms): measured by the process
 * that ran the part, around its run, with real onnxruntime sessions; empty where a side runs
 * nothing, or where the cloud side does not report it (a worker of an earlier version); a results
 * file written before the columns is resumed, its rows kept as they were.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { CloudBackend, CloudJob, Prepared } from '../../src/backends/backend.js';
import { COLUMNS, type Row } from '../../src/profile/columns.js';
import { writeSummary } from '../../src/profile/csv.js';
import { runSweep } from '../../src/profile/sweep.js';
import { createSession } from '../../src/runtime/ort.js';
import type { SessionOptions } from '../../src/runtime/session.js';
import { CloudRunner } from '../../src/runner/cloud.js';
import { storeModelSource } from '../../src/runner/serve.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { decodePayload, encodePayload } from '../../src/tensor/payload/index.js';
import { cli } from '../cli-helper.js';
import { analyze, chainSplitPoints, sweepContext, writeZooModel, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-cpu-time-'));
const lenet = zoo.find((z) => z.name === 'lenet5')!;
const LAST = chainSplitPoints(lenet.build()) - 1;
let model: string;
let store: EmbeddedStore;
let analysis: ModelAnalysis;

before(async () => {
  model = writeZooModel('lenet5', dir);
  store = await startEmbeddedStore({ bucket: 'cpu-time' });
  analysis = await analyze(zooSubject(lenet));
});
after(async () => {
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

const SESSION: SessionOptions = { graphOptimizationLevel: 'disabled', allowSpinning: false };
const rows = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
const header = (file: string) => (parse(readFileSync(file, 'utf8'), { to_line: 1 }) as string[][])[0]!;

/**
 * A side's CPU time: positive, and never more than every core busy for its whole wall time (plus
 * 4 ms: the process's CPU time is read at the kernel's accounting granularity, which was seen
 * 2.06 ms over on a loaded machine): a span wider than the part's run would break that.
 */
function assertCpu(row: Record<string, string | number>, side: 'edge' | 'cloud'): void {
  const cpu = Number(row[`${side}_cpu_ms`]);
  const wall = Number(row[`${side}_ms`]);
  const what = `split ${row.split_index}/${row.rep} ${side}: ${cpu} ms of CPU in ${wall} ms`;
  assert.ok(row[`${side}_cpu_ms`] !== '' && cpu > 0, what);
  assert.ok(cpu <= wall * availableParallelism() + 4, what);
}

/** Which side ran compute on a row of lenet5: split 0 is cloud only, the last one edge only. */
function assertSides(row: Record<string, string | number>): void {
  assert.equal(row.status, 'ok', String(row.error));
  const split = Number(row.split_index);
  if (split === 0) assert.equal(row.edge_cpu_ms, '', `split 0: nothing ran on the edge (edge_ms ${row.edge_ms})`);
  else assertCpu(row, 'edge');
  if (split === LAST) assert.equal(row.cloud_cpu_ms, '', 'the last split: nothing ran in the cloud');
  else assertCpu(row, 'cloud');
}

describe('CPU time per side', () => {
  it('run_all through the local worker, at the default threads: both sides measured where they ran a part, empty where they ran nothing', async () => {
    const csv = join(dir, 'all.csv');
    const r = await cli(['run_all', '--onnx_file', model, '--rep', '2', '--warmup', '1', '--splits', '0', '3', String(LAST), '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(header(csv), [...COLUMNS]);
    const got = rows(csv);
    assert.deepEqual(got.map((x) => `${x.split_index}/${x.rep}`), ['0/0', '0/1', '3/0', '3/1', `${LAST}/0`, `${LAST}/1`]);
    for (const row of got) assertSides(row);
    // The summary beside it: each side's median per split point, empty where it ran nothing.
    const summary = rows(join(dir, 'all.summary.csv'));
    for (const line of summary) {
      const mine = got.filter((x) => x.split_index === line.split_index);
      for (const side of ['edge', 'cloud'] as const) {
        const values = mine.map((x) => x[`${side}_cpu_ms`]!).filter((v) => v !== '').map(Number);
        const cell = line[`${side}_cpu_ms_median`];
        const ran = side === 'edge' ? line.split_index !== '0' : line.split_index !== String(LAST);
        if (!ran) {
          assert.deepEqual([cell, line[`${side}_cpu_ms_p5`], line[`${side}_cpu_ms_p95`]], ['', '', ''], `split ${line.split_index}: nothing ran on the ${side}`);
          continue;
        }
        assert.equal(values.length, 2);
        assert.ok(Math.abs(Number(cell) - (values[0]! + values[1]!) / 2) < 1e-3, `split ${line.split_index} ${side}: summary ${cell}, rows ${values.join(', ')}`);
      }
    }
  });

  it('the summary of rows from before the columns has no CPU columns; a resumed old file counts its old rows as not measured, not as 0', async () => {
    const old = rows(join(dir, 'all.csv')).map((x) => Object.fromEntries(Object.entries(x).filter(([c]) => c !== 'edge_cpu_ms' && c !== 'cloud_cpu_ms')));
    const file = join(dir, 'old-rows.csv');
    const out = await writeSummary(file, old);
    const head = header(out);
    assert.deepEqual(head.filter((c) => c.includes('cpu')), [], `no CPU columns: ${head.join(',')}`);
    assert.equal(rows(out).length, 3, 'a line per split point as before');
    // Rows kept from an old file have the columns empty: the medians are the measured rows' alone.
    const measured = rows(join(dir, 'all.csv'));
    const mixed = [...measured.map((x) => ({ ...x, edge_cpu_ms: '', cloud_cpu_ms: '' })), ...measured.filter((x) => x.rep === '0').map((x) => ({ ...x, rep: '2' }))];
    for (const line of rows(await writeSummary(join(dir, 'mixed.csv'), mixed))) {
      const only = measured.find((x) => x.split_index === line.split_index && x.rep === '0')!;
      assert.equal(line.reps, '3');
      for (const side of ['edge', 'cloud'] as const) assert.equal(line[`${side}_cpu_ms_median`], only[`${side}_cpu_ms`] === '' ? '' : String(Number(only[`${side}_cpu_ms`])), `split ${line.split_index} ${side}`);
    }
  });

  it('run writes and prints both sides’ CPU time', async () => {
    const csv = join(dir, 'one.csv');
    const layer = analysis.splitPoints[3]!.splitLayer;
    const r = await cli(['run', '--onnx_file', model, '--split_layer', layer, '--rep', '2', '--warmup', '0', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    assert.equal(got.length, 2);
    for (const row of got) assertSides(row);
    const lines = r.out.split('\n');
    const head = lines.findIndex((l) => /\bedge_cpu_ms\b.*\bcloud_cpu_ms\b/.test(l));
    assert.ok(head >= 0, r.out);
    const cells = (l: string) => l.trim().split(/\s+/);
    const at = (c: string) => cells(lines[head]!).indexOf(c);
    // Under the header, a line of dashes, then one line per repetition.
    for (const [i, row] of got.entries()) {
      const line = cells(lines[head + 2 + i]!);
      assert.equal(line[at('edge_cpu_ms')], row.edge_cpu_ms);
      assert.equal(line[at('cloud_cpu_ms')], row.cloud_cpu_ms);
    }
  });

  it('a results file written before the columns resumes: its rows kept with the columns empty, the new rows measured', async () => {
    const csv = join(dir, 'before.csv');
    const first = await cli(['run_all', '--onnx_file', model, '--rep', '1', '--warmup', '0', '--splits', '2', '4', '--results_file', csv]);
    assert.equal(first.code, 0, first.err);
    // As the previous version wrote it: the same columns without the two.
    const old = rows(csv);
    const oldColumns = COLUMNS.filter((c) => c !== 'edge_cpu_ms' && c !== 'cloud_cpu_ms');
    writeFileSync(csv, stringify([oldColumns, ...old.map((x) => oldColumns.map((c) => x[c]))]));
    const r = await cli(['run_all', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--splits', '2', '4', '--results_file', csv, '--resume']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /before\.csv was written before the column\(s\) edge_cpu_ms, cloud_cpu_ms: added, its 2 rows kept as they were/);
    assert.deepEqual(header(csv), [...COLUMNS]);
    const got = rows(csv);
    assert.deepEqual(got.map((x) => `${x.split_index}/${x.rep}`), ['2/0', '4/0', '2/1', '4/1']);
    got.slice(0, 2).forEach((x, i) => {
      for (const c of oldColumns) assert.equal(x[c], old[i]![c], `old row ${i} ${c}`);
      assert.deepEqual([x.edge_cpu_ms, x.cloud_cpu_ms], ['', ''], `old row ${i}: not measured then`);
    });
    for (const row of got.slice(2)) assertSides(row);
  });

  it('a cloud side that does not report its CPU time (an earlier version) leaves cloud_cpu_ms empty, not 0', async () => {
    const sweep = async (reports: boolean): Promise<Row[]> => {
      const backend = new InProcessCloud(store, reports);
      const got: Row[] = [];
      try {
        // Idle threads sleep on both sides, as with --cloud local: the cloud's share this process.
        const ctx = { ...sweepContext(analysis, store.store, backend, { tag: 'cpu', timeoutMs: 20_000, warmup: 0 }), sessionOptions: SESSION };
        await runSweep(ctx, { rep: 1, splits: [0, 3], onRow: (row) => void got.push(row) });
      } finally {
        await backend.close();
      }
      return got;
    };
    const earlier = await sweep(false);
    assert.equal(earlier.length, 2);
    for (const row of earlier) {
      assert.equal(row.status, 'ok', String(row.error));
      assert.equal(row.cloud_cpu_ms, '', `split ${row.split_index}: not reported`);
      assert.ok(Number(row.cloud_ms) > 0, 'the cloud part ran');
    }
    assertCpu(earlier[1]!, 'edge');
    // The same cloud side reporting it.
    for (const row of await sweep(true)) assertSides(row);
  });
});

/** A cloud side in this process over a CloudRunner; `reports` false: its results lack cloud_cpu_ms, as an earlier version's do. */
class InProcessCloud implements CloudBackend {
  readonly name = 'local';
  readonly failureSignal = new AbortController().signal;
  private readonly runner: CloudRunner;

  constructor(
    private readonly embedded: EmbeddedStore,
    private readonly reports: boolean,
  ) {
    this.runner = new CloudRunner(storeModelSource(embedded.store), createSession, { session: SESSION });
  }

  async prepare(models: readonly string[]): Promise<Prepared> {
    let loadMs = 0;
    for (const m of models) loadMs += (await this.runner.load(m)).loadMs;
    return { loadMs };
  }

  async trigger(job: CloudJob): Promise<void> {
    const result = await this.runner.process(decodePayload(await this.embedded.store.get(job.inputKey)));
    if (!this.reports) result.timings = result.timings.filter((t) => t.name !== 'cloud_cpu_ms');
    await this.embedded.store.put(job.outputKey, encodePayload(result));
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}
