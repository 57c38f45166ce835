/**
 * Reading a file a user named, with a one-line error that names it.
 */
import { readFile } from 'node:fs/promises';
import { FileError } from './errors.js';

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
