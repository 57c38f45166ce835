/**
 * A corpus worker: checks the items the fault suite sends it (IPC messages `{ i }`), one at a
 * time, and answers each with its result. It runs apart so that an item that hangs or kills the
 * process (a crash in native code) is seen as such and costs only that item.
 */
import { checkModel } from './model-corpus.js';
import { checkPayload } from './payload-corpus.js';
import { inProcess, spawned } from './exec.js';

const [kind, seedText, work, how, deadline] = process.argv.slice(2);
const seed = Number(seedText);
// A spawned command is killed a little before the suite would give up on the whole item.
const exec = how === 'spawn' ? spawned(Number(deadline) / 4) : inProcess;
const check = (s: number, i: number, w: string) => (kind === 'models' ? checkModel(s, i, w, exec) : checkPayload(s, i, w, exec));

process.on('message', (m: { i: number }) => {
  check(seed, m.i, work!).then(
    (result) => process.send!({ i: m.i, result }),
    (err: unknown) => process.send!({ i: m.i, error: (err as Error)?.stack ?? String(err) }),
  );
});
process.send!({ ready: true });
