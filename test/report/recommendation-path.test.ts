/**
 * Where recommend's result goes and where the report and plot_results look for it: a run_all CSV
 * and its profile each keep their own, and a page finds the closest one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recommendPathOf, recommendPathsFor } from '../../src/report/recommendation.js';
import { besideFiles } from '../../src/report/report.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

test('recommend writes beside its input, a sweep and its profile each their own file', () => {
  assert.equal(recommendPathOf('results/m.csv'), 'results/m.recommend.json');
  assert.equal(recommendPathOf('results/m.profile.csv'), 'results/m.profile.recommend.json');
  assert.notEqual(recommendPathOf('m.csv'), recommendPathOf('m.profile.csv'));
});

test('the report of a sweep takes its measured recommendation, else its profile\'s; a profile\'s or predict CSV\'s page its profile\'s first', async () => {
  assert.deepEqual(recommendPathsFor('r/m.csv'), ['r/m.recommend.json', 'r/m.profile.recommend.json']);
  assert.deepEqual(recommendPathsFor('r/m.predict.csv'), ['r/m.profile.recommend.json', 'r/m.recommend.json']);
  const dir = await temp('recommend-paths');
  const csv = join(dir, 'm.csv');
  writeFileSync(csv, 'split_index\n');
  assert.equal(besideFiles(csv).recommend, undefined);
  writeFileSync(join(dir, 'm.profile.recommend.json'), '{}');
  assert.equal(besideFiles(csv).recommend, join(dir, 'm.profile.recommend.json'));
  writeFileSync(join(dir, 'm.recommend.json'), '{}');
  assert.equal(besideFiles(csv).recommend, join(dir, 'm.recommend.json'));
});
