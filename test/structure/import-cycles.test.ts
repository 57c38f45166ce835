/**
 * No module of the project imports itself through others: neither the compiled modules in
 * dist/src (static or dynamic imports) nor the sources (type imports included). And the ONNX
 * layer stands below the split engine: nothing in onnx/ imports split/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { tempDirs } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';
import { importCycles, moduleGraph, moduleImports } from './module-graph.js';

const root = projectRoot();
const tempDir = tempDirs();

function describeCycles(base: string, graph: ReadonlyMap<string, readonly string[]>): string[] {
  return importCycles(graph).map((c) => c.map((f) => path.relative(base, f)).join(' -> '));
}

describe('module imports', () => {
  it('reads import and export declarations, and import() of a literal, and nothing in comments, strings or regular expressions', () => {
    const source = [
      "/* import { no } from './comment.js'; */",
      "// export * from './line-comment.js';",
      "import { a } from './a.js';",
      'import * as b from "./b.js";',
      "import c, {\n  d,\n} from './c.js';",
      "import './side-effect.js';",
      "export { e } from './e.js';",
      "export * as f from './f.js';",
      "export * from './g.js';",
      "export const text = 'import { h } from \"./h.js\"';",
      'export { localName };',
      "const t = `\nimport { i } from './i.js';\n${x ? `export * from './j.js'` : ''}`;",
      "const re = /import '.\\/k.js'/g;",
      "const n = 4 / 2; import('./l.js');",
      "const m = await import('./m.js');",
      'const u = import.meta.url;',
      "obj.import('./n.js');",
      'const lazy = import(name);',
      'export default 1;',
    ].join('\n');
    assert.deepEqual(moduleImports(source), [
      ...['./a.js', './b.js', './c.js', './side-effect.js', './e.js', './f.js', './g.js'].map((specifier) => ({ specifier, dynamic: false })),
      ...['./l.js', './m.js'].map((specifier) => ({ specifier, dynamic: true })),
    ]);
  });

  it('finds a cycle, and a cycle closed by a dynamic import only when dynamic imports count', async () => {
    const dir = await tempDir('cycles');
    const files: Record<string, string> = {
      'a.js': "import { b } from './b.js';\nexport const a = 1;",
      'b.js': "import { c } from './lib/c.js';\nexport const b = 2;",
      'lib/c.js': "export const c = async () => import('../a.js');",
      'd.js': "import './a.js';\nimport { y } from './lib/y.js';",
      'lib/x.js': "export * from './y.js';",
      'lib/y.js': "export { x } from './x.js';",
    };
    await mkdir(path.join(dir, 'lib'));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    assert.deepEqual(describeCycles(dir, moduleGraph(dir)), ['lib/x.js -> lib/y.js -> lib/x.js']);
    assert.deepEqual(describeCycles(dir, moduleGraph(dir, { dynamic: true })), ['a.js -> b.js -> lib/c.js -> a.js', 'lib/x.js -> lib/y.js -> lib/x.js']);
  });
});

describe('the project', () => {
  it('has no import cycle in dist/src, static or dynamic imports', () => {
    const base = path.join(root, 'dist', 'src');
    // Compiled files whose source is gone (left by an earlier build) are not part of the project.
    const graph = new Map([...moduleGraph(base, { dynamic: true })].filter(([file]) => existsSync(path.join(root, 'src', path.relative(base, file)).replace(/\.js$/, '.ts'))));
    assert.ok(graph.size > 50, `dist/src holds the compiled modules (found ${graph.size})`);
    assert.deepEqual(describeCycles(base, graph), []);
  });

  it('has no import cycle in src/, type imports included', () => {
    const base = path.join(root, 'src');
    const graph = moduleGraph(base, { extension: '.ts', dynamic: true });
    assert.deepEqual(describeCycles(base, graph), []);
  });

  it('keeps onnx/ free of split/', () => {
    const base = path.join(root, 'src');
    const graph = moduleGraph(base, { extension: '.ts', dynamic: true });
    const offending = [...graph]
      .filter(([file]) => path.relative(base, file).startsWith(`onnx${path.sep}`))
      .flatMap(([file, deps]) => deps.filter((d) => path.relative(base, d).startsWith(`split${path.sep}`)).map((d) => `${path.relative(base, file)} -> ${path.relative(base, d)}`));
    assert.deepEqual(offending, []);
  });
});
