import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../models/zoo.js';

const root = projectRoot();
const results = join(root, 'results');
const readme = readFileSync(join(results, 'README.md'), 'utf8');
const record = JSON.parse(readFileSync(join(results, 'sample-results.json'), 'utf8')) as {
  machine: Record<string, unknown>;
  load_average: { before: number[]; after: number[] };
  made: { files: string[]; command: string }[];
};
const samples = readdirSync(results, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name !== 'README.md')
  .map((e) => e.name)
  .sort();
const csv = (f: string) => parse(readFileSync(join(results, f), 'utf8'), { columns: true }) as Record<string, string>[];
const header = (f: string) => readFileSync(join(results, f), 'utf8').split('\n')[0]!.split(',');
const defined = (name: string) => readme.includes(`\`${name}\``);

test('every sample file was made by a recorded command, and the README names it with that exact command', () => {
  const made = record.made.flatMap((m) => m.files);
  for (const f of made) assert.ok(existsSync(join(root, f)), `${f} is recorded but missing`);
  for (const f of samples.filter((x) => x !== 'sample-results.json')) {
    assert.ok(made.includes(`results/${f}`), `results/${f} is in no recorded command`);
    assert.ok(defined(f), `results/README.md does not name ${f}`);
  }
  for (const m of record.made) {
    assert.match(m.command, /^npx onnx-manager \w+ /);
    assert.ok(readme.includes(`\`${m.command}\``), `results/README.md lacks the command ${m.command}`);
  }
  for (const k of ['cores', 'cpu_model', 'node', 'onnxruntime_node']) assert.ok(record.machine[k], k);
  assert.ok(readme.includes(`Node ${record.machine.node as string}`) && readme.includes(`onnxruntime-node ${record.machine.onnxruntime_node as string}`));
});

test('the README defines every column of every CSV and every field of the JSON files in results/', () => {
  for (const f of samples.filter((x) => x.endsWith('.csv'))) {
    const missing = header(f).filter((c) => !defined(c));
    assert.deepEqual(missing, [], `${f}: columns not defined in results/README.md`);
  }
  const keys = (o: object) => Object.keys(o);
  for (const f of samples.filter((x) => x.endsWith('.recommend.json'))) {
    const j = JSON.parse(readFileSync(join(results, f), 'utf8')) as Record<string, Record<string, unknown>[] & Record<string, unknown>>;
    const fields = [...keys(j), ...keys(j.link!), ...keys(j.best!), ...j.crossover!.flatMap(keys), ...(j.dag ? keys(j.dag) : [])];
    assert.deepEqual([...new Set(fields.filter((c) => !defined(c)))], [], `${f}: fields not defined`);
  }
  const fields = [...keys(record), ...keys(record.machine), ...keys(record.load_average), ...record.made.flatMap(keys)];
  assert.deepEqual([...new Set(fields.filter((c) => !defined(c)))], [], 'sample-results.json: fields not defined');
});

test('the sweeps are real: 14 split points x 10 repetitions, all ok, outputs equal to the full model, one at 50 Mbit/s rtt 20 ms', () => {
  const sweeps = record.made.filter((m) => / run_all /.test(m.command)).map((m) => m.files[0]!.replace(/^results\//, ''));
  assert.equal(sweeps.length, 2);
  const links = new Set<string>();
  for (const f of sweeps) {
    const rows = csv(f);
    const splits = new Set(rows.map((r) => r.split_index));
    assert.equal(splits.size, 14, f);
    assert.equal(rows.length, 140, f);
    assert.ok(rows.every((r) => r.status === 'ok' && Number(r.max_abs_diff) < 1e-4 && Number(r.total_ms) > 0), f);
    links.add([...new Set(rows.map((r) => `${r.bandwidth_mbit}/${r.rtt_ms}`))].join());
    const summary = csv(f.replace(/\.csv$/, '.summary.csv'));
    assert.deepEqual(summary.map((s) => s.split_index), [...splits].sort((a, b) => Number(a) - Number(b)));
    assert.ok(summary.every((s) => s.reps === '10' && s.failed === '0'));
    // predict covers every split point; its measured medians are exactly the sweep's split points, by name.
    const predicted = csv(f.replace(/\.csv$/, '.predict.csv'));
    const last = Number(predicted.at(-1)!.split_index);
    assert.deepEqual(predicted.map((p) => Number(p.split_index)), Array.from({ length: last + 1 }, (_, i) => i));
    const joined = predicted.filter((p) => p.measured_total_ms !== '');
    assert.deepEqual(joined.map((p) => p.split_index), summary.map((s) => s.split_index));
    for (const p of joined) assert.equal(p.split_layer, summary.find((s) => s.split_index === p.split_index)!.split_layer);
  }
  assert.deepEqual([...links].sort(), ['/', '50/20']);
});
