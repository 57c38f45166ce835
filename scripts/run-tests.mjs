// Runs every compiled *.test.js under dist/test with node's test runner (helper modules beside
// the tests are not test files).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}
const filter = process.argv.slice(2);
const files = find('dist/test')
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
// --test-force-exit: a test file whose tests have all finished ends even if a failed test left a
// server open, so a failure is reported instead of the run waiting for ever (tests that start
// servers still stop them, and some check that nothing is left running).
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-force-exit', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
