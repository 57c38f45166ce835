/**
 * The best split point of a setting's rows as every picture and the page name it: the fastest
 * median total_ms among the split points that meet recommend's constraints (its --max_* flags,
 * read from the recommend result beside the results), or the fastest of all when there are
 * none. edge_ms and transfer_bytes are checked on the rows' own medians, the edge memory on
 * recommend's estimate for the split point.
 */
import type { Constraints } from '../predict/recommend.js';
import type { RecommendFile } from './recommendation.js';
import type { SettingGroup, SplitStat } from './results.js';

export interface Choice {
  /** The fastest split point that meets the constraints (none when no split point does). */
  best?: SplitStat;
  /** The fastest split point, constraints or not. */
  fastest: SplitStat;
  /** The constraints in words, e.g. `edge_ms <= 0.2` ('' for none). */
  constraints: string;
  /** Why each split point the constraints exclude is excluded, by split index. */
  excluded: ReadonlyMap<number, string>;
  /** The recommend result the constraints come from (its file name). */
  from?: string;
}

/** `edge_ms <= 0.2, transfer_bytes <= 1000` ('' for no constraint). */
export function constraintWords(k: Constraints): string {
  return [
    k.maxEdgeMs !== undefined ? `edge_ms <= ${k.maxEdgeMs}` : '',
    k.maxTransferBytes !== undefined ? `transfer_bytes <= ${k.maxTransferBytes}` : '',
    k.maxEdgeMemoryMb !== undefined ? `edge memory <= ${k.maxEdgeMemoryMb} MB` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

/**
 * `3 of 16 split points excluded`, or `3 of 16 split point x tensor codec pairs excluded` when
 * the candidates are several codecs of each split point.
 */
export function excludedWords(splits: readonly { feasible: boolean; tensor_codec?: string }[]): string {
  const excluded = splits.filter((s) => !s.feasible).length;
  const codecs = new Set(splits.map((s) => s.tensor_codec ?? 'raw')).size;
  return `${excluded} of ${splits.length} ${codecs > 1 ? 'split point x tensor codec pairs' : 'split points'} excluded`;
}

const fmt = (v: number) => String(Number(v.toFixed(3)));

/** Why `s` breaks the constraints, or undefined when it meets them. */
function violation(s: SplitStat, k: Constraints, memoryMb: ReadonlyMap<number, number>): string | undefined {
  if (k.maxEdgeMs !== undefined && s.edge_ms > k.maxEdgeMs) return `edge_ms ${fmt(s.edge_ms)} > ${k.maxEdgeMs}`;
  if (k.maxTransferBytes !== undefined && s.transfer_bytes > k.maxTransferBytes) return `transfer_bytes ${s.transfer_bytes} > ${k.maxTransferBytes}`;
  if (k.maxEdgeMemoryMb !== undefined) {
    const mb = memoryMb.get(s.split_index);
    if (mb === undefined) return 'edge memory not known (the split point is not in the recommend result)';
    if (mb > k.maxEdgeMemoryMb) return `edge memory ${fmt(mb)} MB > ${k.maxEdgeMemoryMb}`;
  }
  return undefined;
}

/** The choice for a group of rows under the constraints of `r` (none without it). */
export function choiceFor(g: SettingGroup, r?: RecommendFile): Choice {
  const k = r?.constraints ?? {};
  const constraints = constraintWords(k);
  if (!r || !constraints) return { best: g.best, fastest: g.best, constraints: '', excluded: new Map() };
  const memoryMb = new Map<number, number>();
  for (const s of r.splits) if (s.edge_memory_mb !== undefined && !memoryMb.has(s.split_index)) memoryMb.set(s.split_index, s.edge_memory_mb);
  const excluded = new Map<number, string>();
  for (const s of g.splits) {
    const why = violation(s, k, memoryMb);
    if (why !== undefined) excluded.set(s.split_index, why);
  }
  const best = g.splits.filter((s) => !excluded.has(s.split_index)).reduce<SplitStat | undefined>((b, s) => (!b || s.total_ms < b.total_ms ? s : b), undefined);
  return { ...(best ? { best } : {}), fastest: g.best, constraints, excluded, from: fileName(r.file) };
}

/** The last part of a path. */
export const fileName = (file: string): string => file.split(/[\\/]/).at(-1)!;

/** `split 0 (input)`. */
export const splitName = (s: { split_index: number; split_layer: string }): string => `split ${s.split_index} (${s.split_layer})`;

/**
 * The choice in words, e.g. [`best split 0 (input) under edge_ms <= 0.2 (from m.recommend.json):
 * total 47.4 ms`, `fastest without the constraints: split 65 (logits): total 0.52 ms (excluded:
 * edge_ms 0.505 > 0.2)`]; `detail` says what is to be said of a split point.
 */
export function choiceLines(c: Choice, detail: (s: SplitStat) => string = () => ''): string[] {
  const said = (s: SplitStat) => `${splitName(s)}${detail(s) ? `: ${detail(s)}` : ''}`;
  if (!c.constraints) return [`best ${said(c.fastest)}`];
  const under = `${c.constraints} (from ${c.from})`;
  const best = c.best ? `best ${splitName(c.best)} under ${under}${detail(c.best) ? `: ${detail(c.best)}` : ''}` : `no split point meets ${under}`;
  if (c.best === c.fastest) return [best, 'also the fastest without the constraints'];
  return [best, `fastest without the constraints: ${said(c.fastest)} (excluded: ${c.excluded.get(c.fastest.split_index)})`];
}
