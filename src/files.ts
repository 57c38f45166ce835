/**
 * Reading a file a user named, and checking one the tool is to write, with a one-line error that names it.
 */
import { accessSync, constants, lstatSync, readlinkSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FileError, UsageError } from './errors.js';

/** Words for the error codes of reading and writing files. */
const FAILURE_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'a read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * Why a file could not be read or written, in words: 'no such file', 'is a directory', 'permission
 * denied', 'not a regular file (...)', ..., or the error's message.
 */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOTREG') return NOT_REGULAR;
  return (code && FAILURE_WORDS[code]) ?? String((err as Error)?.message ?? err);
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

/** The kernel's filesystems (statfs types), which hold no files of a user's: none can be made in them. */
const KERNEL_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0xcafe4a11, 'bpf'],
  [0x6e736673, 'nsfs'],
]);

/**
 * Why no file can be made in the folder `d` (which exists): it is in one of the kernel's
 * filesystems (under /proc, /sys), or this process may not write in it (permissions, a read-only
 * file system); undefined when files can be made there.
 */
function cannotMakeIn(d: string): string | undefined {
  let type: number | undefined;
  try {
    type = Number(statfsSync(d).type);
  } catch {
    type = undefined;
  }
  const kernel = type === undefined ? undefined : KERNEL_FILESYSTEMS.get(type);
  if (kernel) return `${d} is in the kernel's ${kernel} filesystem, where no file can be made`;
  try {
    accessSync(d, constants.W_OK);
  } catch (err) {
    return `cannot write in ${d} (${readFailure(err)})`;
  }
  return undefined;
}

/**
 * The folder `dir` is to be (made and) written in: refused when a part of its path is a file, or
 * the deepest folder of it that exists cannot be written in (cannotMakeIn). `what` names the
 * output as the user gave it ('--results_file x.csv'), `thing` what to name instead.
 */
function checkWritableFolder(dir: string, what: string, thing: 'a file' | 'a folder'): void {
  const why = folderProblem(dir);
  if (why) throw new UsageError(`${what}: ${why.what}${why.elsewhere ? `; name ${thing} elsewhere` : ''}`);
}

/**
 * Why the folder `dir` cannot be (made and) written in, in words: a part of its path is a file, or
 * the deepest folder of it that exists cannot be written in (elsewhere: name another place);
 * undefined when it can, as far as can be told before writing.
 */
export function folderProblem(dir: string): { what: string; elsewhere: boolean } | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const kind = kindOf(d);
    if (kind === 'file' || kind === 'other') return { what: `${d} is a file, not a folder`, elsewhere: false };
    if (kind === 'directory') {
      const why = cannotMakeIn(d);
      return why ? { what: why, elsewhere: true } : undefined;
    }
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Refuses, before anything is started, a file to write that names a directory, a device, a FIFO
 * or a socket (reading one back, as a resumed sweep does, would never end), a symbolic link into
 * a folder that does not exist, or lies under a file or in a folder no file can be made in (under
 * /proc or /sys, read-only; `flag` names the option it came from). Missing folders are fine: they
 * are made.
 */
export function checkOutputFile(file: string, flag: string): void {
  const kind = kindOf(file);
  if (kind === 'directory') throw new UsageError(`--${flag} ${file} is a directory; name a file`);
  if (kind === 'other') throw new UsageError(`--${flag} ${file} is not a regular file (a device, FIFO or socket); name a file`);
  if (kind === undefined && isLink(file)) {
    const target = resolve(dirname(resolve(file)), readlinkSync(file));
    if (kindOf(dirname(target)) !== 'directory') throw new UsageError(`--${flag} ${file} is a symbolic link to ${target}, whose folder ${dirname(target)} does not exist`);
    // The file is made where the link points.
    checkWritableFolder(dirname(target), `--${flag} ${file} (a symbolic link to ${target})`, 'a file');
  }
  checkWritableFolder(dirname(resolve(file)), `--${flag} ${file}`, 'a file');
}

/**
 * Refuses, before anything is started, a folder to write files in (`flag` names the option it came
 * from) that is a file, lies under one, or cannot be written in (under /proc or /sys, read-only).
 * Missing folders are fine: they are made.
 */
export function checkOutputFolder(dir: string, flag: string): void {
  checkWritableFolder(dir, `--${flag} ${dir}`, 'a folder');
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

/** `p` resolved through its symbolic links; a path that does not exist yet, resolved as written. */
export function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Whether two paths name the same file: each resolved through its symbolic links (one that does not exist yet, as written). */
export function samePath(a: string, b: string): boolean {
  return realPath(a) === realPath(b);
}

/**
 * Refuses, before anything is written, an output (`--flag file`) that is one of the files the
 * operation reads: writing it would replace that file (a results CSV, a model) with the output.
 * `inputs` are [what the file is, its path]; an undefined path is skipped.
 */
export function refuseOutputOverInput(file: string, flag: string, operation: string, inputs: readonly (readonly [what: string, input: string | undefined])[]): void {
  for (const [what, input] of inputs) {
    if (input !== undefined && samePath(file, input)) throw new UsageError(`--${flag} ${file} is ${what}, which ${operation} reads; name another file`);
  }
}
