/**
 * Reading a file a user named, and checking one the tool is to write, with a one-line error that names it.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FileError, UsageError } from './errors.js';

export function fileError(file: string, err: unknown): FileError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  return new FileError(`${file}: ${why}`, { cause: err, file });
}

export async function readUserFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw fileError(file, err);
  }
}

function kindOf(p: string): 'file' | 'directory' | undefined {
  try {
    return statSync(p).isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
}

/**
 * Refuses, before anything is started, a file to write that names a directory or lies under a
 * file (`flag` names the option it came from). Missing folders are fine: they are made.
 */
export function checkOutputFile(file: string, flag: string): void {
  if (kindOf(file) === 'directory') throw new UsageError(`--${flag} ${file} is a directory; name a file`);
  for (let d = dirname(resolve(file)); ; d = dirname(d)) {
    const kind = kindOf(d);
    if (kind === 'file') throw new UsageError(`--${flag} ${file}: ${d} is a file, not a folder`);
    if (kind === 'directory' || dirname(d) === d) return;
  }
}
