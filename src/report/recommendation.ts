/**
 * The `<name>.recommend.json` that `onnx-manager recommend` writes: read back for the crossover
 * chart and the report, checked for the fields they use.
 */
import { existsSync } from 'node:fs';
import { FileError } from '../errors.js';
import { readUserFile } from '../files.js';
import type { Constraints, CrossoverChange, CrossoverRow, RankedSplit } from '../predict/recommend.js';
import type { Link } from '../predict/link.js';

export interface RecommendFile {
  file: string;
  model: string;
  model_sha256?: string;
  source: string;
  link: Link;
  /** The constraints the best split had to meet (recommend's --max_* flags). */
  constraints: Constraints;
  best: RankedSplit;
  splits: RankedSplit[];
  crossover: CrossoverRow[];
  changes: CrossoverChange[];
}

/**
 * Where recommend writes its result for `input`: beside it, `.csv` replaced, so that the
 * recommendation measured from a run_all CSV and the one predicted from its profile are both kept
 * (`results/x.csv` -> `results/x.recommend.json`, `results/x.profile.csv` -> `results/x.profile.recommend.json`).
 */
export function recommendPathOf(input: string): string {
  return input.replace(/\.csv$/i, '') + '.recommend.json';
}

/**
 * The recommend results that go with `csv`, the closest first: for a run_all CSV (`x.csv`) the
 * one measured from it, then the one predicted from its profile (`x.profile.csv`); for a profile or
 * a predict CSV, the profile's first.
 */
export function recommendPathsFor(csv: string): string[] {
  const base = csv.replace(/(\.profile|\.predict)?\.csv$/i, '');
  const measured = recommendPathOf(`${base}.csv`);
  const predicted = recommendPathOf(`${base}.profile.csv`);
  return /\.(profile|predict)\.csv$/i.test(csv) ? [predicted, measured] : [measured, predicted];
}

/** The first of recommendPathsFor(csv) that exists, if any. */
export function recommendBeside(csv: string): string | undefined {
  return recommendPathsFor(csv).find((f) => existsSync(f));
}

export async function readRecommendation(file: string): Promise<RecommendFile> {
  const bad = (what: string): never => {
    throw new FileError(`${file}: not a recommend result (${what}; \`onnx-manager recommend\` writes <name>.recommend.json)`, { file });
  };
  let j: Record<string, unknown>;
  try {
    j = JSON.parse((await readUserFile(file)).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof FileError) throw err;
    return bad('not JSON');
  }
  if (!j || typeof j !== 'object') bad('not an object');
  const crossover = j.crossover as CrossoverRow[] | undefined;
  if (!Array.isArray(crossover) || crossover.length === 0) bad('no crossover table');
  for (const c of crossover!) {
    if (!(typeof c?.bandwidth_mbit === 'number' && c.bandwidth_mbit > 0 && Number.isInteger(c.split_index) && typeof c.total_ms === 'number')) bad('a crossover row without bandwidth_mbit, split_index and total_ms');
  }
  const best = j.best as RankedSplit | undefined;
  if (!best || !Number.isInteger(best.split_index)) bad('no best split');
  const link = (j.link ?? { rttMs: 0 }) as Link;
  return {
    file,
    model: String(j.model ?? ''),
    ...(typeof j.model_sha256 === 'string' ? { model_sha256: j.model_sha256 } : {}),
    source: String(j.source ?? ''),
    link,
    constraints: j.constraints && typeof j.constraints === 'object' ? (j.constraints as Constraints) : {},
    best: best!,
    splits: Array.isArray(j.splits) ? (j.splits as RankedSplit[]) : [],
    crossover: crossover!,
    changes: Array.isArray(j.changes) ? (j.changes as CrossoverChange[]) : [],
  };
}
