/**
 * Argument parsing of every command, with the operations' handlers replaced: both spellings,
 * per-operation help, flags refused for the operations that do not take them, bad values named,
 * defaults as declared; and the edge, cloud and OSCAR helper entries inside the same boundary.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CommandDef } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import type { Options } from 'yargs';
import { kubernetesOptions } from '../../src/backends/kube/options.js';
import { oscarOptions } from '../../src/backends/oscar-options.js';
import { sshOptions } from '../../src/backends/ssh-options.js';
import { CLOUD_FLAGS } from '../../src/cli/option-groups.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { cli } from '../cli-helper.js';
import { projectRoot } from '../models/zoo.js';

const root = projectRoot();

interface Call {
  name: string;
  args: Record<string, unknown>;
}

/** Runs the parser with every handler replaced by one that records its arguments. */
async function parse(argv: string[]): Promise<{ code: number; out: string; err: string; calls: Call[] }> {
  const calls: Call[] = [];
  const replaced = (COMMANDS as unknown as CommandDef<Record<string, unknown>>[]).map((c) => ({
    ...c,
    run: async (args: Record<string, unknown>) => {
      calls.push({ name: c.name, args });
    },
  }));
  const r = await cli(argv, { commands: replaced as unknown as CommandDef<never>[] });
  return { code: r.code, out: r.out, err: r.err, calls };
}

/** The long flags a help text lists. */
function helpFlags(text: string): Set<string> {
  return new Set([...text.matchAll(/^\s+(?:-\w, )?--([a-z_]+)/gm)].map((m) => m[1]!));
}

const NAMES = COMMANDS.map((c) => c.name);

describe('onnx-manager command parsing', () => {
  it('has one command module per operation', () => {
    assert.deepEqual(
      [...NAMES].sort(),
      ['check', 'clean', 'data_processing', 'deploy', 'early_exit_split_model', 'list_layers', 'multi_split_model', 'plot_results', 'predict', 'print_model', 'profile', 'quant_model', 'recommend', 'report', 'run', 'run_all', 'show_graph', 'split_model', 'split_model_all'],
    );
  });

  it('takes both spellings, giving the handler the same arguments', async () => {
    for (const extra of [['--json'], ['--batch', '2'], []]) {
      const a = await parse(['list_layers', '--onnx_file', 'm.onnx', ...extra]);
      const b = await parse(['--operation', 'list_layers', '--onnx_file', 'm.onnx', ...extra]);
      const c = await parse(['--onnx_file', 'm.onnx', ...extra, '--operation=list_layers']);
      for (const r of [a, b, c]) {
        assert.equal(r.code, 0, r.err);
        assert.equal(r.calls.length, 1);
        assert.equal(r.calls[0]!.name, 'list_layers');
      }
      const strip = (x: Record<string, unknown>) => JSON.stringify({ ...x, _: undefined, $0: undefined });
      assert.equal(strip(a.calls[0]!.args), strip(b.calls[0]!.args));
      assert.equal(strip(a.calls[0]!.args), strip(c.calls[0]!.args));
    }
  });

  it('lists the operations with one example each', async () => {
    const r = await parse(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) {
      assert.match(r.out, new RegExp(`onnx-manager ${c.name}\\s`), c.name);
      assert.ok(r.out.replace(/\s+/g, ' ').includes(`onnx-manager ${c.example}`), `example of ${c.name}`);
    }
    assert.equal(r.calls.length, 0);
  });

  it('shows for each operation only the flags it takes', async () => {
    const all = new Set<string>();
    const per = new Map<string, Set<string>>();
    for (const name of NAMES) {
      const r = await parse([name, '--help']);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.calls.length, 0, 'help runs nothing');
      const flags = helpFlags(r.out);
      per.set(name, flags);
      for (const f of flags) all.add(f);
    }
    assert.ok(!per.get('list_layers')!.has('kube_mode') && !per.get('list_layers')!.has('minio_endpoint') && !per.get('list_layers')!.has('rep'));
    assert.ok(!per.get('print_model')!.has('batch'));
    assert.ok(per.get('run_all')!.has('kube_mode') && per.get('run_all')!.has('resume') && per.get('run_all')!.has('oscar_trigger'));
    assert.ok(!per.get('run')!.has('resume'), 'resume is a sweep flag');
    assert.ok(per.get('deploy')!.has('oscar_image') && !per.get('deploy')!.has('kube_mode'));
    assert.ok(!per.get('run_all')!.has('oscar_image'), 'service definition flags are deploy-only');
    for (const [name, flags] of per) assert.ok(flags.size < all.size, `${name} lists ${flags.size} of ${all.size} flags`);
  });

  it('refuses a flag the operation does not take, naming the flag and the operation', async () => {
    const cases: [string[], string, string][] = [
      [['list_layers', '--onnx_file', 'm.onnx', '--kube_mode', 'worker'], 'kube_mode', 'list_layers'],
      [['--operation', 'print_model', '--onnx_file', 'm.onnx', '--rep', '3'], 'rep', 'print_model'],
      [['split_model_all', '--onnx_file', 'm.onnx', '--minio_endpoint', 'x:9000'], 'minio_endpoint', 'split_model_all'],
      [['run', '--onnx_file', 'm.onnx', '--split_layer', 'x', '--resume'], 'resume', 'run'],
      [['data_processing', '--onnx_file', 'm.onnx', '--image_file', 'a.jpg', '--exec_type', 'CPU'], 'exec_type', 'data_processing'],
    ];
    for (const [argv, flag, op] of cases) {
      const r = await parse(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.calls.length, 0);
      assert.equal(r.err, `onnx-manager: ${op} does not take --${flag} (see onnx-manager ${op} --help)`);
    }
  });

  it('refuses a backend flag given for another backend', async () => {
    const declared: Record<string, Options> = { ...oscarOptions, ...kubernetesOptions, ...sshOptions };
    let checked = 0;
    for (const [backend, flags] of Object.entries(CLOUD_FLAGS)) {
      for (const flag of flags) {
        const o = declared[flag]!;
        if (o.hidden) continue; // refused on its own (a secret on the command line)
        const value = o.type === 'boolean' ? [] : [String((o.choices as string[] | undefined)?.[0] ?? 'x')];
        const r = await parse(['run_all', '--onnx_file', 'm.onnx', `--${flag}`, ...value]);
        checked++;
        assert.equal(r.code, 2, `${flag}: ${r.err}`);
        assert.match(r.err, new RegExp(`--${flag} is an option of --cloud (${backend}|\\w+), and this run uses --cloud local`));
      }
    }
    assert.ok(checked >= 15, `${checked} backend flags checked`);
    const ok = await parse(['run_all', '--onnx_file', 'm.onnx', '--cloud', 'kubernetes', '--kube_mode', 'worker', '--ssh_key', 'k']);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.calls[0]!.args.kube_mode, 'worker');
  });

  it('names an unknown operation with the list, and a bad choice with the flag, the value and the choices', async () => {
    const u = await parse(['--operation', 'run_some', '--onnx_file', 'm.onnx']);
    assert.equal(u.code, 2);
    assert.equal(u.err, `onnx-manager: unknown operation 'run_some' (one of: ${NAMES.join(', ')})`);
    const p = await parse(['run_sum']);
    assert.match(p.err, /unknown operation 'run_sum'/);
    const c = await parse(['run_all', '--onnx_file', 'm.onnx', '--graph_opt', 'most']);
    assert.equal(c.err, 'onnx-manager: --graph_opt "most" is not one of: disabled, basic, extended, all');
    const k = await parse(['run_all', '--onnx_file', 'm.onnx', '--cloud', 'kubernetes', '--kube_mode', 'pod']);
    assert.equal(k.err, 'onnx-manager: --kube_mode "pod" is not one of: job, worker');
    const e = await parse(['run', '--onnx_file', 'm.onnx', '--split_layer', 'x', '--exec_type', 'quantum']);
    assert.match(e.err, /^onnx-manager: unknown --exec_type 'quantum' \(one of: CPU, GPU/);
    for (const r of [u, p, c, k, e]) assert.equal(r.calls.length, 0);
  });

  it('refuses bad numbers before anything starts', async () => {
    const cases: [string[], RegExp][] = [
      [['run', '--split_layer', 'x', '--threads', '-1'], /--threads must be an integer >= 1, got -1/],
      [['run', '--split_layer', 'x', '--threads', '0'], /--threads must be an integer >= 1, got 0/],
      [['run', '--split_layer', 'x', '--threads', 'abc'], /--threads must be an integer >= 1, got 'abc'$/],
      [['run', '--split_layer', 'x', '--warmup', '-1'], /--warmup must be an integer >= 0, got -1/],
      [['run_all', '--warmup', '-1'], /--warmup must be an integer >= 0/],
      [['run_all', '--warmup', 'abc'], /--warmup must be an integer >= 0, got 'abc'$/],
      [['run_all', '--bandwidth=1x'], /--bandwidth must be a positive number, got '1x'$/],
      // --splits takes layer names too: they (and bad indexes) are checked against the model (run-all.test.ts).
      [['run_all', '--splits'], /^onnx-manager: --splits needs a value$/],
      // A number flag with no value is not its default.
      [['run_all', '--rep'], /^onnx-manager: --rep needs a value$/],
      [['run_all', '--rep='], /^onnx-manager: --rep needs a value$/],
      [['run_all', '--rep', '--warmup', '1'], /^onnx-manager: --rep needs a value$/],
      [['run_all', '--bandwidth'], /^onnx-manager: --bandwidth needs a value$/],
      [['run_all', '--warmup', '1.5'], /--warmup must be an integer >= 0, got 1.5/],
      [['run_all', '--threads', '-1'], /--threads must be an integer >= 1/],
      [['run_all', '--rep', '0'], /--rep must be an integer >= 1, got 0/],
      [['run_all', '--timeout', '0'], /--timeout must be a positive number, got 0/],
      [['list_layers', '--batch', '0'], /--batch must be an integer >= 1, got 0/],
      [['list_layers', '--onnx_file'], /--onnx_file needs a value/],
    ];
    for (const [argv, pattern] of cases) {
      const full = argv.includes('--onnx_file') ? argv : [...argv, '--onnx_file', 'm.onnx'];
      const r = await parse(full);
      assert.equal(r.code, 2, `${full.join(' ')}: ${r.err}`);
      assert.match(r.err, pattern, full.join(' '));
      assert.equal(r.err.split('\n').length, 1);
      assert.equal(r.calls.length, 0, 'the handler never ran');
    }
  });

  it('applies each default as declared, once', async () => {
    const run = await parse(['run', '--onnx_file', 'm.onnx', '--split_layer', 'x']);
    const all = await parse(['run_all', '--onnx_file', 'm.onnx']);
    assert.equal(run.calls[0]!.args.rep, DEFAULTS.repRun);
    assert.equal(all.calls[0]!.args.rep, DEFAULTS.repRunAll);
    for (const r of [run, all]) {
      const a = r.calls[0]!.args;
      assert.equal(a.timeout, DEFAULTS.timeoutS);
      assert.equal(a.warmup, DEFAULTS.warmup);
      assert.equal(a.exec_type, DEFAULTS.execType);
      assert.equal(a.graph_opt, DEFAULTS.graphOpt);
      assert.equal(a.cloud, DEFAULTS.cloud);
      assert.equal(a.seed, DEFAULTS.seed);
    }
  });

  it('parses onnx-edge, onnx-cloud and the OSCAR helper inside the same boundary', () => {
    const tools: [string, string[], RegExp][] = [
      [join(root, 'dist', 'edge', 'onnx-edge.js'), ['--bogus'], /^onnx-edge: unknown flag --bogus \(see onnx-edge --help\)\n$/],
      [join(root, 'dist', 'edge', 'onnx-edge.js'), ['--rep', '-3'], /^onnx-edge: --rep must be an integer >= 0, got -3\n$/],
      [join(root, 'dist', 'cloud', 'onnx-cloud.js'), ['--exec_type', 'quantum'], /^onnx-cloud: unknown --exec_type 'quantum'.*\n$/],
      [join(root, 'dist', 'cloud', 'onnx-cloud.js'), ['--graph_opt', 'x'], /^onnx-cloud: --graph_opt "x" is not one of: disabled, basic, extended, all\n$/],
      [join(root, 'dist', 'cloud', 'oscar', 'helper.js'), ['stage', '--input_file', 'a', '--save_results', 'b', '--bogus', '1'], /^onnx-cloud helper: unknown flag --bogus/],
      [join(root, 'dist', 'cloud', 'oscar', 'helper.js'), ['launch'], /^onnx-cloud helper: unexpected argument 'launch'/],
    ];
    for (const [bin, argv, pattern] of tools) {
      const r = spawnSync(process.execPath, [bin, ...argv], { encoding: 'utf8', env: { ...process.env, MINIO_ENDPOINT: '' } });
      assert.equal(r.status, 2, `${bin} ${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const help = spawnSync(process.execPath, [join(root, 'dist', 'cloud', 'onnx-cloud.js'), '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--serve/);
  });
});
