/**
 * All the benchmarks, in sequence (`npm run bench`): the split engine (split-bench), the payload
 * codec (payload-bench), the tensor codecs (codec-bench), run_all (run-bench), the emulated link (link-bench), predict against run_all
 * (predict-bench), show_graph on large models (graph-bench), the quantised operator patterns
 * (quant-bench), quant_model on a trained MobileNetV2 over photographs (mobilenet-quant-bench), the sweep's threads per side (threads-bench), onnx-cloud's start-up
 * (cloud-start-bench) and the sweep's waste on a 66-point CNN (waste-bench). Each prints its table and writes its JSON under
 * results/bench/. Goals are reported, not enforced; the exit code is non-zero only when a bench
 * could not run.
 *
 * split-bench runs its main() when its module is loaded and exports none, so it runs as a child
 * process (`node dist/bench/split-bench.js`, output inherited); the others are called in-process.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCodecBench } from './codec-bench.js';
import { runGraphBench } from './graph-bench.js';
import { runLinkBench } from './link-bench.js';
import { runPayloadBench } from './payload-bench.js';
import { runPredictBench } from './predict-bench.js';
import { photosMissing, runMobileNetQuantBench } from './mobilenet-quant-bench.js';
import { runQuantBench } from './quant-bench.js';
import { runRunBench } from './run-bench.js';
import { runCloudStartBench } from './cloud-start-bench.js';
import { runThreadsBench } from './threads-bench.js';
import { runWasteBench } from './waste-bench.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function banner(title: string): void {
  console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 72 - title.length))}\n`);
}

async function main(): Promise<number> {
  const started = Date.now();
  const failed: string[] = [];

  banner('split-bench');
  const split = spawnSync(process.execPath, [path.join(here, 'split-bench.js')], { stdio: 'inherit' });
  if (split.error || split.status !== 0) {
    failed.push('split-bench');
    console.error(`split-bench failed (${split.error ? split.error.message : `exit ${split.status ?? split.signal}`})`);
  }

  // The in-process parts: each runs in turn, a failure is reported and the next one runs.
  const parts: [string, () => unknown][] = [
    ['payload-bench', runPayloadBench],
    ['codec-bench', runCodecBench],
    ['run-bench', runRunBench],
    ['link-bench', runLinkBench],
    ['predict-bench', runPredictBench],
    ['graph-bench', runGraphBench],
    ['quant-bench', runQuantBench],
    // Needs Debian's wallpaper photographs; without them it says so and is left out.
    ['mobilenet-quant-bench', () => (photosMissing() ? console.log(`left out: ${photosMissing()}`) : runMobileNetQuantBench())],
    ['threads-bench', runThreadsBench],
    ['cloud-start-bench', runCloudStartBench],
    ['waste-bench', runWasteBench],
  ];
  for (const [name, run] of parts) {
    banner(name);
    try {
      await run();
    } catch (err) {
      failed.push(name);
      console.error(`${name} failed: ${(err as Error)?.stack ?? err}`);
    }
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`\nbenchmarks done in ${seconds} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
