/**
 * A small seeded slice of the fault suite's corpora (npm run faults runs 1,000 of each): mutated
 * models through list_layers, split_model_all and onnx-cloud, mutated payloads through the cloud
 * runner and onnx-cloud, each command's main() in this process. Every input is either refused in
 * one line of the tool's own, leaving no file behind, or accepted with results equal to
 * onnxruntime's; a finding names the input, so `npm run faults -- --only models:N` replays it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkModel } from '../../faults/model-corpus.js';
import { checkPayload } from '../../faults/payload-corpus.js';
import type { ItemResult } from '../../faults/outcome.js';
import { mutatedModel } from '../../faults/model-mutations.js';
import { broadcastElements, declaredInputs } from '../../faults/reference.js';
import { zoo } from '../models/zoo.js';
import { tempDirs } from '../helpers.js';

const freshDir = tempDirs();
const SEED = 1;
/** Every 40th item of the suite's 1,000: spread over every base model or payload and every kind of mutation. */
const SLICE = Array.from({ length: 25 }, (_, j) => j * 40 + 3);

async function run(check: (seed: number, i: number, work: string) => Promise<ItemResult>, tag: string) {
  const work = await freshDir(tag);
  let refused = 0;
  let accepted = 0;
  const findings = [];
  for (const i of SLICE) {
    const r = await check(SEED, i, work);
    refused += r.refused;
    accepted += r.accepted;
    findings.push(...r.findings);
  }
  assert.deepEqual(findings, [], 'every bad input handled');
  // The slice exercises both paths: refusals and accepted inputs checked against onnxruntime.
  assert.ok(refused > 0 && accepted > 0, `${refused} refused, ${accepted} accepted`);
}

describe('fault corpora, a seeded slice', () => {
  it('25 mutated models through list_layers, split_model_all and onnx-cloud', { timeout: 240_000 }, async () => {
    await run(checkModel, 'fault-models');
  });

  it('25 mutated payloads through the cloud runner and onnx-cloud', { timeout: 240_000 }, async () => {
    await run(checkPayload, 'fault-payloads');
  });

  it("leaves out the reference run of a model whose inputs broadcast to a huge shape, which took longer than the item's budget", { timeout: 240_000 }, async () => {
    assert.equal(broadcastElements([[1_000_000, 3, 1, 1], [1, 3, 8, 8], [1, 1, 8, 8]]), 192_000_000);
    assert.equal(broadcastElements([[3, 1], [5], []]), 15);
    // Model 369: mixed_dtypes with dim 0 of its input 'shift' set to 10^6.
    const m = mutatedModel(SEED, 369);
    assert.match(m.what, /shift set to \{"dimValue":1000000\}/);
    assert.match(String(declaredInputs(m.bytes, zoo.find((z) => z.name === m.base)!.inputs)), /broadcast to 192000000 elements, too large to check/);
    const r = await checkModel(SEED, 369, await freshDir('fault-broadcast'));
    assert.deepEqual(r.findings, []);
  });
});
