/** Small file-system helpers for the benchmark. */
import { spawnSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';

export interface FileEntry {
  /** Path relative to the walked root, with / separators. */
  rel: string;
  bytes: number;
}

/** Every regular file under `root`, sorted by path. */
export async function listFiles(root: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) out.push({ rel: path.relative(root, full).split(path.sep).join('/'), bytes: (await stat(full)).size });
    }
  };
  await walk(root);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Flushes dirty pages to disk so that one phase's writeback does not slow the next (not timed). */
export function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}
