/**
 * plot_results: the charts of a results file written beside it, one line per file.
 */
import * as path from 'node:path';
import { plotResults } from '../../report/plot.js';

/** A written file named as the user named its folder (relative stays relative). */
export function besideName(input: string, written: string): string {
  return path.join(path.dirname(input), path.basename(written));
}

export async function plotResultsOp(args: { results_file: string; predicted?: string }, out: (s: string) => void): Promise<void> {
  const written = await plotResults(args.results_file, args.predicted ? { predicted: args.predicted } : {});
  for (const w of written) out(`${besideName(args.results_file, w.png)} (${w.width} x ${w.height} px), ${besideName(args.results_file, w.svg)}: ${w.caption}`);
}
