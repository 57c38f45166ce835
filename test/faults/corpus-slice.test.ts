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
});
