// The project's build (`npm run build`, and `npm ci` / `npm install` through prepare): tsc, then
// the cloud entries' bundle.
// `npx onnx-manager` in a clone also runs this: npm links the project into its npx cache
// (~/.npm/_npx) to find the command, and runs prepare on the project's own folder, which
// rebuilt everything again (about a minute) although npm ci had just built it. So under
// `npm exec` / npx, a project already built is left as it is; `npm run build` rebuilds it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = ['dist/src/cli/bin.js', 'dist/cloud/onnx-cloud.js', 'dist/edge/onnx-edge.js'].every((f) => existsSync(`${root}/${f}`));
if (process.env.npm_command === 'exec' && built) process.exit(0);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
for (const args of [[tsc, '-p', 'tsconfig.json'], ['scripts/bundle-cloud.mjs']]) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
