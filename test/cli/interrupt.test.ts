/**
 * Ctrl-C (SIGINT) or SIGTERM of the operations that start processes, move bytes over the link or
 * write files (split_model_all's hundreds of parts among them): the tool stops at once (a slow upload to the store is cut, not waited for), stops
 * everything it started (the worker, the embedded store, the link's proxy), leaves no output or
 * half-written file, says in one line that it was interrupted and exits 130.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { GraphBuilder } from '../models/builder.js';
import { projectRoot } from '../models/zoo.js';
import { childrenOf, endsWithin, until } from '../processes.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-interrupt-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * An MLP whose middle Gemm holds 8 MiB of weights: its cloud part takes over a minute to cross a
 * 1 Mbit/s link, so an interrupt that waited for the upload would be seen waiting.
 */
function wideMlp(): string {
  const g = new GraphBuilder('wide_mlp', 7);
  let x = g.input('input', [1, 256]);
  x = g.relu(g.gemm(x, 256));
  x = g.relu(g.gemm(x, 8192));
  g.output(g.gemm(x, 10), 'logits');
  const file = join(dir, 'wide_mlp.onnx');
  writeFileSync(file, encodeModel(g.build()));
  return file;
}
const model = wideMlp();

/** How long the tool may take to end after the interrupt; the upload it must not wait for takes over 60 s. */
const ENDS_WITHIN_MS = 20_000;

/** The CLI as a user starts it, in `cwd`, with its temporary folders (the embedded store's) in `tmp`; its child processes recorded as they appear. */
function start(args: string[], cwd: string, tmp: string, nodeFlags: string[] = []) {
  const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
  const child = spawn(process.execPath, [...nodeFlags, bin, ...args], { cwd, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
  const said = { out: '', err: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (said.out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (said.err += d));
  const children = new Set<number>();
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.once('close', (code, signal) => (exit = { code, signal }));
  const watch = setInterval(() => {
    for (const pid of childrenOf(child.pid!)) children.add(pid);
  }, 10);
  return {
    child,
    said,
    children,
    get exit() {
      return exit;
    },
    /** The exit, once the tool has ended (within `ms`); undefined when it is still running then (it is killed). */
    async ended(ms: number) {
      const ok = await until(() => exit !== undefined, ms);
      clearInterval(watch);
      if (!ok) {
        child.kill('SIGKILL');
        for (const pid of children) process.kill(pid, 'SIGKILL');
      }
      return exit;
    },
  };
}

type Started = ReturnType<typeof start>;

/** A fresh working folder and temporary folder for one run. */
function folders(name: string): { cwd: string; tmp: string } {
  const cwd = join(dir, name);
  const tmp = join(cwd, 'tmp');
  mkdirSync(tmp, { recursive: true });
  return { cwd, tmp };
}

/**
 * Sends `signal` once `ready()` holds (polled; the run fails if it never does), then checks the
 * tool ended as an interrupted run should: `message` the last line on stderr, or among the lines
 * on stdout (`on`: 'out', run_all's line once it has rows).
 */
async function interruptWhen(run: Started, ready: () => boolean, signal: NodeJS.Signals, message: string, on: 'err' | 'out' = 'err'): Promise<void> {
  const seen = (await until(() => ready() || run.exit !== undefined, 60_000)) && run.exit === undefined;
  // Ended (killed if still running) either way, so that nothing of it outlives the test.
  if (!seen) await run.ended(0);
  assert.ok(seen, `the moment to interrupt never came (exit ${JSON.stringify(run.exit)}): ${run.said.err}`);
  run.child.kill(signal);
  const exit = await run.ended(ENDS_WITHIN_MS);
  assert.ok(exit, `still running ${ENDS_WITHIN_MS / 1000} s after ${signal}: ${run.said.err}`);
  for (const pid of run.children) {
    const ended = await endsWithin(pid, 2000);
    if (!ended) process.kill(pid, 'SIGKILL');
    assert.ok(ended, `child process ${pid} left running after ${signal}`);
  }
  assert.deepEqual(exit, { code: 130, signal: null }, `exit after ${signal}: ${run.said.err}`);
  if (on === 'err') assert.equal(run.said.err.trim().split('\n').at(-1), message, run.said.err);
  else assert.ok(run.said.out.split('\n').includes(message), run.said.out);
}

/** What a run left in its working folder, and whether the embedded store's folder is gone. */
function leftIn(cwd: string, tmp: string): { files: string[]; storeFolders: string[] } {
  const files = (function walk(d: string): string[] {
    return readdirSync(d, { withFileTypes: true }).filter((e) => join(d, e.name) !== tmp).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)).map((f) => join(e.name, f)) : [e.name]));
  })(cwd);
  return { files, storeFolders: readdirSync(tmp).filter((f) => f.startsWith('onnx-manager-s3-')) };
}

const uploading = (run: Started) => () => /putting .* in the store over the link/.test(run.said.err);

/**
 * The second cloud part on its way: the first split point's part is in the store and the sweep has
 * begun, preparing it, before its first row (with --bandwidth 8, each of wide_mlp's first parts
 * takes about 9 s to cross).
 */
const uploadingNext = (run: Started) => () => (run.said.err.match(/putting .* in the store over the link/g) ?? []).length >= 2;

/**
 * Node flags that hold the CLI while it loads its modules: when main.js is asked for, `loading`
 * appears and the load waits (at most 30 s) for `go`. Ctrl-C then comes before any of the CLI's
 * own code but its first lines has run.
 */
function whileLoading(name: string): { flags: string[]; loading: string; go: string } {
  const loading = join(dir, `${name}.loading`);
  const go = join(dir, `${name}.go`);
  const hooks = join(dir, `${name}.hooks.mjs`);
  writeFileSync(
    hooks,
    `import { existsSync, writeFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.endsWith('/dist/src/cli/main.js')) {
    writeFileSync(${JSON.stringify(loading)}, '');
    for (let i = 0; i < 3000 && !existsSync(${JSON.stringify(go)}); i++) await new Promise((r) => setTimeout(r, 10));
  }
  return next(url, context);
}
`,
  );
  const register = join(dir, `${name}.register.mjs`);
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return { flags: ['--import', register], loading, go };
}

describe('an interrupt', () => {
  it('during run_all\'s upload of a cloud part over a slow link cuts the upload and stops everything (exit 130, one line)', async () => {
    const { cwd, tmp } = folders('run-all');
    const run = start(['run_all', '--onnx_file', model, '--bandwidth', '1', '--rtt', '20', '--rep', '1', '--warmup', '0', '--results_file', 'rows.csv'], cwd, tmp);
    await interruptWhen(run, uploading(run), 'SIGINT', 'onnx-manager: interrupted before the first row; nothing measured');
    assert.ok(run.children.size > 0, 'the worker had started');
    assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
  });

  it('during run_all\'s upload of the next cloud part, the sweep begun but no row measured, leaves no results file (exit 130, one line)', async () => {
    const { cwd, tmp } = folders('run-all-next');
    // Without --results_file: the timestamped file would go in results/, made for it.
    const run = start(['run_all', '--onnx_file', model, '--bandwidth', '8', '--rtt', '20', '--rep', '1', '--warmup', '0'], cwd, tmp);
    await interruptWhen(run, uploadingNext(run), 'SIGINT', 'onnx-manager: interrupted before the first row; nothing measured');
    assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
    assert.ok(!existsSync(join(cwd, 'results')), 'the folder made for the results is gone');
  });

  it('of a resumed run_all before its first new row leaves the results file byte for byte as it was (a torn last line too)', async () => {
    const { cwd, tmp } = folders('run-all-resumed');
    const args = ['run_all', '--onnx_file', model, '--bandwidth', '8', '--rtt', '20', '--rep', '1', '--warmup', '0', '--results_file', 'rows.csv'];
    // The edge-only split point first: it puts nothing in the store.
    const first = start([...args, '--splits', 'logits'], cwd, tmp);
    assert.deepEqual(await first.ended(ENDS_WITHIN_MS * 3), { code: 0, signal: null }, first.said.err);
    const rows = join(cwd, 'rows.csv');
    writeFileSync(rows, `${readFileSync(rows, 'utf8')}5,logits,0,0`, { flag: 'w' });
    const before = readFileSync(rows);
    const summary = readFileSync(join(cwd, 'rows.summary.csv'));
    const run = start([...args, '--resume'], cwd, tmp);
    await interruptWhen(run, uploadingNext(run), 'SIGINT', 'interrupted: continue with the same command and --resume', 'out');
    assert.deepEqual(readFileSync(rows), before);
    assert.deepEqual(readFileSync(join(cwd, 'rows.summary.csv')), summary);
    assert.deepEqual(leftIn(cwd, tmp), { files: ['rows.csv', 'rows.summary.csv'], storeFolders: [] });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`of run_all (${signal}) while the CLI still loads its modules says so in one line and exits 130`, async () => {
      const { cwd, tmp } = folders(`loading-${signal}`);
      const held = whileLoading(`loading-${signal}`);
      const run = start(['run_all', '--onnx_file', model, '--rep', '1', '--results_file', 'rows.csv'], cwd, tmp, held.flags);
      try {
        await interruptWhen(run, () => existsSync(held.loading), signal, 'onnx-manager: interrupted before the first row; nothing measured');
      } finally {
        writeFileSync(held.go, '');
      }
      assert.equal(run.said.out, '');
      assert.equal(run.said.err, 'onnx-manager: interrupted before the first row; nothing measured\n');
      assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
    });
  }

  it('of another operation while the CLI still loads names it in one line and exits 130', async () => {
    const { cwd, tmp } = folders('loading-split');
    const held = whileLoading('loading-split');
    const run = start(['--operation', 'split_model_all', '--onnx_file', model, '--onnx_path', 'parts'], cwd, tmp, held.flags);
    try {
      await interruptWhen(run, () => existsSync(held.loading), 'SIGINT', 'onnx-manager: split_model_all interrupted; nothing written');
    } finally {
      writeFileSync(held.go, '');
    }
    assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
  });

  it('during run\'s upload of the cloud part over a slow link cuts the upload and stops everything (exit 130, one line)', async () => {
    const { cwd, tmp } = folders('run');
    const run = start(['run', '--onnx_file', model, '--split_layer', 'input', '--bandwidth', '1', '--rtt', '20', '--rep', '1', '--warmup', '0', '--results_file', 'rows.csv'], cwd, tmp);
    await interruptWhen(run, uploading(run), 'SIGINT', 'onnx-manager: run interrupted; nothing written');
    assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
  });

  for (const op of ['profile', 'predict'] as const) {
    it(`of ${op} once its worker runs stops the worker and the store, and writes nothing (exit 130, one line)`, async () => {
      const { cwd, tmp } = folders(op);
      const run = start([op, '--onnx_file', model, '--results_file', join('results', `wide.${op === 'predict' ? 'predict.' : ''}csv`)], cwd, tmp);
      await interruptWhen(run, () => run.children.size > 0, 'SIGINT', `onnx-manager: ${op} interrupted; nothing written`);
      assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`of quant_model (${signal}) while it compares leaves no output file, finished or not (exit 130, one line)`, async () => {
      const { cwd, tmp } = folders(`quant-${signal}`);
      // Enough timing rounds that the comparison is still going when the file has appeared.
      const run = start(['quant_model', '--onnx_file', model, '--quant_type', 'QInt8', '--output_file', 'out.quant.onnx', '--rounds', '100000'], cwd, tmp);
      await interruptWhen(run, () => readdirSync(cwd).some((f) => f.startsWith('out.quant.onnx')), signal, 'onnx-manager: quant_model interrupted; nothing written');
      assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
      assert.ok(!existsSync(join(cwd, 'out.quant.onnx')));
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`of split_model_all (${signal}) while it writes the parts removes every temporary file and the folder it made (exit 130, one line)`, async () => {
      const rec = join(projectRoot(), 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
      const { cwd, tmp } = folders(`split-all-${signal}`);
      // 426 split points, 850 parts of up to 10 MB: written for many seconds, so the interrupt falls among the writes.
      const run = start(['split_model_all', '--onnx_file', rec, '--input_shape', 'x:1x3x48x320', '--onnx_path', 'parts'], cwd, tmp);
      const written = () => (existsSync(join(cwd, 'parts')) ? readdirSync(join(cwd, 'parts'), { recursive: true }).length : 0);
      await interruptWhen(run, () => written() >= 20, signal, 'onnx-manager: split_model_all interrupted; nothing written');
      assert.deepEqual(leftIn(cwd, tmp), { files: [], storeFolders: [] });
      assert.ok(!existsSync(join(cwd, 'parts')), 'the folder it made is gone');
    });
  }

  it('of split_model_all into a folder that held files before leaves those files and only them', async () => {
    const rec = join(projectRoot(), 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
    const { cwd, tmp } = folders('split-all-kept');
    mkdirSync(join(cwd, 'parts'));
    writeFileSync(join(cwd, 'parts', 'notes.txt'), 'mine\n');
    const run = start(['split_model_all', '--onnx_file', rec, '--input_shape', 'x:1x3x48x320', '--onnx_path', 'parts'], cwd, tmp);
    await interruptWhen(run, () => readdirSync(join(cwd, 'parts'), { recursive: true }).length >= 20, 'SIGINT', 'onnx-manager: split_model_all interrupted; nothing written');
    assert.deepEqual(leftIn(cwd, tmp), { files: [join('parts', 'notes.txt')], storeFolders: [] });
  });
});
