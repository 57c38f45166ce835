/**
 * Ctrl-C (SIGINT) at any moment of run_all's start (the worker spawning and getting ready, the
 * parts going into the store, the sessions loading) stops everything that was started: exit 130,
 * one line, and no worker left behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeZooModel } from '../helpers.js';
import { endsWithin } from '../processes.js';
import { startRunAll } from './run-all-child.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-interrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an interrupt while run_all starts', () => {
  const model = writeZooModel('lenet5', dir);

  for (const toGroup of [false, true]) {
    it(`stops the worker it started, whenever it comes during the start (exit 130, one line)${toGroup ? ', sent to the process group as a terminal sends it' : ''}`, async () => {
      // From the moment the worker process appears: spawning, getting ready, parts uploaded, sessions loading, the first rows.
      // The worker gets the group's signal too, while it loads and later: it is not a crashed worker.
      for (const delay of toGroup ? [0, 100, 300, 600, 1000, 1500, 3000] : [0, 200, 600, 1500]) {
        const csv = join(dir, `start-${toGroup ? 'group-' : ''}${delay}.csv`);
        // Enough repetitions that the sweep cannot be over before the last signal, even on an idle machine.
        const run = startRunAll(['--onnx_file', model, '--rep', '200', '--warmup', '0', '--results_file', csv], toGroup);
        for (let i = 0; i < 12_000 && run.workers.size === 0; i++) await sleep(10);
        assert.ok(run.workers.size > 0, 'the worker started');
        await sleep(delay);
        if (toGroup) process.kill(-run.child.pid!, 'SIGINT');
        else run.child.kill('SIGINT');
        const { code, signal } = await run.done();
        for (const pid of run.workers) {
          const ended = await endsWithin(pid, 1000);
          if (!ended) process.kill(pid, 'SIGKILL');
          assert.ok(ended, `after SIGINT at +${delay} ms the worker ${pid} is left running`);
        }
        assert.equal(signal, null, `after SIGINT at +${delay} ms the command ended by itself, not by the signal`);
        assert.equal(code, 130, `exit code after SIGINT at +${delay} ms: ${run.said.err}`);
        if (/rows before the sweep stopped/.test(run.said.out)) {
          assert.match(run.said.out, /^interrupted: continue with the same command and --resume$/m);
        } else {
          assert.equal(run.said.out, '', `nothing on stdout at +${delay} ms`);
          assert.equal(run.said.err, 'onnx-manager: interrupted before the first row; nothing measured\n', `at +${delay} ms`);
          assert.ok(!existsSync(csv), `no results file after SIGINT at +${delay} ms${existsSync(csv) ? `: ${readFileSync(csv, 'utf8')}` : ''}`);
        }
      }
    });
  }
});
