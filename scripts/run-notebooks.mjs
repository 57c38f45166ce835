// Executes every notebook in notebooks/ end to end with Jupyter (`npm run notebooks`):
//
//   node scripts/run-notebooks.mjs [--output_dir DIR] [name.ipynb ...]
//
// The executed copies (outputs and charts inside) go to DIR (default build/notebooks); the
// notebooks in notebooks/ are left as committed, without outputs. Each runs in notebooks/, so
// its relative paths (../results/...) are the repository's. Exits 1 when Jupyter or a Python
// package the notebooks need is missing (saying what to install) or when a notebook fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const INSTALL = 'sudo apt-get install jupyter-nbconvert python3-ipykernel python3-pandas python3-matplotlib';
const OPTIONAL = 'python3-torch python3-onnx (the export notebook skips PyTorch or the ONNX checks without them)';
const NOTEBOOKS = 'notebooks';

function parseArgs(argv) {
  const out = { dir: join('build', 'notebooks'), names: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--output_dir') {
      if (!argv[i + 1]) fail('--output_dir needs a folder');
      out.dir = argv[++i];
    } else if (argv[i].startsWith('-')) fail(`unknown option ${argv[i]} (takes --output_dir DIR and notebook names)`);
    else out.names.push(argv[i]);
  }
  return out;
}

function fail(message) {
  console.error(`run-notebooks: ${message}`);
  process.exit(1);
}

/** The Jupyter command's status and output, or undefined when it is not installed. */
function jupyter(args, options = {}) {
  const r = spawnSync('jupyter', args, { encoding: 'utf8', ...options });
  if (r.error?.code === 'ENOENT') return undefined;
  return r;
}

const { dir, names } = parseArgs(process.argv.slice(2));
const version = jupyter(['nbconvert', '--version']);
if (!version || version.status !== 0) {
  fail(`jupyter nbconvert is not installed (${version ? version.stderr.trim().split('\n').pop() : 'no jupyter command'}); install it with:\n  ${INSTALL}\noptional: ${OPTIONAL}`);
}
const all = readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb')).sort();
const chosen = names.length ? names : all;
for (const n of chosen) if (!all.includes(n)) fail(`no notebook ${n} in ${NOTEBOOKS}/ (there are: ${all.join(', ')})`);

mkdirSync(dir, { recursive: true });
let failed = 0;
for (const n of chosen) {
  console.log(`executing ${join(NOTEBOOKS, n)} -> ${join(dir, n)}`);
  const r = jupyter(
    ['nbconvert', '--execute', '--to', 'notebook', '--ExecutePreprocessor.timeout=900', '--output-dir', resolve(dir), n],
    { cwd: NOTEBOOKS, stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: '1' } },
  );
  if (r.status === 0 && existsSync(join(dir, n))) continue;
  failed++;
  const text = r.stderr ?? '';
  const missing = text.match(/ModuleNotFoundError: No module named '([^']+)'/);
  console.error(text.split('\n').filter((l) => !/Debugger warning|frozen modules|Debugging will proceed/.test(l)).slice(-25).join('\n'));
  console.error(missing ? `${n}: Python module ${missing[1]} is missing; install:\n  ${INSTALL}` : `${n}: failed (exit ${r.status ?? r.signal})`);
}
if (failed) fail(`${failed} of ${chosen.length} notebook(s) failed`);
console.log(`${chosen.length} notebook(s) executed; outputs in ${dir}/`);
