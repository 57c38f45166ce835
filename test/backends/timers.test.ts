/**
 * The backends' waits keep the process alive while they wait: a request to a worker that died
 * (its pipe and process gone, nothing else open) waited on a timer that did not, so Node found
 * nothing left to run and ended the sweep with exit code 13 ("unsettled top-level await") and no
 * word of what happened.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { projectRoot } from '../models/zoo.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();
const timers = pathToFileURL(join(projectRoot(), 'dist', 'src', 'backends', 'timers.js')).href;

for (const [name, wait, said] of [
  ['within', `await t.within(new Promise(() => {}), 300)`, 'undefined'],
  ['withTimeout', `await t.withTimeout(new Promise(() => {}), 300, () => new Error('no answer')).catch((e) => e.message)`, 'no answer'],
  ['sleep', `await t.sleep(300)`, 'undefined'],
] as const) {
  test(`${name}: a wait on what never comes, with nothing else open, ends at its deadline, not with exit 13`, async () => {
    const dir = await temp('timers');
    const file = join(dir, `${name}.mjs`);
    writeFileSync(file, `import * as t from '${timers}';\nconsole.log(String(${wait}));\n`);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), said);
  });
}
