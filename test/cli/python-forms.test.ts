/**
 * The Python tool's command forms: boolean flags as its examples write them
 * (`--image_is_grayscale=True`, `--image_is_grayscale False`, any case) mean what they say (`=True`
 * is never read as false); its --onnx_path: beside --onnx_file refused by run and run_all saying
 * what to do instead, alone the folder's one model run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CommandDef } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { pythonBooleans } from '../../src/cli/flags.js';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';

/** The arguments data_processing's handler is given for `flags`. */
async function parsed(flags: string[]): Promise<{ code: number; err: string; args?: Record<string, unknown> }> {
  let seen: Record<string, unknown> | undefined;
  const replaced = (COMMANDS as unknown as CommandDef<Record<string, unknown>>[]).map((c) => ({
    ...c,
    run: async (args: Record<string, unknown>) => {
      seen = args;
    },
  }));
  const r = await cli(['--operation', 'data_processing', '--onnx_file', 'm.onnx', '--image_file', 'a.jpg', ...flags], { commands: replaced as unknown as CommandDef<never>[] });
  return { code: r.code, err: r.err, ...(seen ? { args: seen } : {}) };
}

describe('boolean flags written the Python way', () => {
  it('reads True and False, after = or as the next word, in any case', async () => {
    const cases: [string[], boolean][] = [
      [['--image_is_grayscale=True'], true],
      [['--image_is_grayscale=true'], true],
      [['--image_is_grayscale=False'], false],
      [['--image_is_grayscale=FALSE'], false],
      [['--image_is_grayscale', 'True'], true],
      [['--image_is_grayscale', 'False'], false],
      [['--image_is_grayscale'], true],
      [['--no-image_is_grayscale'], false],
    ];
    for (const [flags, want] of cases) {
      const r = await parsed(flags);
      assert.equal(r.code, 0, `${flags.join(' ')}: ${r.err}`);
      assert.equal(r.args?.image_is_grayscale, want, flags.join(' '));
    }
  });

  it('leaves values of other flags and words that are not booleans alone', () => {
    const booleans = new Set(['resume', 'image_is_grayscale']);
    assert.deepEqual(pythonBooleans(['--results_file', 'True', '--resume', 'x.csv'], booleans), ['--results_file', 'True', '--resume', 'x.csv']);
    assert.deepEqual(pythonBooleans(['--image_is_grayscale=yes'], booleans), ['--image_is_grayscale=yes']);
    assert.deepEqual(pythonBooleans(['--', '--resume', 'True'], booleans), ['--', '--resume', 'True']);
    assert.deepEqual(pythonBooleans(['--resume', 'True', '--image_is_grayscale=False'], booleans), ['--resume', '--no-image_is_grayscale']);
  });
});

describe("the Python tool's --onnx_path", () => {
  it('is refused by run and run_all beside --onnx_file, with what to do instead', async () => {
    const r = await cli(['--operation', 'run_all', '--onnx_file', 'm.onnx', '--onnx_path', 'DIR']);
    assert.equal(r.code, 2, r.err);
    assert.equal(r.errLines.length, 1, r.err);
    assert.match(r.err, /does not take --onnx_path \(the parts are made from --onnx_file as they are needed; drop --onnx_path; split_model writes them to a folder\)/, r.err);
  });

  it('is refused by an operation that reads only the model (list_layers, print_model), naming --onnx_file, not parts it never makes', async () => {
    for (const op of ['list_layers', 'print_model', 'quant_model']) {
      const r = await cli(['--operation', op, '--onnx_file', 'm.onnx', '--onnx_path', 'DIR', ...(op === 'quant_model' ? ['--quant_type', 'QInt8'] : [])]);
      assert.equal(r.code, 2, r.err);
      assert.deepEqual(r.errLines, [`onnx-manager: ${op} does not take --onnx_path (it reads the model given by --onnx_file; --onnx_path is the output folder of split_model and the other operations that write parts) (see onnx-manager ${op} --help)`]);
    }
  });

  it('run --help and run_all --help say that --onnx_path DIR alone names the model', async () => {
    for (const op of ['run', 'run_all']) {
      const r = await cli([op, '--help']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out.replace(/\s+/g, ' '), /--onnx_file The ONNX model to work on \(or --onnx_path DIR alone: the one \.onnx file in DIR\)/, r.out);
    }
  });

  it('alone, runs the one .onnx file in the folder, naming it; none or several are refused, listing them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-onnx-path-'));
    try {
      const one = join(dir, 'one');
      mkdirSync(one);
      writeZooModel('lenet5', one);
      writeFileSync(join(one, 'notes.txt'), 'not a model');
      const csv = join(dir, 'r.csv');
      const r = await cli(['--operation', 'run_all', '--onnx_path', one, '--splits', '12', '--rep', '1', '--warmup', '0', '--results_file', csv]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`^note: running ${join(one, 'lenet5.onnx').replace(/[.]/g, '\\.')}, the one \\.onnx file in --onnx_path ${one.replace(/[.]/g, '\\.')}$`, 'm'), r.out);
      const two = join(dir, 'two');
      mkdirSync(two);
      writeZooModel('lenet5', two);
      writeZooModel('input_reuse', two);
      const cases: [string, string][] = [
        [two, `onnx-manager: --onnx_path ${two} holds 2 .onnx files (input_reuse.onnx, lenet5.onnx); name the one to run with --onnx_file`],
        [join(dir, 'none'), `onnx-manager: --onnx_path ${join(dir, 'none')}: no such folder`],
        [dir, `onnx-manager: --onnx_path ${dir} holds no .onnx file; give the model with --onnx_file`],
      ];
      for (const [folder, line] of cases) {
        const bad = await cli(['--operation', 'run', '--split_layer', '3', '--onnx_path', folder]);
        assert.equal(bad.code, 2, bad.err);
        assert.deepEqual(bad.errLines, [line]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
