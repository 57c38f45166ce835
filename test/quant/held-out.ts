/**
 * Rendered text split into calibration and evaluation images that share no image: the
 * calibration set a quantised model's weights are rounded on is never the set its error is
 * measured on.
 */
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { renderPages, renderTextLines } from '../models/text-images.js';

export interface HeldOut {
  evaluation: string;
  calibration: string;
}

function split(dir: string, isEvaluation: (file: string) => boolean): HeldOut {
  const out = { evaluation: join(dir, 'evaluation'), calibration: join(dir, 'calibration') };
  mkdirSync(out.evaluation);
  mkdirSync(out.calibration);
  for (const f of readdirSync(join(dir, 'all'))) renameSync(join(dir, 'all', f), join(isEvaluation(f) ? out.evaluation : out.calibration, f));
  return out;
}

/** Text lines (upright and upside down) of the first `evaluationWords` words to evaluate on, of the next `calibrationWords` to calibrate on. */
export async function heldOutLines(dir: string, evaluationWords: number, calibrationWords: number): Promise<HeldOut> {
  mkdirSync(join(dir, 'all'));
  await renderTextLines(join(dir, 'all'), evaluationWords + calibrationWords);
  return split(dir, (f) => Number.parseInt(f, 10) < 2 * evaluationWords);
}

/** The first `evaluationPages` pages to evaluate on, the next `calibrationPages` to calibrate on. */
export async function heldOutPages(dir: string, evaluationPages: number, calibrationPages: number): Promise<HeldOut> {
  mkdirSync(join(dir, 'all'));
  await renderPages(join(dir, 'all'), evaluationPages + calibrationPages);
  return split(dir, (f) => Number.parseInt(f, 10) < evaluationPages);
}
