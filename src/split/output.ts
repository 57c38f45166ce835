/**
 * Writing outputs with nothing half-written: every file goes to a temporary name next to its
 * final one and is renamed only when all of them are complete; on failure the temporaries and
 * any folders created for them are removed.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { open, rename, rm, rmdir } from 'node:fs/promises';
import { makeFolders } from '../files.js';
import * as path from 'node:path';
import { WriteError } from '../errors.js';
import { folderProblem, readFailure } from '../files.js';
import type { AssembledPart } from './assemble.js';
import { writeSegments } from './external-data.js';
import { Chunks } from '../proto/writer.js';

/**
 * Transactions neither committed nor rolled back. Should the process exit first (Ctrl-C of an
 * operation that takes no abort signal ends it with process.exit), its 'exit' listener removes
 * what they half-wrote, as a rollback would.
 */
const unfinished = new Set<OutputTransaction>();
let exitListener = false;

function track(tx: OutputTransaction): void {
  unfinished.add(tx);
  if (exitListener) return;
  exitListener = true;
  process.on('exit', () => {
    for (const t of unfinished) t.rollbackSync();
  });
}

export class OutputTransaction {
  private readonly pending: { tmp: string; final: string }[] = [];
  private readonly createdDirs: string[] = [];
  /** Folders known to exist, so that each is made (or checked) once per transaction, not once per file. */
  private readonly knownDirs = new Set<string>();
  /** Final names a commit in progress has already renamed into place. */
  private readonly moved: string[] = [];
  /** Files of an earlier output this one replaces, removed once it is in place (removeOnCommit). */
  private readonly replaced: string[] = [];
  private readonly tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  /** Bytes written so far. */
  bytesWritten = 0;

  constructor(readonly root: string) {
    track(this);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    try {
      const first = await makeFolders(dir);
      if (first) this.createdDirs.push(first);
      this.knownDirs.add(dir);
    } catch (err) {
      throw new WriteError(`${dir}: cannot create folder (${folderProblem(dir)?.what ?? readFailure(err)})`, { cause: err, file: dir });
    }
  }

  /** Writes one file (chunks, bytes or text) under a temporary name. */
  async write(relPath: string, data: Chunks | Uint8Array | string): Promise<string> {
    const final = path.resolve(this.root, relPath);
    await this.ensureDir(path.dirname(final));
    const tmp = `${final}.tmp-${this.tag}`;
    this.pending.push({ tmp, final });
    const chunks = data instanceof Chunks ? data.parts : [typeof data === 'string' ? Buffer.from(data, 'utf8') : data];
    const handle = await open(tmp, 'w').catch((err) => {
      throw new WriteError(`${final}: cannot write (${readFailure(err)})`, { cause: err, file: final });
    });
    try {
      await handle.writev(chunks);
    } catch (err) {
      throw new WriteError(`${final}: write failed (${readFailure(err)})`, { cause: err, file: final });
    } finally {
      await handle.close();
    }
    for (const c of chunks) this.bytesWritten += c.length;
    return final;
  }

  /** Where `final`, written in this transaction, is until the commit (its temporary name beside it): to read it back meanwhile. */
  temporaryOf(final: string): string {
    const p = this.pending.find((f) => f.final === path.resolve(this.root, final));
    if (!p) throw new Error(`${final} is not written in this transaction`);
    return p.tmp;
  }

  /** Writes a part: the model file and, when it has one, its external data file beside it. */
  async writePart(relPath: string, part: AssembledPart): Promise<void> {
    await this.write(relPath, part.model);
    if (part.external) {
      const final = path.resolve(this.root, path.dirname(relPath), part.external.location);
      const tmp = `${final}.tmp-${this.tag}`;
      this.pending.push({ tmp, final });
      const handle = await open(tmp, 'w');
      try {
        await writeSegments(part.external, handle);
      } finally {
        await handle.close();
      }
      this.bytesWritten += part.external.byteLength;
    }
  }

  /**
   * Removes `relPath` (under the root) once the commit has moved every new file into place, and
   * its folder when that is left empty: a file of an earlier output that the new one replaces
   * and does not write again. A rollback leaves it as it was.
   */
  removeOnCommit(relPath: string): void {
    this.replaced.push(path.resolve(this.root, relPath));
  }

  /** Moves every file to its final name, then removes the files it replaces. */
  async commit(): Promise<void> {
    for (const p of this.pending) {
      try {
        await rename(p.tmp, p.final);
      } catch (err) {
        throw new WriteError(`${p.final}: cannot move into place (${readFailure(err)})`, { cause: err, file: p.final });
      }
      this.moved.push(p.final);
    }
    const written = new Set(this.moved);
    for (const f of this.replaced.filter((r) => !written.has(r))) {
      await rm(f, { force: true });
      if (path.dirname(f) !== path.resolve(this.root)) await rmdir(path.dirname(f)).catch(() => undefined); // only when empty
    }
    this.replaced.length = 0;
    this.pending.length = 0;
    this.moved.length = 0;
    this.createdDirs.length = 0;
    unfinished.delete(this);
  }

  /** Removes the temporaries, the files a failed commit already moved into place, and the folders this transaction created. */
  async rollback(): Promise<void> {
    this.rollbackSync();
  }

  /** The rollback, synchronously: also for the process's 'exit', where nothing asynchronous runs any more. */
  rollbackSync(): void {
    for (const f of [...this.pending.map((p) => p.tmp), ...this.moved]) rmSync(f, { force: true });
    // Folders this transaction created hold only its own temporaries.
    for (const d of [...this.createdDirs].reverse()) rmSync(d, { recursive: true, force: true });
    this.pending.length = 0;
    this.moved.length = 0;
    this.createdDirs.length = 0;
    this.knownDirs.clear();
    unfinished.delete(this);
  }

  /** Runs `fn`, committing when it succeeds and rolling back when it throws. */
  static async run<T>(root: string, fn: (tx: OutputTransaction) => Promise<T>): Promise<T> {
    const tx = new OutputTransaction(root);
    try {
      const result = await fn(tx);
      await tx.commit();
      return result;
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  }
}
