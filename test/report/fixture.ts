/**
 * Real results for the report tests, made by the tools themselves: run_all of a zoo model on a
 * few split points, two repetitions each, in a folder of its own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';

/** Split points measured: cloud only, two cuts and edge only (lenet5 has 13). */
export const SPLITS = ['0', '3', '7', '12'];

export async function runAll(dir: string, name: string, model: string, extra: string[] = []): Promise<string> {
  const file = join(dir, `${name}.csv`);
  const r = await cli(['run_all', '--onnx_file', model, '--splits', ...SPLITS, '--rep', '2', '--warmup', '1', '--threads', '1', '--results_file', file, ...extra]);
  assert.equal(r.code, 0, r.err);
  return file;
}

export function lenet5(dir: string): string {
  return writeZooModel('lenet5', dir);
}

export function csvRows(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

/** The median as a statistics textbook defines it, apart from the project's own. */
export function textbookMedian(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
