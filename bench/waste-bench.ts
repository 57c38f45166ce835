/**
 * Benchmark of the sweep's waste (not a test): `node dist/bench/waste-bench.js` (also part of
 * `npm run bench`).
 *
 * run_all over all 66 split points of the test model builder's mobilenet_v2_like, on the embedded
 * defaults (embedded store, local worker, CPU), at --rep 5 and at --rep 10 (--warmup 2), measured
 * as run-bench measures it: waste = run_all wall time / (sum of the rows' total_ms + the warm-up
 * cycles + the sessions' load times). The warm-up cycles count as the rows record them
 * (warmup_ms): they are the first runs of fresh sessions and take longer than the recorded ones;
 * the ratio with them counted at each split's median row (how run-bench estimated them before
 * the rows had warmup_ms) is printed beside it. Goals: <= 1.15 at rep 5 and <= 1.10 at rep 10. run-bench's
 * breakdown of the wall time (set-up, rows, warm-ups, loads, uploads, between repetitions, split
 * set-up, shut-down) is printed beside it. Writes results/bench/waste.json.
 */
import { pathToFileURL } from 'node:url';
import { writeBenchJson } from './machine.js';
import { runRunBench, type ModelResult } from './run-bench.js';

export const WASTE_GOALS: Record<number, number> = { 5: 1.15, 10: 1.1 };

export async function runWasteBench(opts: { outFile?: string | null } = {}): Promise<{ runs: { rep: number; goal: number; waste: number; pass: boolean; model: ModelResult }[] }> {
  const runs = [];
  for (const rep of [5, 10]) {
    const r = await runRunBench({ rep, warmup: 2, models: ['mobilenet_v2_like'], maxSplits: 0, storeLatency: false, outFile: null });
    const model = r.models[0]!;
    const goal = WASTE_GOALS[rep]!;
    runs.push({ rep, goal, waste: model.wasteRatio, pass: model.wasteRatio <= goal, model });
  }
  console.log('');
  console.log('waste on mobilenet_v2_like (66 split points), all split points:');
  for (const r of runs) {
    console.log(
      `  --rep ${r.rep}: ${r.waste.toFixed(2)} (goal <= ${r.goal}) ${r.pass ? 'PASS' : 'FAIL'}; wall ${(r.model.wallMs / 1000).toFixed(1)} s, work ${(r.model.work.ms / 1000).toFixed(1)} s ` +
        `(warm-ups as recorded in warmup_ms: ${(r.model.work.warmupEstimateMs / 1000).toFixed(1)} s; with them counted at the median row instead, ${(r.model.work.warmupAtMedianMs / 1000).toFixed(1)} s, the ratio is ${r.model.wasteRatioWarmupsAtMedian.toFixed(2)})`,
    );
  }
  const result = { date: new Date().toISOString(), runs };
  writeBenchJson('waste', result, opts.outFile);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runWasteBench();
}
