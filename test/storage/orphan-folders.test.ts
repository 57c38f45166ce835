/**
 * The embedded store's temporary folder when its process could not remove it (SIGKILL): the next
 * run on the host that starts an embedded store removes it; folders of live processes, of
 * another host, or without an owner are left alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { removeOrphanStoreFolders } from '../../src/storage/embedded.js';
import { projectRoot } from '../models/zoo.js';
import { until } from '../processes.js';

const root = mkdtempSync(join(tmpdir(), 'onnx-manager-orphans-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A pid no process has: one past the kernel's largest. */
const DEAD_PID = 4_194_304 + 17;

describe('folders of embedded stores left behind', () => {
  it('removes those of this host whose process is gone, and only those', async () => {
    const tmp = join(root, 'unit');
    mkdirSync(tmp);
    const folder = (name: string, owner?: string) => {
      mkdirSync(join(tmp, name, 'bucket'), { recursive: true });
      writeFileSync(join(tmp, name, 'bucket', 'object'), 'x');
      if (owner !== undefined) writeFileSync(join(tmp, name, '.owner'), owner);
      return join(tmp, name);
    };
    const dead = folder('onnx-manager-s3-dead', `${hostname()} ${DEAD_PID}\n`);
    const live = folder('onnx-manager-s3-live', `${hostname()} ${process.pid}\n`);
    const elsewhere = folder('onnx-manager-s3-elsewhere', `not-${hostname()} ${DEAD_PID}\n`);
    const unowned = folder('onnx-manager-s3-unowned');
    const other = folder('another-tool-dead', `${hostname()} ${DEAD_PID}\n`);
    assert.deepEqual(await removeOrphanStoreFolders(tmp), [dead]);
    assert.ok(!existsSync(dead));
    for (const d of [live, elsewhere, unowned, other]) assert.ok(existsSync(d), d);
  });

  it('run_all killed with SIGKILL leaves its store folder; the next run removes it and its own', async () => {
    const tmp = join(root, 'cli');
    mkdirSync(tmp);
    const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
    const model = join(projectRoot(), 'models', 'mobilenet_v2_like.onnx');
    const env = { ...process.env, TMPDIR: tmp };
    const folders = () => readdirSync(tmp).filter((f) => f.startsWith('onnx-manager-s3-'));
    const sweep = spawn(process.execPath, [bin, 'run_all', '--onnx_file', model, '--rep', '50', '--results_file', join(root, 'killed.csv')], { env, stdio: 'ignore' });
    const ended = new Promise((resolve) => sweep.once('exit', resolve));
    try {
      assert.ok(await until(() => folders().length === 1 && existsSync(join(root, 'killed.csv')), 120_000), 'the sweep started and wrote rows');
    } finally {
      sweep.kill('SIGKILL');
    }
    await ended;
    const left = folders();
    assert.equal(left.length, 1, 'SIGKILL left the folder');
    const next = spawn(process.execPath, [bin, 'run', '--onnx_file', model, '--split_layer', '5', '--rep', '1', '--warmup', '0'], { env, stdio: 'ignore', cwd: root });
    const code = await new Promise((resolve) => next.once('exit', resolve));
    assert.equal(code, 0);
    assert.deepEqual(folders(), [], 'the orphan and the run\'s own folder are gone');
  });
});
