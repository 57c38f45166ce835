/**
 * No file of the project carries a merge's conflict markers: a README or a source with
 * `<<<<<<<` / `=======` / `>>>>>>>` lines reads twice over (or does not compile) for every user.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../models/zoo.js';

const root = projectRoot();
/** Folders that are not the project's own text: installed packages, compiled output, results of runs. */
const SKIP = new Set(['node_modules', 'dist', '.git', 'results', 'splits', 'coverage']);
const TEXT = /\.(ts|mjs|js|json|md|yaml|yml|py|sh|ipynb|html|css|txt|toml)$|^(Dockerfile[^/]*|run|\.npmrc|\.gitignore)$/;

function textFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return SKIP.has(e.name) ? [] : textFiles(p);
    return e.isFile() && TEXT.test(e.name) ? [p] : [];
  });
}

/** The lines of `text` that are conflict markers, as `line: text`. */
export function conflictMarkers(text: string): string[] {
  return text.split('\n').flatMap((l, i) => (/^(<{7}( |$)|={7}$|>{7}( |$))/.test(l) ? [`${i + 1}: ${l}`] : []));
}

describe('conflict markers', () => {
  it('finds the three kinds of marker line and nothing else', () => {
    const text = ['a', '<<<<<<< HEAD', 'b', '=======', 'c', '>>>>>>> branch', '======== not one', '| === |'].join('\n');
    assert.deepEqual(conflictMarkers(text), ['2: <<<<<<< HEAD', '4: =======', '6: >>>>>>> branch']);
  });

  it('no text file of the project has any', () => {
    const files = textFiles(root);
    assert.ok(files.some((f) => f.endsWith('README.md')), 'the walk finds README.md');
    const found = files.flatMap((f) => conflictMarkers(readFileSync(f, 'utf8')).map((m) => `${path.relative(root, f)}:${m}`));
    assert.deepEqual(found, []);
  });
});
