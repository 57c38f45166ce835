/**
 * Running early-exit parts: the parts a manifest.json (early-exit-manifest.ts) lists, in its
 * order, on the model inputs; returns every exit asked for. Only the parts those exits need are
 * loaded, one session at a time, each released once it has run.
 */
import * as path from 'node:path';
import { FileError, UsageError } from '../errors.js';
import { readUserFile } from '../files.js';
import { runChain } from '../runtime/chain.js';
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import { EARLY_EXIT_MANIFEST_VERSION, type EarlyExitManifest } from './early-exit-manifest.js';

export interface RunEarlyExitsOptions {
  /** Creates the part sessions (e.g. createSession of runtime/ort.js); given a part file's path. */
  createSession: (model: string, options: SessionOptions) => Promise<Session>;
  /** Session options for every part (default none: the runtime's defaults). */
  sessionOptions?: SessionOptions;
  /** The exits to compute (default every exit): only the parts they need run. */
  exits?: readonly string[];
}

export interface EarlyExitRun {
  /** Each exit asked for, by name, in the manifest's order. */
  exits: Map<string, HostTensor>;
  /** The part files run, in order. */
  parts: string[];
  /** Inference time of each part run, in milliseconds. */
  partMs: number[];
}

/** Reads and checks an early-exit manifest.json: version, sections, and part files inside its folder. */
export async function readEarlyExitManifest(file: string): Promise<EarlyExitManifest> {
  let m: EarlyExitManifest;
  try {
    m = JSON.parse((await readUserFile(file)).toString('utf8')) as EarlyExitManifest;
  } catch (err) {
    if (err instanceof FileError) throw err;
    throw new FileError(`${file}: not JSON (${(err as Error).message})`, { cause: err, file });
  }
  const ee = m?.early_exit;
  if (m?.manifest_version !== EARLY_EXIT_MANIFEST_VERSION || !ee || !Array.isArray(ee.exits) || !Array.isArray(ee.parts)) {
    throw new FileError(`${file}: not an early-exit manifest (manifest_version ${EARLY_EXIT_MANIFEST_VERSION} with an early_exit section, as early_exit_split_model writes)`, { file });
  }
  const files = new Set<string>();
  for (const p of ee.parts) {
    const f = typeof p?.file === 'string' ? p.file : '';
    if (!f || path.isAbsolute(f) || f.split(/[\\/]/).includes('..')) throw new FileError(`${file}: part file '${f}' is not a path inside the manifest's folder`, { file });
    files.add(f);
  }
  for (const e of ee.exits) {
    const unknown = (e?.parts ?? []).find((f) => !files.has(f));
    if (!Array.isArray(e?.parts) || e.parts.length === 0 || unknown !== undefined) {
      throw new FileError(`${file}: exit '${e?.name}' names ${unknown === undefined ? 'no parts' : `part '${unknown}', which the manifest does not list`}`, { file });
    }
  }
  return m;
}

/** Runs the parts of the early-exit manifest `manifestFile` on `inputs` (see the module comment). */
export async function runEarlyExits(
  manifestFile: string,
  inputs: Readonly<Record<string, HostTensor>>,
  options: RunEarlyExitsOptions,
): Promise<EarlyExitRun> {
  const m = await readEarlyExitManifest(manifestFile);
  const { exits, parts } = m.early_exit;
  const known = exits.map((e) => e.name);
  const wanted = options.exits ?? known;
  for (const name of wanted) {
    if (!known.includes(name)) throw new UsageError(`${manifestFile} has no exit '${name}' (its exits: ${known.join(', ')})`);
  }
  const needed = new Set(exits.filter((e) => wanted.includes(e.name)).flatMap((e) => e.parts));
  const files = parts.map((p) => p.file).filter((f) => needed.has(f));
  const dir = path.dirname(manifestFile);
  const sessionOptions = options.sessionOptions ?? {};
  async function* sessions(): AsyncGenerator<Session> {
    for (const f of files) {
      const s = await options.createSession(path.join(dir, f), sessionOptions);
      try {
        yield s;
      } finally {
        await s.release();
      }
    }
  }
  const run = await runChain(sessions(), inputs, {
    missing: (t, part) => new UsageError(`${files[part - 1]} of ${manifestFile} needs '${t}', which neither the inputs nor an earlier part provide`),
  });
  const out = new Map<string, HostTensor>();
  for (const name of known) if (wanted.includes(name)) out.set(name, run.tensors.get(name)!);
  return { exits: out, parts: files, partMs: run.partMs };
}
