/**
 * One run_all at a time per results file: `<file>.lock`, made exclusively and naming the host and
 * process that hold it, for as long as the sweep reads and appends to the file. Two sweeps on one
 * file would each append every row (and one could cut the other's row in progress as torn). A
 * lock left by a process that is gone (killed with SIGKILL) is taken over.
 */
import { open, readFile, rm, rmdir } from 'node:fs/promises';
import * as path from 'node:path';
import { UsageError, WriteError } from '../errors.js';
import { makeFolders, readFailure } from '../files.js';
import { ownerGone, ownerOf, ownerText } from '../owner.js';

export const lockPath = (file: string): string => `${file}.lock`;

/**
 * Takes the lock of `file` (refused, naming the holder, while another run holds it); resolves to
 * its release. The folders made for it are removed with the lock when nothing was written in them
 * (a sweep interrupted before its first row).
 */
export async function lockResults(file: string): Promise<() => Promise<void>> {
  const lock = lockPath(file);
  const cannot = (err: unknown): never => {
    throw new WriteError(`${file}: cannot make its lock ${lock} (${readFailure(err)})`, { cause: err, file });
  };
  const folder = path.dirname(path.resolve(file));
  const made = await makeFolders(folder).catch(cannot);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(ownerText());
      await handle.close();
      return async () => {
        await rm(lock, { force: true });
        if (made) await removeEmptyFolders(folder, made);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') cannot(err);
    }
    const text = await readFile(lock, 'utf8').catch(() => '');
    // The holder is gone (killed): take it over, once. An empty lock is one being made.
    if (attempt === 0 && ownerGone(text)) {
      await rm(lock, { force: true });
      continue;
    }
    const owner = ownerOf(text);
    const who = owner ? `process ${owner.pid} on ${owner.host}` : 'another process';
    throw new UsageError(`${file} is being written by another run_all (${who}, ${lock}); wait for it to end or choose another --results_file (remove ${lock} only if that run is gone)`);
  }
}

/** Removes `folder` and its parents up to `top`, each only while it is empty. */
async function removeEmptyFolders(folder: string, top: string): Promise<void> {
  for (let d = folder; d.startsWith(top); d = path.dirname(d)) {
    if (!(await rmdir(d).then(() => true, () => false))) return;
    if (d === top) return;
  }
}
