/**
 * A results file that cannot be written (a directory, under a file, under /proc or /sys, in a
 * read-only folder) is refused in one line naming the path and why, before anything is measured;
 * nothing is written. So is an output folder (--onnx_path) or --output_file there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();
let dir: string;
let model: string;

before(async () => {
  dir = await temp('output-paths');
  model = writeZooModel('lenet5', dir);
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'plain'), 'x');
});

const cases: [string, string[]][] = [
  ['run_all', ['--rep', '1', '--splits', '1']],
  ['run', ['--split_layer', 'relu_2_out', '--rep', '1']],
  ['profile', ['--rep', '1']],
  ['predict', ['--profile_rep', '1']],
];

describe('results files that cannot be written', () => {
  for (const [op, extra] of cases) {
    it(`${op}: a directory, or a path under a file, is refused naming it`, async () => {
      const before = readdirSync(dir).sort();
      const folder = join(dir, 'folder');
      const d = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', folder]);
      assert.equal(d.code, 2, d.err);
      assert.deepEqual(d.errLines, [`onnx-manager: --results_file ${folder} is a directory; name a file`]);
      const under = join(dir, 'plain', 'x.csv');
      const u = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', under]);
      assert.equal(u.code, 2, u.err);
      assert.deepEqual(u.errLines, [`onnx-manager: --results_file ${under}: ${join(dir, 'plain')} is a file, not a folder`]);
      assert.deepEqual(readdirSync(dir).sort(), before);
      assert.deepEqual(readdirSync(folder), []);
    });
  }
});

describe('outputs under the kernel\'s filesystems, or in a folder that cannot be written', () => {
  // /proc and /sys hold no files of a user's: a file or folder cannot be made there, whatever the permissions say.
  const kernel: [string, string][] = [
    ['/proc/nonexistent/r.csv', "/proc is in the kernel's proc filesystem, where no file can be made"],
    ['/proc/self/r.csv', "/proc/self is in the kernel's proc filesystem, where no file can be made"],
    ['/proc/self/status', "/proc/self is in the kernel's proc filesystem, where no file can be made"],
    ['/sys/r.csv', "/sys is in the kernel's sysfs filesystem, where no file can be made"],
  ];
  for (const [op, extra] of cases) {
    it(`${op}: a --results_file under /proc or /sys is refused naming it and why`, async () => {
      for (const [file, why] of kernel) {
        const r = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', file]);
        assert.equal(r.code, 2, r.err);
        assert.deepEqual(r.errLines, [`onnx-manager: --results_file ${file}: ${why}; name a file elsewhere`]);
      }
    });
  }

  it('--onnx_path (split_model, early_exit_split_model, show_graph), --output_file (report, quant_model) and --cut_out under /proc are refused naming them and why', async () => {
    const csv = join(dir, 'for-report.csv');
    const sweep = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--warmup', '0', '--splits', '1', '--results_file', csv]);
    assert.equal(sweep.code, 0, sweep.err);
    const runs: [string[], string][] = [
      [['--operation', 'split_model', '--onnx_file', model, '--split_layer', '3', '--onnx_path', '/proc/self/parts'], "--onnx_path /proc/self/parts: /proc/self is in the kernel's proc filesystem, where no file can be made; name a folder elsewhere"],
      [['--operation', 'split_model_all', '--onnx_file', model, '--onnx_path', '/proc/nonexistent/parts'], "--onnx_path /proc/nonexistent/parts: /proc is in the kernel's proc filesystem, where no file can be made; name a folder elsewhere"],
      [['--operation', 'multi_split_model', '--onnx_file', model, '--split_layers', '3', '7', '--onnx_path', join(dir, 'plain', 'parts')], `--onnx_path ${join(dir, 'plain', 'parts')}: ${join(dir, 'plain')} is a file, not a folder`],
      [['--operation', 'show_graph', '--onnx_file', model, '--onnx_path', '/proc/self/graph'], "--onnx_path /proc/self/graph: /proc/self is in the kernel's proc filesystem, where no file can be made; name a folder elsewhere"],
      [['--operation', 'report', '--results_file', csv, '--output_file', '/proc/self/report.html'], "--output_file /proc/self/report.html: /proc/self is in the kernel's proc filesystem, where no file can be made; name a file elsewhere"],
      [['--operation', 'report', '--results_file', csv, '--output_file', join(dir, 'folder')], `--output_file ${join(dir, 'folder')} is a directory; name a file`],
      [['--operation', 'list_layers', '--onnx_file', model, '--optimal', '--cut_out', '/proc/self/cut.json'], "--cut_out /proc/self/cut.json: /proc/self is in the kernel's proc filesystem, where no file can be made; name a file elsewhere"],
      [['--operation', 'recommend', '--onnx_file', model, '--profile', join(dir, 'm.profile.csv'), '--cut_out', '/proc/self/cut.json'], "--cut_out /proc/self/cut.json: /proc/self is in the kernel's proc filesystem, where no file can be made; name a file elsewhere"],
      [['--operation', 'quant_model', '--onnx_file', model, '--quant_type', 'QInt8', '--output_file', '/proc/self/q.onnx'], "--output_file /proc/self/q.onnx: /proc/self is in the kernel's proc filesystem, where no file can be made; name a file elsewhere"],
      [['--operation', 'early_exit_split_model', '--onnx_file', model, '--outputs', 'relu_2_out', '--onnx_path', '/proc/self/e'], "--onnx_path /proc/self/e: /proc/self is in the kernel's proc filesystem, where no file can be made; name a folder elsewhere"],
    ];
    for (const [args, line] of runs) {
      const r = await cli(args);
      assert.equal(r.code, 2, r.err);
      assert.deepEqual(r.errLines, [`onnx-manager: ${line}`]);
    }
  });

  it('a folder that cannot be written is refused before anything is measured', { skip: process.getuid?.() === 0 ? 'root writes in any folder' : false }, async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    try {
      for (const [op, extra] of cases) {
        const file = join(locked, 'r.csv');
        const r = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', file]);
        assert.equal(r.code, 2, r.err);
        assert.deepEqual(r.errLines, [`onnx-manager: --results_file ${file}: cannot write in ${locked} (permission denied); name a file elsewhere`]);
      }
      assert.deepEqual(readdirSync(locked), []);
    } finally {
      chmodSync(locked, 0o755);
    }
  });
});

describe('output files that cannot be written', () => {
  it('data_processing, quant_model and report: an --output_file that is a folder, or lies under a file, is refused naming it (exit 2) before the work', async () => {
    const image = join(dir, 'pic.png');
    await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toFile(image);
    const csv = join(dir, 'sweep.csv');
    const sweep = await cli(['run_all', '--onnx_file', model, '--rep', '1', '--warmup', '0', '--splits', '12', '--results_file', csv]);
    assert.equal(sweep.code, 0, sweep.err);
    const cases: string[][] = [
      ['data_processing', '--onnx_file', model, '--image_file', image],
      ['quant_model', '--onnx_file', model, '--quant_type', 'QInt8', '--batch', '1', '--rounds', '1'],
      ['report', '--results_file', csv],
    ];
    for (const args of cases) {
      const before = readdirSync(dir).sort();
      const folder = join(dir, 'folder');
      const d = await cli([...args, '--output_file', folder]);
      assert.equal(d.code, 2, `${args[0]}: ${d.err}`);
      assert.deepEqual(d.errLines, [`onnx-manager: --output_file ${folder} is a directory; name a file`]);
      const under = join(dir, 'plain', 'x.out');
      const u = await cli([...args, '--output_file', under]);
      assert.equal(u.code, 2, `${args[0]}: ${u.err}`);
      assert.deepEqual(u.errLines, [`onnx-manager: --output_file ${under}: ${join(dir, 'plain')} is a file, not a folder`]);
      assert.deepEqual(readdirSync(dir).sort(), before, `${args[0]}: nothing written`);
      assert.deepEqual(readdirSync(folder), []);
    }
  });
});

describe('results files that are not files of results', () => {
  it('a FIFO (or a device) is refused before it is read: reading one never ends', { timeout: 60_000 }, async () => {
    const fifo = join(dir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    for (const [op, extra] of cases) {
      const d = await cli(['--operation', op, '--onnx_file', model, ...extra, '--results_file', fifo]);
      assert.equal(d.code, 2, d.err);
      assert.deepEqual(d.errLines, [`onnx-manager: --results_file ${fifo} is not a regular file (a device, FIFO or socket); name a file`]);
    }
    const dev = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--results_file', '/dev/zero']);
    assert.equal(dev.code, 2, dev.err);
    assert.deepEqual(dev.errLines, ['onnx-manager: --results_file /dev/zero is not a regular file (a device, FIFO or socket); name a file']);
  });

  it('a symbolic link to a path under /proc is refused naming both', async () => {
    const link = join(dir, 'into-proc.csv');
    symlinkSync('/proc/self/r.csv', link);
    const d = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--splits', '1', '--results_file', link]);
    assert.equal(d.code, 2, d.err);
    assert.deepEqual(d.errLines, [`onnx-manager: --results_file ${link} (a symbolic link to /proc/self/r.csv): /proc/self is in the kernel's proc filesystem, where no file can be made; name a file elsewhere`]);
  });

  it('a symbolic link to a path whose folder is missing is refused naming both', async () => {
    const link = join(dir, 'dangling.csv');
    const target = join(dir, 'no-such-folder', 'x.csv');
    symlinkSync(target, link);
    const d = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--splits', '1', '--results_file', link]);
    assert.equal(d.code, 2, d.err);
    assert.deepEqual(d.errLines, [`onnx-manager: --results_file ${link} is a symbolic link to ${target}, whose folder ${join(dir, 'no-such-folder')} does not exist`]);
  });

  it('run --results_file does not append rows to a file that holds something else: notes, or the model itself', async () => {
    const notes = join(dir, 'run-notes.csv');
    writeFileSync(notes, 'my notes, not results\n');
    const d = await cli(['--operation', 'run', '--onnx_file', model, '--split_layer', 'relu_2_out', '--rep', '1', '--results_file', notes]);
    assert.equal(d.code, 2, d.err);
    assert.deepEqual(d.errLines, [`onnx-manager: ${notes} holds something other than run_all results (its first line: 'my notes, not results'); choose another --results_file`]);
    assert.equal(readFileSync(notes, 'utf8'), 'my notes, not results\n');
    const bytes = readFileSync(model);
    const m = await cli(['--operation', 'run', '--onnx_file', model, '--split_layer', 'relu_2_out', '--rep', '1', '--results_file', model]);
    assert.equal(m.code, 2, m.err);
    assert.equal(m.errLines.length, 1, m.err);
    assert.match(m.errLines[0]!, /lenet5\.onnx: not a run_all results CSV \(it looks like an ONNX model\)|lenet5\.onnx.*ONNX model/);
    assert.deepEqual(readFileSync(model), bytes, 'the model is as it was');
  });

  it('run_all does not append rows to a file that holds something else, with or without --resume', async () => {
    const notes = join(dir, 'notes.csv');
    writeFileSync(notes, 'my notes, not results\n');
    for (const resume of [[], ['--resume']]) {
      const d = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--splits', '1', '--results_file', notes, ...resume]);
      assert.equal(d.code, 2, d.err);
      assert.deepEqual(d.errLines, [`onnx-manager: ${notes} holds something other than run_all results (its first line: 'my notes, not results'); choose another --results_file`]);
      assert.equal(readFileSync(notes, 'utf8'), 'my notes, not results\n');
    }
  });
});
