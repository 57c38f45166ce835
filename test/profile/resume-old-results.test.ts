/**
 * --resume of a results file written before the codec columns and before threads per side
 * (test/profile/fixtures/ppocr-before-codecs.csv, made by `npm run results` then): its rows count
 * as raw, its `threads` as both sides' threads with spinning on, the file gets the current header
 * with its values kept, and the sweep goes on with raw and fp16 measured the same way. A file of
 * other settings is still refused and left as it is. The rows record the top-1 agreement of the
 * classifier's output with the full model's; the summary, the closing lines, plot_results and
 * report show it beside max_abs_diff.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { COLUMNS } from '../../src/profile/columns.js';
import { isClassifierOutput, top1Agreement } from '../../src/profile/top1.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { cli } from '../cli-helper.js';
import { realModels } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-resume-old-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const OLD = join('test', 'profile', 'fixtures', 'ppocr-before-codecs.csv');
const read = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
const header = (file: string) => (parse(readFileSync(file, 'utf8'), { to_line: 1 }) as string[][])[0]!;

describe('top-1 agreement', () => {
  const t = (dims: number[], data: number[]): HostTensor => ({ type: 'float32', dims, data: new Float32Array(data) });

  it('counts the rows of float rank-2 outputs with more than one class whose top class is the full model’s', () => {
    assert.ok(isClassifierOutput(t([2, 3], [0, 0, 0, 0, 0, 0])));
    assert.ok(!isClassifierOutput(t([1, 1], [0])), 'one class: not a classifier');
    assert.ok(!isClassifierOutput(t([1, 2, 3], [0, 0, 0, 0, 0, 0])), 'rank 3: not by the rule');
    assert.ok(!isClassifierOutput({ type: 'int64', dims: [1, 3], data: new BigInt64Array(3) }));
    const want = { logits: t([3, 3], [1, 2, 3, 9, 0, 0, 0, 5, 1]), map: t([1, 2, 2], [0, 1, 2, 3]) };
    const got = new Map([
      ['logits', t([3, 3], [1, 2, 3, 0, 9, 0, 0, 5, 4])],
      ['map', t([1, 2, 2], [3, 2, 1, 0])],
    ]);
    assert.equal(top1Agreement(got, want), 2 / 3);
    assert.equal(top1Agreement(new Map(), want), 0, 'a missing output agrees nowhere');
    assert.equal(top1Agreement(got, { map: want.map }), undefined, 'no classifier output');
  });
});

describe('run_all --resume of a results file from before the codec columns', () => {
  const model = realModels.find((m) => m.name === 'ppocr_mobile_v2_cls')!;
  const old = read(OLD);
  const splits = [...new Set(old.map((r) => r.split_index!))];
  const args = (file: string, ...more: string[]) => ['run_all', '--onnx_file', model.path, '--input_shape', 'x:1x3x48x192', '--splits', ...splits, '--results_file', file, '--resume', ...more];

  it('is refused, and left as it is, when another setting differs', async () => {
    const file = join(dir, 'other.csv');
    copyFileSync(OLD, file);
    const r = await cli(args(file, '--rep', '10', '--threads', '2', '--spinning', 'on'));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /measured with 1 edge thread \(--threads or --edge_threads\), this run has 2 edge threads/);
    assert.deepEqual(readFileSync(file), readFileSync(OLD), 'the file is unchanged');
    // Its sessions' threads spun (onnxruntime's default then); a local sweep now has them sleep.
    const spin = await cli(args(file, '--rep', '10', '--threads', '1'));
    assert.notEqual(spin.code, 0);
    assert.match(spin.err, /measured with thread spinning on, this run has thread spinning off/);
    assert.deepEqual(readFileSync(file), readFileSync(OLD), 'the file is unchanged');
  });

  it('counts its rows as raw, adds the columns, and continues with raw and fp16', async () => {
    assert.ok(!header(OLD).includes('tensor_codec'), 'the file is of the old format');
    const file = join(dir, 'ppocr.csv');
    copyFileSync(OLD, file);
    const r = await cli(args(file, '--rep', '11', '--warmup', '0', '--threads', '1', '--spinning', 'on', '--tensor_codec', 'raw', 'fp16'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /written before the column\(s\) [\w, ]*tensor_codec, codec_encode_ms, cloud_codec_decode_ms, [\w, ]*: added, its 140 rows kept as they were/);
    for (const c of ['edge_threads', 'cloud_threads', 'spinning', 'top1_agreement', 'store_retries', 'warmup_ms', 'cloud_restarts']) assert.match(r.err, new RegExp(`before the column\\(s\\) [\\w, ]*\\b${c}\\b`), c);
    assert.deepEqual(header(file), [...COLUMNS]);
    const rows = read(file);
    // Split 220 is the edge-only one: it sends nothing, so fp16 cannot change it; its raw rows stand for fp16 too.
    const alone = old.filter((o) => o.backend === 'none').map((o) => o.split_index);
    assert.deepEqual([...new Set(alone)], ['220']);
    assert.equal(rows.length, 140 + splits.length + (splits.length - 1) * 11, 'one more raw repetition per split point, and 11 fp16 ones per split point that sends something');
    old.forEach((o, i) => {
      for (const [c, v] of Object.entries(o)) if (c !== 'threads') assert.equal(rows[i]![c], v, `old row ${i} ${c}`);
      assert.equal(rows[i]!.edge_threads, o.threads, `old row ${i}: threads were both sides'`);
      assert.equal(rows[i]!.cloud_threads, o.threads);
      assert.equal(rows[i]!.spinning, 'on');
      assert.ok(!('threads' in rows[i]!), 'the legacy column is gone');
      assert.equal(rows[i]!.tensor_codec, 'raw');
    });
    const added = rows.slice(140);
    assert.deepEqual(added.filter((x) => x.tensor_codec === 'raw').map((x) => x.rep), splits.map(() => '10'), 'raw: only the repetition not done');
    assert.equal(added.filter((x) => x.tensor_codec === 'fp16').length, (splits.length - 1) * 11);
    assert.ok(!added.some((x) => x.tensor_codec === 'fp16' && x.split_index === '220'), 'the edge-only split point is not measured again with fp16');
    for (const x of added) {
      assert.equal(x.status, 'ok', x.error);
      // softmax_0.tmp_0 is [1, 2]: a classifier's output.
      assert.equal(x.top1_agreement, '1', `split ${x.split_index} ${x.tensor_codec}: the same class`);
    }
    const summary = read(join(dir, 'ppocr.summary.csv'));
    assert.equal(summary.length, splits.length * 2, 'the edge-only split point has a line under each codec');
    for (const s of summary) {
      assert.equal(s.reps, s.tensor_codec === 'raw' ? '11' : '11');
      assert.equal(s.top1_agreement, '1', `summary ${s.split_index} ${s.tensor_codec}`);
    }
    assert.match(r.out, /sent as fp16: max \|split - full\| [\d.e-]+, top-1 agreement 100\.0% over the \d+ rows that sent tensors/);
    // plot_results and report show the deviation.
    const plot = await cli(['plot_results', '--results_file', file]);
    assert.equal(plot.code, 0, plot.err);
    const svg = readFileSync(join(dir, 'ppocr.codec-fp16.svg'), 'utf8');
    assert.match(svg, /outputs vs the full model: max \|diff\| [\d.e-]+, top-1 agreement 100\.0% at worst/);
    const rep = await cli(['report', '--results_file', file]);
    assert.equal(rep.code, 0, rep.err);
    const html = readFileSync(join(dir, 'ppocr.html'), 'utf8');
    assert.match(html, /<button type="button">max_<wbr>abs_<wbr>diff<\/button>/);
    assert.match(html, /<button type="button">top1_<wbr>agreement<\/button>/);
    const fp16 = read(file).filter((x) => x.tensor_codec === 'fp16' && x.split_index === splits[1]).map((x) => Number(x.max_abs_diff));
    assert.ok(html.includes(`>${Math.max(...fp16).toPrecision(3)}</td>`), 'the deviation is shown to 3 significant digits');
  });
});
