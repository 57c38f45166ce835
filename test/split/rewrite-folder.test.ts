/**
 * Splitting again into a folder that holds an earlier split: the folder ends with exactly the new
 * manifest and its parts (a stale part beside a new manifest makes a wrong chain for anyone who
 * takes part*.onnx), files that are not an earlier split's parts are kept, and a manifest that
 * names files outside the folder removes nothing there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OutputTransaction } from '../../src/split/output.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';

const temp = tempDirs();

/** Every file under `dir`, relative, sorted. */
function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1))
    .sort();
}

/** manifest.json and the parts it lists, sorted. */
function listed(dir: string): string[] {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { splits: { parts: string[] }[] };
  return ['manifest.json', ...new Set(m.splits.flatMap((s) => s.parts))].sort();
}

describe('splitting into a folder with an earlier split', () => {
  it('multi_split_model then split_model: only the new parts and manifest are left, and a file of the user stays', async () => {
    const dir = await temp('rewrite-multi');
    const model = writeZooModel('resnet_like', dir);
    const out = join(dir, 'parts');
    const first = await cli(['multi_split_model', '--onnx_file', model, '--split_layers', '3', '9', '--onnx_path', out]);
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(filesIn(out), ['manifest.json', 'part1.onnx', 'part2.onnx', 'part3.onnx']);
    writeFileSync(join(out, 'notes.txt'), 'mine\n');
    const second = await cli(['split_model', '--onnx_file', model, '--split_layer', '5', '--onnx_path', out]);
    assert.equal(second.code, 0, second.err);
    assert.deepEqual(filesIn(out), [...listed(out), 'notes.txt'].sort());
    assert.ok(!existsSync(join(out, 'part3.onnx')), 'the earlier third part is gone');
    const one = await cli(['multi_split_model', '--onnx_file', model, '--split_layers', '0', '--onnx_path', join(dir, 'one')]);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /^wrote 1 part \(/m);
  });

  it('split_model_all of a smaller model over a larger one removes the split folders it no longer has', async () => {
    const dir = await temp('rewrite-all');
    const out = join(dir, 'all');
    const big = await cli(['split_model_all', '--onnx_file', writeZooModel('resnet_like', dir), '--onnx_path', out]);
    assert.equal(big.code, 0, big.err);
    const before = readdirSync(out).filter((f) => f.startsWith('split_')).length;
    const small = await cli(['split_model_all', '--onnx_file', writeZooModel('lenet5', dir), '--onnx_path', out]);
    assert.equal(small.code, 0, small.err);
    assert.deepEqual(filesIn(out), listed(out));
    const after = readdirSync(out).filter((f) => f.startsWith('split_')).length;
    assert.ok(after < before, `${after} split folders after, ${before} before`);
  });

  it('a manifest naming files outside the folder, or not parts, removes nothing', async () => {
    const dir = await temp('rewrite-outside');
    const model = writeZooModel('lenet5', dir);
    const out = join(dir, 'out');
    const r = await cli(['split_model', '--onnx_file', model, '--split_layer', '3', '--onnx_path', out]);
    assert.equal(r.code, 0, r.err);
    writeFileSync(join(out, 'keep.txt'), 'mine\n');
    const forged = { splits: [{ parts: ['../lenet5.onnx', join(dir, 'lenet5.onnx'), 'keep.txt', 'part1.onnx'] }] };
    writeFileSync(join(out, 'manifest.json'), JSON.stringify(forged));
    const again = await cli(['split_model', '--onnx_file', model, '--split_layer', '4', '--onnx_path', out]);
    assert.equal(again.code, 0, again.err);
    assert.ok(existsSync(model), 'the model outside the folder is untouched');
    assert.ok(existsSync(join(out, 'keep.txt')));
    assert.deepEqual(filesIn(out), [...listed(out), 'keep.txt'].sort());
  });

  it('a folder that cannot be made (under /proc) fails at once in one line, where node\'s recursive mkdir never returns', { skip: process.platform !== 'linux' }, () => {
    const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
    const r = spawnSync(process.execPath, [bin, 'split_model', '--onnx_file', join(projectRoot(), 'models', 'lenet5.onnx'), '--split_layer', '3', '--onnx_path', '/proc/onnx-manager-nope/parts'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, 'it ended by itself');
    // Refused before any part is made: no file can be made under /proc.
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "onnx-manager: --onnx_path /proc/onnx-manager-nope/parts: /proc is in the kernel's proc filesystem, where no file can be made; name a folder elsewhere\n");
  });

  it('the output transaction under /proc fails at once in one line too (a library caller, no flag checked)', { skip: process.platform !== 'linux' }, async () => {
    await assert.rejects(
      OutputTransaction.run('/proc/onnx-manager-nope/parts', (tx) => tx.write('x.txt', 'x')),
      (e: Error) => e.message === "/proc/onnx-manager-nope/parts: cannot create folder (/proc is in the kernel's proc filesystem, where no file can be made)",
    );
  });
});
