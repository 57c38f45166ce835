/**
 * Ctrl-C (SIGINT) at any moment of run_all's start (the worker spawning and getting ready, the
 * parts going into the store, the sessions loading) stops everything that was started: exit 130,
 * one line, and no worker left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeZooModel } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';
import { endsWithin, workersOf } from '../processes.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-interrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** run_all as a user starts it, with the workers it starts recorded as they appear. */
function startRunAll(args: string[], ownGroup = false) {
  const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
  // In its own process group, as a terminal starts a command: its Ctrl-C reaches the whole group.
  const child = spawn(process.execPath, [bin, '--operation', 'run_all', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: ownGroup });
  const said = { out: '', err: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (said.out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (said.err += d));
  const workers = new Set<number>();
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    }),
  );
  const watched = (async () => {
    while (running) {
      for (const pid of workersOf(child.pid!)) workers.add(pid);
      await sleep(10);
    }
  })();
  return { child, said, workers, done: async () => (await Promise.all([exited, watched]))[0] };
}

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
          assert.ok(!existsSync(csv) || readFileSync(csv, 'utf8').split('\n').filter(Boolean).length <= 1, 'no rows written');
        }
      }
    });
  }
});
