/**
 * The package as a library: imported by its name from a folder of its own (the package linked
 * into that folder's node_modules, as `npm link` or an install would), with the README's example
 * run as written; and the entry and its types in what `npm pack` ships.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { projectRoot, zoo } from '../models/zoo.js';
import { tempDirs } from '../helpers.js';

const root = projectRoot();
const tempDir = tempDirs();

/** The README's library example, the first js block after the heading. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('## As a library');
  assert.ok(at >= 0, 'README has an "As a library" section');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'the section has a js example');
  return m[1]!;
}

/** A consumer folder with the package linked in by name. */
async function consumer(): Promise<string> {
  const dir = await tempDir('onnx-manager-consumer-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'onnx-manager'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  return dir;
}

function node(dir: string, file: string): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MINIO_')) delete env[k];
  return spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', env, timeout: 240_000 });
}

describe('onnx-manager as a package', () => {
  it('runs the README example, imported by name, on a real model', async () => {
    const dir = await consumer();
    const z = zoo.find((m) => m.name === 'lenet5')!;
    writeFileSync(join(dir, 'model.onnx'), encodeModel(z.build()));
    writeFileSync(join(dir, 'example.mjs'), readmeExample());
    const r = node(dir, 'example.mjs');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    // The split points, as list_layers would give them, then one row per split and repetition.
    const listed = spawnSync(process.execPath, [join(root, 'dist', 'src', 'cli', 'bin.js'), 'list_layers', '--onnx_file', join(dir, 'model.onnx'), '--json'], { encoding: 'utf8' });
    const points = (JSON.parse(listed.stdout) as { split_points: { index: number; split_layer: string; tensor_bytes: number }[] }).split_points;
    assert.deepEqual(lines.slice(0, points.length), points.map((p) => `${p.index} ${p.split_layer} ${p.tensor_bytes}`));
    const rows = lines.slice(points.length).map((l) => l.split(' '));
    assert.equal(rows.length, 2 * 3, 'splits 0 and 2, three repetitions each');
    for (const [index, status, total, diff] of rows) {
      assert.ok(index === '0' || index === '2');
      assert.equal(status, 'ok');
      assert.ok(Number(total) > 0);
      assert.ok(Number(diff) <= 1e-4, `split outputs equal the full model's (max_abs_diff ${diff})`);
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'splits', 'model', 'manifest.json'), 'utf8')) as { splits: unknown[] };
    assert.equal(manifest.splits.length, points.length);
  });

  it('exports the error types and the payload codec, and refuses bad input with them', async () => {
    const dir = await consumer();
    writeFileSync(
      join(dir, 'errors.mjs'),
      [
        "import * as om from 'onnx-manager';",
        "const p = { kind: 'input', runId: 'r', splitIndex: 1, rep: 0, nextModels: [], timings: [], tensors: new Map([['x', om.randomTensor('float32', [2, 3], 1)]]) };",
        'const back = om.decodePayload(om.encodePayload(p).concat());',
        "console.log(back.runId, [...back.tensors.get('x').data].join(',') === [...p.tensors.get('x').data].join(','));",
        'for (const f of [() => om.decodePayload(new Uint8Array([1, 2, 3])), () => om.buildRunConfig({ threads: 0 }), () => om.modelFromBytes(new Uint8Array([0xff, 0xff]))]) {',
        '  try { f(); console.log("no error"); } catch (e) { console.log(e instanceof om.OnnxManagerError, e.name); }',
        '}',
        // A JavaScript caller can leave out the options the types require.
        "for (const f of [() => om.analyzeFile('model.onnx'), () => om.analyzeFile('model.onnx', {})]) {",
        '  try { await f(); console.log("no error"); } catch (e) { console.log(e instanceof om.UsageError, e.message); }',
        '}',
      ].join('\n'),
    );
    const r = node(dir, 'errors.mjs');
    assert.equal(r.status, 0, r.stderr);
    const needs = "true analyzeFile needs options.createSession, the session maker its shape runs use: pass { createSession } imported from 'onnx-manager'";
    assert.deepEqual(r.stdout.trim().split('\n'), ['r true', 'true PayloadError', 'true UsageError', 'true OnnxFormatError', needs, needs]);
  });

  it('ships the entry and its types', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string; types: string; exports: Record<string, string> };
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    for (const f of [pkg.main, pkg.types, pkg.exports['.']!]) assert.ok(files.has(f.replace(/^\.\//, '')), `${f} is packed`);
    assert.ok(files.has('dist/src/cli/bin.js') && files.has('dist/cloud/onnx-cloud.js') && files.has('dist/edge/onnx-edge.js'));
    assert.ok(![...files].some((f) => f.startsWith('dist/test/')), 'tests are not shipped');
  });
});
