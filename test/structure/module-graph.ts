/**
 * The import graph of compiled ES modules, read with a small tokenizer (comments, strings,
 * template literals and regular expressions are skipped, so only real import and export
 * declarations count), and the cycles in it.
 */
import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import * as path from 'node:path';

export interface ModuleImport {
  specifier: string;
  /** import('...'): loaded when called, not when the importing module is evaluated. */
  dynamic: boolean;
}

type Token = { kind: 'id' | 'str' | 'punct' | 'other'; value: string };

const REGEX_AFTER = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** The tokens of a JavaScript module that matter for imports: identifiers, string literals, punctuation. */
function* tokens(src: string): Generator<Token> {
  let i = 0;
  let prev: Token | undefined;
  let braces = 0;
  // Brace depth at which each open template literal's `${` was entered.
  const templates: number[] = [];
  const emit = (t: Token): Token => (prev = t);
  const skipTemplate = (): void => {
    // i is just after the backtick or the `}` closing a substitution.
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') return void i++;
      else if (c === '$' && src[i + 1] === '{') {
        i += 2;
        templates.push(braces++);
        return;
      } else i++;
    }
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '/' && src[i + 1] === '/') i = src.indexOf('\n', i) < 0 ? src.length : src.indexOf('\n', i);
    else if (c === '/' && src[i + 1] === '*') i = src.indexOf('*/', i + 2) < 0 ? src.length : src.indexOf('*/', i + 2) + 2;
    else if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < src.length && src[j] !== c) value += src[j] === '\\' ? src[++j] : src[j], j++;
      i = j + 1;
      yield emit({ kind: 'str', value });
    } else if (c === '`') {
      i++;
      skipTemplate();
      yield emit({ kind: 'other', value: '`' });
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[\w$]+/.exec(src.slice(i, i + 256))!;
      i += m[0].length;
      yield emit({ kind: 'id', value: m[0] });
    } else if (/[0-9]/.test(c)) {
      i += /^[\w.]+/.exec(src.slice(i, i + 256))![0].length;
      yield emit({ kind: 'other', value: 'number' });
    } else if (c === '/' && (!prev || (prev.kind === 'punct' && !')]}'.includes(prev.value)) || (prev.kind === 'id' && REGEX_AFTER.has(prev.value)))) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      i = j + 1;
      while (i < src.length && /[a-z]/.test(src[i]!)) i++;
      yield emit({ kind: 'other', value: 'regex' });
    } else {
      i++;
      if (c === '{') braces++;
      else if (c === '}') {
        braces--;
        if (templates.at(-1) === braces) {
          templates.pop();
          skipTemplate();
          yield emit({ kind: 'other', value: '`' });
          continue;
        }
      }
      yield emit({ kind: 'punct', value: c });
    }
  }
}

/** What a compiled ES module imports: import and export-from declarations, and import() of a literal. */
export function moduleImports(source: string): ModuleImport[] {
  const found: ModuleImport[] = [];
  const all = [...tokens(source)];
  for (let k = 0; k < all.length; k++) {
    const t = all[k]!;
    if (t.kind !== 'id' || (t.value !== 'import' && t.value !== 'export')) continue;
    if (all[k - 1]?.value === '.') continue; // a property named import/export
    const next = all[k + 1];
    if (t.value === 'import' && next?.value === '(') {
      if (all[k + 2]?.kind === 'str' && all[k + 3]?.value === ')') found.push({ specifier: all[k + 2]!.value, dynamic: true });
      continue;
    }
    if (t.value === 'import' && next?.value === '.') continue; // import.meta
    let j = k + 1;
    if (t.value === 'export') {
      // Only `export * [as x] from '...'` and `export { ... } from '...'` import anything.
      if (next?.value === '{') while (j < all.length && all[j]!.value !== '}') j++;
      else if (next?.value !== '*') continue;
      while (j < all.length && !(all[j]!.kind === 'id' && all[j]!.value === 'from') && all[j]!.value !== ';') j++;
      if (all[j]?.value === 'from' && all[j + 1]?.kind === 'str') found.push({ specifier: all[j + 1]!.value, dynamic: false });
      continue;
    }
    // A static import: its first string literal is the specifier.
    while (j < all.length && all[j]!.kind !== 'str' && all[j]!.value !== ';') j++;
    if (all[j]?.kind === 'str') found.push({ specifier: all[j]!.value, dynamic: false });
  }
  return found;
}

/**
 * Every module under `root` (compiled .js, or .ts sources with their `.js` specifiers read as
 * `.ts`), each with the modules under `root` it imports by relative specifier. Dynamic imports
 * count only with `dynamic`.
 */
export function moduleGraph(root: string, opts: { extension?: '.js' | '.ts'; dynamic?: boolean } = {}): Map<string, string[]> {
  const ext = opts.extension ?? '.js';
  const files = (readdirSync(root, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile() && e.name.endsWith(ext) && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = moduleImports(readFileSync(file, 'utf8'))
      .filter((d) => d.specifier.startsWith('.') && (opts.dynamic || !d.dynamic))
      .map((d) => path.resolve(path.dirname(file), ext === '.ts' ? d.specifier.replace(/\.js$/, '.ts') : d.specifier))
      .filter((d) => known.has(d));
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

/**
 * The cycles of a graph: one per strongly connected component of more than one module (or a
 * module importing itself), as a path from its first module in sort order back to it.
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) cycles.push(cyclePath(graph, new Set(component), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One path from `start` back to itself inside a strongly connected component (breadth-first, so the shortest). */
function cyclePath(graph: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>, start: string): string[] {
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const ring = [start];
        for (let u = v; u !== start; u = from.get(u)!) ring.splice(1, 0, u);
        // Told from its first module in sort order, so the same cycle always reads the same.
        const first = ring.indexOf([...ring].sort()[0]!);
        const rotated = [...ring.slice(first), ...ring.slice(0, first)];
        return [...rotated, rotated[0]!];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
