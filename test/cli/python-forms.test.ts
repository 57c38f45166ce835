/**
 * The Python tool's command forms: boolean flags as its examples write them
 * (`--image_is_grayscale=True`, `--image_is_grayscale False`, any case) mean what they say (`=True`
 * is never read as false); its --onnx_path, which run and run_all do without, is refused saying
 * what to do instead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandDef } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { pythonBooleans } from '../../src/cli/flags.js';
import { cli } from '../cli-helper.js';

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
  it('is refused by run and run_all with what to do instead', async () => {
    for (const argv of [
      ['--operation', 'run_all', '--onnx_file', 'm.onnx', '--onnx_path', 'DIR'],
      ['--operation', 'run', '--split_layer', 'x', '--onnx_path', 'DIR'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.errLines.length, 1, r.err);
      assert.match(r.err, /does not take --onnx_path \(the parts are made from --onnx_file as they are needed; drop --onnx_path \(split_model writes them to a folder\)\)/, r.err);
    }
  });
});
