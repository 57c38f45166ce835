/**
 * Reading a file a user named, and checking one the tool is to write, with a one-line error that names it.
 */
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FileError, UsageError } from './errors.js';

/** Why a file could not be read, in words: 'no such file', 'is a directory', 'not a regular file (...)', or the error's message. */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : code === 'ENOTREG' ? NOT_REGULAR : String((err as Error)?.message ?? err);
}

export function fileError(file: string, err: unknown): FileError {
  return new FileError(`${file}: ${readFailure(err)}`, { cause: err, file });
}

const NOT_REGULAR = 'not a regular file (a device, FIFO or socket)';

/**
 * readFile, refusing a path that is a device, a FIFO or a socket (reading /dev/zero never ends;
 * a FIFO waits for a writer) with an error of code ENOTREG.
 */
export async function readRegularFile(file: string): Promise<Buffer> {
  const s = await stat(file);
  if (!s.isFile() && !s.isDirectory()) throw Object.assign(new Error(`${file}: ${NOT_REGULAR}`), { code: 'ENOTREG' });
  return readFile(file);
}

export async function readUserFile(file: string): Promise<Buffer> {
  try {
    return await readRegularFile(file);
  } catch (err) {
    throw fileError(file, err);
  }
}

function kindOf(p: string): 'file' | 'directory' | 'other' | undefined {
  try {
    const s = statSync(p);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  } catch {
    return undefined;
  }
}

/**
 * Refuses, before anything is started, a file to write that names a directory, a device, a FIFO
 * or a socket (reading one back, as a resumed sweep does, would never end), a symbolic link into
 * a folder that does not exist, or lies under a file (`flag` names the option it came from).
 * Missing folders are fine: they are made.
 */
export function checkOutputFile(file: string, flag: string): void {
  const kind = kindOf(file);
  if (kind === 'directory') throw new UsageError(`--${flag} ${file} is a directory; name a file`);
  if (kind === 'other') throw new UsageError(`--${flag} ${file} is not a regular file (a device, FIFO or socket); name a file`);
  if (kind === undefined && isLink(file)) {
    const target = resolve(dirname(resolve(file)), readlinkSync(file));
    if (kindOf(dirname(target)) !== 'directory') throw new UsageError(`--${flag} ${file} is a symbolic link to ${target}, whose folder ${dirname(target)} does not exist`);
  }
  for (let d = dirname(resolve(file)); ; d = dirname(d)) {
    const kind = kindOf(d);
    if (kind === 'file' || kind === 'other') throw new UsageError(`--${flag} ${file}: ${d} is a file, not a folder`);
    if (kind === 'directory' || dirname(d) === d) return;
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * mkdir -p, one folder at a time from the deepest one that exists: the first folder made (as
 * mkdir's recursive option gives it), or undefined when `dir` exists. Node's own recursive mkdir
 * never returns under /proc (it retries the parent for ever); here such a folder fails at once
 * with the error of its mkdir.
 */
export async function makeFolders(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const found = await stat(d).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (found) {
      if (!found.isDirectory()) throw Object.assign(new Error(`${d} is not a folder`), { code: 'ENOTDIR' });
      break;
    }
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(err)));
  }
  return missing[0];
}
