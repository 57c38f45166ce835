/**
 * A run_all without --results_file writes a new timestamped file each time: the hint after an
 * interrupt names the file to resume, and --resume without --results_file is refused (naming the
 * newest file of the model) instead of starting another file with nothing resumed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-resume-hint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('resuming a sweep without --results_file', () => {
  const model = writeZooModel('lenet5', dir);

  it('refuses --resume without --results_file, naming the newest file of the model', async () => {
    const r = await cli(['--operation', 'run_all', '--onnx_file', model, '--resume']);
    assert.equal(r.code, 2, r.err);
    assert.deepEqual(r.errLines, ['onnx-manager: --resume needs --results_file, the file of the sweep to continue']);
    const cwd = process.cwd();
    const here = mkdtempSync(join(dir, 'cwd-'));
    mkdirSync(join(here, 'results'));
    for (const f of ['lenet5-20261201-101010.csv', 'lenet5-20261202-090909.csv', 'lenet5-20261202-090909.summary.csv', 'lenet5x-20270101-000000.csv']) writeFileSync(join(here, 'results', f), '');
    process.chdir(here);
    try {
      const named = await cli(['--operation', 'run_all', '--onnx_file', model, '--resume']);
      assert.equal(named.code, 2, named.err);
      assert.deepEqual(named.errLines, [`onnx-manager: --resume needs --results_file, the file of the sweep to continue (the newest for this model is ${join('results', 'lenet5-20261202-090909.csv')})`]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('names the file it wrote in the hint after an interrupt, and that hint resumes the sweep', async () => {
    const here = mkdtempSync(join(dir, 'run-'));
    const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
    const child = spawn(process.execPath, [bin, '--operation', 'run_all', '--onnx_file', model, '--rep', '4', '--warmup', '0'], { cwd: here, stdio: ['ignore', 'pipe', 'ignore'] });
    let said = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (said += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const written = () => (existsSync(join(here, 'results')) ? readdirSync(join(here, 'results')).filter((f) => !f.includes('summary') && !f.endsWith('.lock')) : []);
    for (let i = 0; i < 1200 && !(written().length === 1 && readFileSync(join(here, 'results', written()[0]!), 'utf8').split('\n').length > 4); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    assert.equal(await exited, 130, said);
    const file = join('results', written()[0]!);
    assert.match(said, new RegExp(`^interrupted: continue with the same command and --results_file ${file.replace(/[.]/g, '\\.')} --resume$`, 'm'), said);
    const again = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '4', '--warmup', '0', '--results_file', join(here, file), '--resume']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /rows from before\) in /);
  });
});
