/**
 * What every tool needs of its command line without yargs: the flags written on it, and the
 * standard output and error streams (parse.ts re-exports both).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIO } from './command.js';

/** The flags written on the command line (`--name`, `--name=v`, `--no-name`), without defaults. */
export function givenFlags(argv: readonly string[]): Set<string> {
  const given = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(a);
    if (m) given.add(m[1]!);
  }
  return given;
}

/**
 * Boolean flags written the Python tool's way, `--flag=True`, `--flag False` (any case), read as
 * `--flag` / `--no-flag`: yargs would read `=True` as false and `False` as a stray argument.
 * `booleans`: the flags of the operation that are booleans.
 */
export function pythonBooleans(argv: readonly string[], booleans: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const word = (v: string | undefined) => (v === undefined ? undefined : /^true$/i.test(v) ? true : /^false$/i.test(v) ? false : undefined);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+?)(?:=(.*))?$/.exec(a);
    const name = m?.[1];
    const value = m?.[2] !== undefined ? word(m[2]) : word(argv[i + 1]);
    if (name === undefined || !booleans.has(name) || value === undefined) {
      out.push(a);
      continue;
    }
    if (m?.[2] === undefined) i++;
    out.push(value ? `--${name}` : `--no-${name}`);
  }
  return out;
}

/**
 * The Python tool's `run --onnx_path DIR` without --onnx_file runs the model in DIR: with exactly one
 * .onnx file there, `--onnx_path DIR` becomes `--onnx_file DIR/that.onnx` (and `note` names it);
 * none or several are an error listing them. Beside --onnx_file, --onnx_path is left for the parser to refuse.
 */
export function modelFromFolder(argv: readonly string[]): { argv: string[]; note?: string } | { error: string } {
  const at = argv.findIndex((a) => a === '--onnx_path' || a.startsWith('--onnx_path='));
  if (at < 0 || givenFlags(argv).has('onnx_file')) return { argv: [...argv] };
  const joined = argv[at]!.startsWith('--onnx_path=');
  const dir = joined ? argv[at]!.slice('--onnx_path='.length) : argv[at + 1];
  if (dir === undefined || dir === '' || dir.startsWith('--')) return { argv: [...argv] }; // the parser says it needs a value
  let models: string[];
  try {
    if (!statSync(dir).isDirectory()) return { error: `--onnx_path ${dir} is a file, not a folder; give a model with --onnx_file` };
    models = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.onnx') && statSync(join(dir, f)).isFile()).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? `--onnx_path ${dir}: no such folder` : `--onnx_path ${dir}: cannot read the folder (${code ?? (err as Error).message})` };
  }
  if (models.length === 0) return { error: `--onnx_path ${dir} holds no .onnx file; give the model with --onnx_file` };
  if (models.length > 1) return { error: `--onnx_path ${dir} holds ${models.length} .onnx files (${models.join(', ')}); name the one to run with --onnx_file` };
  const file = join(dir, models[0]!);
  const rest = [...argv];
  rest.splice(at, joined ? 1 : 2, '--onnx_file', file);
  return { argv: rest, note: `running ${file}, the one .onnx file in --onnx_path ${dir}` };
}

export function defaultIO(): CliIO {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
    isTTY: process.stderr.isTTY === true,
  };
}
