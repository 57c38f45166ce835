/**
 * The library's run.sweep({ rep, splits }) refuses what the command line's --rep and --splits
 * refuse, in one line, before anything runs: it returned no rows, with no word, for a split index
 * the model does not have, a layer name, or rep 0, and ran one repetition for rep 1.5.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRunConfig } from '../../src/config/run-config.js';
import { UsageError } from '../../src/errors.js';
import { startRun } from '../../src/profile/start-run.js';
import { createSession } from '../../src/runtime/ort.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();

describe('run.sweep options', () => {
  it('refuses a rep that is no integer >= 1 and split indexes the model does not have, naming them; valid ones run', async () => {
    const file = writeZooModel('lenet5', await temp('sweep-options'));
    const analysis = await analyzeFile(file, { createSession });
    const run = await startRun(analysis, buildRunConfig({ warmup: 0 }), { feeds: randomInputs(analysis) });
    try {
      const refused = async (opts: Parameters<typeof run.sweep>[0], pattern: RegExp) => {
        await assert.rejects(run.sweep(opts), (err: Error) => err instanceof UsageError && pattern.test(err.message) && !err.message.includes('\n'));
      };
      await refused({ rep: 0, splits: [1] }, /^rep must be an integer >= 1, got 0$/);
      await refused({ rep: 1.5, splits: [1] }, /^rep must be an integer >= 1, got 1\.5$/);
      await refused({ rep: 1, splits: [99] }, /^splits: 99 is no split point of .*lenet5\.onnx, which has split points 0\.\.12$/);
      await refused({ rep: 1, splits: ['relu_0_out' as unknown as number] }, /^splits: 'relu_0_out' is no split point index of .*lenet5\.onnx, which has split points 0\.\.12 \(analysis\.splitPoints gives each index with its splitLayer\)$/);
      const rows = await run.sweep({ rep: 1, splits: [1, 12] });
      assert.deepEqual(rows.map((r) => [r.split_index, r.status]), [[1, 'ok'], [12, 'ok']]);
    } finally {
      await run.close();
    }
  });
});
