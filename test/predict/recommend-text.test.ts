/**
 * recommend's words: a split point that sends nothing (the edge-only one) is named without a
 * tensor codec, and the crossover table says which of its totals the constraints apply to.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../cli-helper.js';
import { writeZooModel } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-recommend-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('recommend text', () => {
  it('names no tensor codec for the edge-only split point, in the best line, the tables and the changes', async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'codecs.csv');
    const run = await cli(['run_all', '--onnx_file', lenet, '--splits', '0', '12', '--rep', '1', '--warmup', '0', '--tensor_codec', 'raw', 'fp16', '--results_file', csv]);
    assert.equal(run.code, 0, run.err);
    // At 0.01 Mbit/s and a 1 s round trip nothing beats keeping all on the edge.
    const r = await cli(['recommend', '--onnx_file', lenet, '--results_file', csv, '--bandwidth', '0.01', '--rtt', '1000']);
    assert.equal(r.code, 0, r.err);
    const best = r.out.split('\n').find((l) => l.startsWith('best split'))!;
    assert.match(best, /: 12 \(logits\)$/, r.out);
    for (const line of r.out.split('\n').filter((l) => /^\s*\d+\s+12\s+logits\s/.test(l) || /^\s*12\s+logits\s/.test(l))) {
      assert.doesNotMatch(line, /\b(raw|fp16)\b/, `the edge-only split point sends nothing, no codec applies: ${line}`);
    }
    assert.doesNotMatch(r.out, /12 \((raw|fp16)\)/, r.out);
    // Candidates are split point x codec pairs: counted as such.
    const k = await cli(['recommend', '--onnx_file', lenet, '--results_file', csv, '--bandwidth', '0.01', '--rtt', '1000', '--max_transfer_bytes', '0']);
    assert.equal(k.code, 0, k.err);
    assert.match(k.out, /^2 of 4 split point x tensor codec pairs excluded by the constraints$/m, k.out);
  });

  it("labels the crossover table's totals: the split points' under the constraints, the DAG optimum's without them", async () => {
    const lenet = writeZooModel('lenet5', dir);
    const csv = join(dir, 'lenet5.csv');
    const p = await cli(['profile', '--onnx_file', lenet, '--rep', '1', '--threads', '1', '--results_file', csv]);
    assert.equal(p.code, 0, p.err);
    const profile = join(dir, 'lenet5.profile.csv');
    const r = await cli(['recommend', '--onnx_file', lenet, '--profile', profile, '--bandwidth', '10', '--rtt', '5', '--max_transfer_bytes', '100000']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    const header = lines[lines.findIndex((l) => l.startsWith('Crossover')) + 1]!;
    assert.match(header, /total_ms \(transfer_bytes <= 100000\)\s+dag_total_ms \(no constraints\)$/, r.out);
    // Without constraints there is nothing to tell apart.
    const free = await cli(['recommend', '--onnx_file', lenet, '--profile', profile, '--bandwidth', '10', '--rtt', '5']);
    assert.equal(free.code, 0, free.err);
    const plain = free.out.split('\n');
    assert.match(plain[plain.findIndex((l) => l.startsWith('Crossover')) + 1]!, /\stotal_ms\s+dag_total_ms$/, free.out);
  });
});
