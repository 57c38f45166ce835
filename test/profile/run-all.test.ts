/**
 * run_all end to end on the embedded defaults: every split point, every repetition, every column;
 * each split's result equals the full model's; --resume continues without losing or duplicating.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { COLUMNS, TIME_COLUMNS } from '../../src/profile/columns.js';
import { cli } from '../cli-helper.js';
import { chainSplitPoints, ELEMENT_BYTES, loadableProviders, writeZooModel } from '../helpers.js';
import { numel } from '../models/builder.js';
import { projectRoot, zoo } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-runall-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function model(name: string): string {
  return writeZooModel(name, dir);
}

/** lenet5 is a chain: its split points are counted from the graph, apart from the split engine. */
const LENET_POINTS = chainSplitPoints(zoo.find((z) => z.name === 'lenet5')!.build());

function rows(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

describe('run_all', () => {
  it('writes one complete row per split point per repetition, and results equal the full model', async () => {
    const file = model('input_reuse');
    const layers = JSON.parse((await cli(['--operation', 'list_layers', '--onnx_file', file, '--json'])).out) as {
      split_points: { index: number; split_layer: string; tensor_bytes: number; transfer_bytes: number; cut_tensors: { name: string; dtype: string; shape: number[] }[] }[];
    };
    // Every tensor of input_reuse is float32: the bytes of a cut are its elements times 4.
    for (const p of layers.split_points) {
      assert.ok(p.cut_tensors.every((t) => t.dtype === 'float32'), `split ${p.index}: float32 cut`);
      assert.equal(p.tensor_bytes, p.cut_tensors.reduce((s, t) => s + numel(t.shape) * ELEMENT_BYTES.float32!, 0), `split ${p.index}: bytes`);
    }
    assert.deepEqual(layers.split_points[0]!.cut_tensors.map((t) => t.shape), [zoo.find((z) => z.name === 'input_reuse')!.inputs[0]!.dims], 'cloud only sends the input');
    const csv = join(dir, 'input_reuse.csv');
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '3', '--warmup', '1', '--graph_opt', 'disabled', '--threads', '1', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /putting/, 'no link: no status line for the cloud parts');
    const got = rows(csv);
    const n = layers.split_points.length;
    assert.equal(got.length, n * 3);
    assert.deepEqual(Object.keys(got[0]!), [...COLUMNS]);
    for (const row of got) {
      const p = layers.split_points[Number(row.split_index)]!;
      assert.equal(row.status, 'ok', `${row.split_index}: ${row.error}`);
      assert.equal(row.split_layer, p.split_layer);
      assert.equal(row.cut_tensors, p.cut_tensors.map((t) => t.name).join(';'));
      assert.equal(Number(row.tensor_bytes), p.tensor_bytes, 'raw bytes of the cut tensors');
      // list_layers' transfer_bytes is what a repetition after the first sends (the first carries no rep field).
      if (Number(row.rep) > 0) assert.equal(Number(row.transfer_bytes), p.transfer_bytes, `split ${row.split_index} rep ${row.rep}: the bytes list_layers gives`);
      else assert.ok(Math.abs(Number(row.transfer_bytes) - p.transfer_bytes) <= 16, `split ${row.split_index} rep 0: ${row.transfer_bytes} bytes, within the rep field and its alignment of ${p.transfer_bytes}`);
      // Equal to the full model's output up to float rounding: the same kernels can sum in another
      // order when a tensor arrives at another memory alignment (as it does out of a payload).
      assert.ok(Number(row.max_abs_diff) <= 1e-5, `split ${row.split_index} output equals the full model's (max diff ${row.max_abs_diff})`);
      for (const c of TIME_COLUMNS) assert.ok(Number.isFinite(Number(row[c])) && Number(row[c]) >= 0, `${c} = ${row[c]}`);
      const parts = ['edge_ms', 'encode_ms', 'upload_ms', 'wait_ms', 'download_ms', 'decode_ms'].reduce((s, c) => s + Number(row[c]), 0);
      assert.ok(Number(row.total_ms) >= parts - 0.01, `total ${row.total_ms} covers its steps ${parts}`);
      const edgeOnly = Number(row.split_index) === n - 1;
      if (edgeOnly) {
        assert.equal(Number(row.transfer_bytes), 0);
        assert.equal(row.backend, 'none');
      } else {
        assert.ok(Number(row.transfer_bytes) > Number(row.tensor_bytes), 'wire bytes are raw bytes plus a header');
        assert.ok(Number(row.transfer_bytes) < Number(row.tensor_bytes) + 1024);
        assert.ok(Number(row.wait_ms) >= Number(row.cloud_ms), 'the wait holds the cloud inference');
        const [up, wait, down] = ['upload_ms', 'wait_ms', 'download_ms'].map((c) => Number(row[c]));
        assert.ok(Number(row.transfer_ms) >= up! + down! - 0.01, `transfer ${row.transfer_ms} holds the edge's upload and download`);
        assert.ok(Number(row.transfer_ms) <= up! + wait! + down! + 0.01, `transfer ${row.transfer_ms} fits in upload + wait + download`);
        assert.ok(Number(row.transfer_ms) <= Number(row.total_ms), `transfer ${row.transfer_ms} within total ${row.total_ms}`);
        assert.equal(row.backend, 'local');
      }
      if (Number(row.split_index) === 0) assert.equal(Number(row.edge_ms), 0, 'cloud only: nothing on the edge');
    }
    // Each (split, rep) exactly once.
    assert.equal(new Set(got.map((x) => `${x.split_index}/${x.rep}`)).size, got.length);
    const summary = parse(readFileSync(join(dir, 'input_reuse.summary.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(summary.length, n);
    for (const s of summary) {
      assert.equal(s.reps, '3');
      // The bytes a repetition sends, as the report, charts and predict take them: the repetitions after
      // the first (rep 0's payload, written without its rep field, can be a few bytes shorter or longer).
      const sent = got.filter((x) => x.split_index === s.split_index && x.rep !== '0').map((x) => Number(x.transfer_bytes));
      assert.equal(Number(s.transfer_bytes), Math.max(...sent), `split ${s.split_index}: summary bytes ${s.transfer_bytes}, rows after the first ${sent.join(', ')}`);
      assert.ok(Number(s.total_ms_p5) <= Number(s.total_ms_median) && Number(s.total_ms_median) <= Number(s.total_ms_p95));
    }
  });

  it('a model with bool, uint8, int8, int32, int64, float16 and float64 inputs: each travels in its own type, every split equals the full model', async () => {
    const mixed = zoo.find((z) => z.name === 'mixed_dtypes')!;
    const csv = join(dir, 'mixed.csv');
    const r = await cli(['--operation', 'run_all', '--onnx_file', model('mixed_dtypes'), '--rep', '1', '--warmup', '0', '--graph_opt', 'disabled', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    assert.ok(got.length > 2, `${got.length} rows`);
    // One repetition is said as one.
    assert.match(r.out, new RegExp(`^${got.length} rows \\(${got.length} split points x 1 repetition\\) in `, 'm'), r.out);
    for (const row of got) {
      assert.equal(row.status, 'ok', `${row.split_index}: ${row.error}`);
      assert.ok(Number(row.max_abs_diff) <= 1e-5, `split ${row.split_index} (max diff ${row.max_abs_diff})`);
    }
    // Cloud only sends every input as it is: elements times the size of its own type.
    const inputBytes = mixed.inputs.reduce((s, i) => s + numel(i.dims) * ELEMENT_BYTES[i.dtype ?? 'float32']!, 0);
    const cloudOnly = got.find((x) => x.split_index === '0')!;
    assert.equal(cloudOnly.cut_tensors, mixed.inputs.map((i) => i.name).join(';'));
    assert.equal(Number(cloudOnly.tensor_bytes), inputBytes);
  });

  it('--resume continues a killed sweep without losing or duplicating rows', async () => {
    const file = model('lenet5');
    const csv = join(dir, 'lenet5.csv');
    assert.equal((await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--results_file', csv])).code, 0);
    const full = readFileSync(csv, 'utf8').split('\n');
    // As if killed after 7 rows, in the middle of writing the 8th; the 3rd row had failed.
    const third = full[3]!.replace(',ok,', ',timeout,');
    assert.notEqual(third, full[3]);
    writeFileSync(csv, `${[...full.slice(0, 3), third, ...full.slice(4, 8)].join('\n')}\n${full[8]!.slice(0, 10)}`);
    const again = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--results_file', csv]);
    assert.equal(again.code, 2, 'an existing results file is not overwritten without --resume');
    assert.match(again.err, /--resume/);
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '2', '--warmup', '0', '--results_file', csv, '--resume']);
    assert.equal(r.code, 0, r.err);
    const got = rows(csv).filter((x) => x.split_index !== '' && x.rep !== '' && x.status !== undefined && COLUMNS.every((c) => c in x));
    const keys = got.filter((x) => x.status === 'ok').map((x) => `${x.split_index}/${x.rep}`);
    assert.equal(new Set(keys).size, LENET_POINTS * 2, 'every (split, rep) present, the failed one run again');
    assert.equal(keys.length, LENET_POINTS * 2, 'none duplicated');
    assert.equal(got.filter((x) => x.status === 'timeout').length, 1, 'the failed row stays on record');
  });

  it('--resume with other --splits and --rep counts the rows of the resumed plan: measured now, and those of the plan the file had', async () => {
    const file = model('lenet5');
    const csv = join(dir, 'replan.csv');
    const base = ['--operation', 'run_all', '--onnx_file', file, '--warmup', '0', '--results_file', csv];
    assert.equal((await cli([...base, '--splits', '0', '1', '2', '--rep', '2'])).code, 0);
    // The plan now: split points 1, 2 and 3, three repetitions each; the file has 1 and 2 twice (and 0, outside the plan).
    const r = await cli([...base, '--splits', '1', '2', '3', '--rep', '3', '--resume']);
    assert.equal(r.code, 0, r.err);
    assert.equal(rows(csv).length, 6 + 5);
    assert.match(r.out, /^5 rows measured now for 3 split points x 3 repetitions \(9 rows; 4 were in the file already, among its 6 rows from before\) in /m, r.out);
  });

  it('--resume refuses a file measured on another model or with other settings, naming the difference', async () => {
    const lenet = model('lenet5');
    const other = model('input_reuse');
    const csv = join(dir, 'settings.csv');
    const base = ['--operation', 'run_all', '--rep', '1', '--warmup', '0', '--splits', '1', '--results_file', csv];
    const first = await cli([...base, '--onnx_file', lenet, '--threads', '1', '--graph_opt', 'basic']);
    assert.equal(first.code, 0, first.err);
    const [row] = rows(csv);
    assert.deepEqual([row!.edge_threads, row!.cloud_threads, row!.spinning], ['1', '1', 'off']);
    assert.equal(row!.graph_opt, 'basic');
    assert.equal(row!.input_shapes, 'input:1x1x28x28');
    assert.match(row!.model_sha256!, /^[0-9a-f]{64}$/);
    const before = readFileSync(csv, 'utf8');
    const cases: [string[], RegExp][] = [
      [['--onnx_file', other, '--threads', '1', '--graph_opt', 'basic'], /settings\.csv was measured with model sha256 [0-9a-f]{12}…, this run has model sha256 [0-9a-f]{12}…; resume it the same way/],
      [['--onnx_file', lenet, '--threads', '2', '--graph_opt', 'basic'], /was measured with 1 edge thread \(--threads or --edge_threads\), this run has 2 edge threads \(--threads or --edge_threads\);/],
      [['--onnx_file', lenet, '--threads', '1', '--cloud_threads', '2', '--graph_opt', 'basic'], /was measured with 1 cloud thread \(--threads or --cloud_threads\), this run has 2 cloud threads \(--threads or --cloud_threads\);/],
      [['--onnx_file', lenet, '--threads', '1', '--graph_opt', 'all'], /was measured with --graph_opt basic, this run has --graph_opt all;/],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...base, ...args, '--resume']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.errLines.length, 1);
      assert.equal(readFileSync(csv, 'utf8'), before, 'the file is untouched');
    }
    const same = await cli([...base, '--onnx_file', lenet, '--threads', '1', '--graph_opt', 'basic', '--resume']);
    assert.equal(same.code, 0, same.err);
  });

  it('Ctrl-C stops after the row in progress (exit 130), and --resume completes the sweep', async () => {
    const file = model('lenet5');
    const csv = join(dir, 'interrupted.csv');
    const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
    const child = spawn(process.execPath, [bin, '--operation', 'run_all', '--onnx_file', file, '--rep', '4', '--warmup', '0', '--results_file', csv], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let said = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (said += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    // Interrupt once a few rows are in.
    for (let i = 0; i < 600 && !(existsSync(csv) && readFileSync(csv, 'utf8').split('\n').length > 4); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const before = rows(csv);
    assert.ok(before.length >= 3 && before.length < LENET_POINTS * 4, `${before.length} rows before the interrupt`);
    assert.ok(before.every((r) => r.status === 'ok'), 'the row in progress finished; no row failed because of the interrupt');
    // What it says is of a sweep that stopped: the rows it has of those planned, and a best split "so far".
    assert.match(said, new RegExp(`^${before.length} rows before the sweep stopped \\(of ${LENET_POINTS} split points x 4 repetitions\\) in `, 'm'), said);
    assert.match(said, /^interrupted: continue with the same command and --resume$/m, said);
    assert.match(said, /^fastest measured split \(of the \d+ of \d+ split points measured so far\): /m, said);
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--rep', '4', '--warmup', '0', '--results_file', csv, '--resume']);
    assert.equal(r.code, 0, r.err);
    const after = rows(csv);
    assert.equal(after.length, LENET_POINTS * 4);
    assert.equal(new Set(after.map((x) => `${x.split_index}/${x.rep}`)).size, LENET_POINTS * 4);
  });

  it('--splits takes layer names as --split_layer does, and indexes beside them', async () => {
    const file = model('lenet5');
    const csv = join(dir, 'named.csv');
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--splits', 'input', 'relu_0_out', '12', '--rep', '1', '--warmup', '0', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      rows(csv).map((x) => [x.split_index, x.split_layer]),
      [['0', 'input'], ['2', 'relu_0_out'], ['12', 'logits']],
    );
  });

  it('refuses bad run arguments with one line', async () => {
    const file = model('lenet5');
    const cases: [string[], RegExp][] = [
      [['--exec_type', 'quantum'], /unknown --exec_type 'quantum'/],
      [['--rep', '0'], /--rep must be an integer >= 1/],
      [['--splits', '99'], /--splits 99 is not a split index/],
      [['--splits', '-1'], /--splits -1 is not a split index/],
      [['--splits', '2', 'relu_0_ot'], /^onnx-manager: --splits: .*lenet5\.onnx: no layer named 'relu_0_ot'; closest: relu_0_out/],
      [['--cloud', 'mars'], /--cloud "mars" is not one of: local, oscar, kubernetes, ssh/],
    ];
    for (const [extra, pattern] of cases) {
      const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--results_file', join(dir, 'bad.csv'), ...extra]);
      assert.notEqual(r.code, 0, extra.join(' '));
      assert.match(r.err, pattern, extra.join(' '));
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
  });

  it('--exec_type GPU runs where CUDA loads, and elsewhere is refused naming the providers that load', async () => {
    const file = model('lenet5');
    const here = await loadableProviders();
    const r = await cli(['--operation', 'run_all', '--onnx_file', file, '--results_file', join(dir, 'gpu.csv'), '--splits', '0', '--rep', '1', '--warmup', '0', '--exec_type', 'GPU']);
    if (here.includes('cuda')) {
      assert.equal(r.code, 0, r.err);
      assert.equal(rows(join(dir, 'gpu.csv'))[0]!.status, 'ok');
      return;
    }
    assert.notEqual(r.code, 0);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    const others = here.filter((p) => p !== 'cuda').join(', ') || 'none';
    assert.match(r.err, /execution provider 'cuda' is not (available here|in this onnxruntime-node build)/);
    assert.ok(r.err.trimEnd().endsWith(`available here: ${others})`) || r.err.trimEnd().endsWith(`available here: ${others}`), `lists ${others}: ${r.err}`);
  });
});
