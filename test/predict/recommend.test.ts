/**
 * recommend on candidates whose costs are set by hand: constraints filter, the Pareto set is the
 * brute-force one, the crossover's change points agree with the best at every bandwidth, and a
 * run_all CSV's link is taken out and the asked one put in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireMs, type Link } from '../../src/predict/link.js';
import { paretoSet } from '../../src/predict/pareto.js';
import { crossoverChanges, measuredCandidates, recommend, type Candidate } from '../../src/predict/recommend.js';

/** A split point with fixed compute and `bytes` moved each way as the input (the result is small). */
function cand(i: number, edgeMs: number, cloudMs: number, bytes: number, memoryMb = i): Candidate {
  return {
    split_index: i,
    split_layer: `l${i}`,
    transfer_bytes: bytes,
    result_bytes: bytes === 0 ? 0 : 100,
    edge_memory_mb: memoryMb,
    at: (link: Link) => {
      const transfer = bytes === 0 ? 0 : 2 * link.rttMs + wireMs(bytes + 100, link);
      return { edge_ms: edgeMs, transfer_ms: transfer, cloud_ms: cloudMs, total_ms: edgeMs + cloudMs + transfer };
    },
  };
}

// Cloud only sends a big input; the middle cuts send less for more edge work; edge only sends nothing.
const CANDS = [cand(0, 0, 5, 600_000), cand(1, 4, 4, 800_000), cand(2, 10, 2, 100_000), cand(3, 20, 1, 10_000), cand(4, 40, 0, 0)];

describe('recommend', () => {
  it('puts the best split among those that meet the constraints', () => {
    const link = { bandwidthMbit: 10, rttMs: 20 };
    const free = recommend(CANDS, link);
    const totals = CANDS.map((c) => c.at(link).total_ms);
    assert.equal(free.best.split_index, totals.indexOf(Math.min(...totals)));
    const limited = recommend(CANDS, link, { maxEdgeMs: 15, maxTransferBytes: 700_000, maxEdgeMemoryMb: 2.5 });
    assert.deepEqual(
      limited.splits.filter((s) => s.feasible).map((s) => s.split_index),
      [0, 2],
      'edge_ms <= 15 drops 3 and 4, bytes <= 700000 drops 1, memory <= 2.5 MB drops 3 and 4',
    );
    assert.match(limited.splits[1]!.reason!, /transfer_bytes 800000 > 700000/);
    assert.match(limited.splits[4]!.reason!, /edge_ms 40\.00 > 15/);
    assert.ok([0, 2].includes(limited.best.split_index));
    assert.ok(limited.crossover.every((c) => [0, 2].includes(c.split_index)), 'the crossover keeps to the feasible splits');
    assert.throws(() => recommend(CANDS, link, { maxEdgeMs: 1, maxTransferBytes: 1 }), /no split point meets the constraints/);
  });

  it('finds the Pareto set that brute force finds', () => {
    const link = { bandwidthMbit: 50, rttMs: 5 };
    const r = recommend(CANDS, link);
    const v = CANDS.map((c) => [c.at(link).edge_ms, c.transfer_bytes, c.at(link).total_ms]);
    const brute = CANDS.filter((_, i) => !v.some((o, j) => j !== i && o.every((x, k) => x <= v[i]![k]!) && o.some((x, k) => x < v[i]![k]!))).map((c) => c.split_index);
    assert.deepEqual(r.pareto, brute);
    assert.ok(!r.pareto.includes(1), 'split 1 moves more and computes more on the edge than split 0, and is slower');
    assert.deepEqual(paretoSet([[1, 1], [1, 1]], [(x) => x[0]!, (x) => x[1]!]), [0, 1], 'equal points do not dominate each other');
  });

  it('lists a split point that sends nothing once in the Pareto set, though every codec has its row', () => {
    const link = { bandwidthMbit: 50, rttMs: 5 };
    const perCodec = ['raw', 'fp16', 'int8'].flatMap((codec) => CANDS.map((c) => ({ ...c, tensor_codec: codec })));
    const r = recommend(perCodec, link);
    assert.equal(r.pareto.filter((i) => i === 4).length, 1, `edge-only split 4 once: ${r.pareto.join(' ')}`);
    assert.equal(r.splits.filter((s) => s.pareto && s.split_index === 4).length, 1, 'one row of it marked pareto');
    assert.equal(r.splits.filter((s) => s.split_index === 4).length, 3, 'each codec still ranks it');
  });

  it('changes the choice exactly where the totals cross, and the table agrees at every bandwidth', () => {
    for (const rtt of [0, 2]) {
      const changes = crossoverChanges(CANDS, rtt);
      assert.ok(changes.length >= 2, `at rtt ${rtt} the choice changes more than once (${JSON.stringify(changes)})`);
      const bestAt = (bw: number) => {
        const t = CANDS.map((c) => c.at({ bandwidthMbit: bw, rttMs: rtt }).total_ms);
        return CANDS[t.indexOf(Math.min(...t))]!.split_index;
      };
      // Between change points the best is constant and is the `to` of the last change.
      const edges = [1, ...changes.map((c) => c.bandwidth_mbit), 10_000];
      for (let i = 0; i + 1 < edges.length; i++) {
        const expected = i === 0 ? (changes[0]?.from ?? bestAt(1)) : changes[i - 1]!.to;
        for (const f of [0.01, 0.5, 0.99]) {
          const bw = edges[i]! * (edges[i + 1]! / edges[i]!) ** f;
          assert.equal(bestAt(bw), expected, `rtt ${rtt}: best at ${bw} Mbit/s`);
        }
      }
      for (const c of changes) {
        const a = CANDS[c.from]!.at({ bandwidthMbit: c.bandwidth_mbit, rttMs: rtt }).total_ms;
        const b = CANDS[c.to]!.at({ bandwidthMbit: c.bandwidth_mbit, rttMs: rtt }).total_ms;
        assert.ok(Math.abs(a - b) < 1e-6, `at ${c.bandwidth_mbit} Mbit/s splits ${c.from} and ${c.to} take the same time`);
      }
      const r = recommend(CANDS, { bandwidthMbit: 10, rttMs: rtt });
      assert.deepEqual(r.crossover.map((row) => row.bandwidth_mbit), [1, 3.16, 10, 31.6, 100, 316, 1000, 3160, 10000]);
      for (const row of r.crossover) assert.equal(row.split_index, bestAt(row.bandwidth_mbit), `table row at ${row.bandwidth_mbit} Mbit/s`);
    }
  });

  it('re-models a measured split for another link', () => {
    // Measured at 10 Mbit/s, rtt 20: the link's part was 2 x 20 + (125000 + 1250) x 8 / 10000 = 141 ms of transfer, 10 ms of wait.
    const m = { split_index: 1, split_layer: 'a', transfer_bytes: 125_000, result_bytes: 1250, edge_ms: 5, cloud_ms: 3, transfer_ms: 150, total_ms: 175, bandwidthMbit: 10, rttMs: 20, reps: 10 };
    const [c] = measuredCandidates([m]);
    const same = c!.at({ bandwidthMbit: 10, rttMs: 20 });
    assert.ok(Math.abs(same.total_ms - 175) < 1e-9 && Math.abs(same.transfer_ms - 150) < 1e-9, 'the measured link gives the measured times');
    const fast = c!.at({ bandwidthMbit: 1000, rttMs: 0 });
    // 150 - 141 = 9 ms of store time stays; the new link adds 126250 x 8 / 1e6 = 1.01 ms.
    assert.ok(Math.abs(fast.transfer_ms - (9 + 1.01)) < 1e-9, `transfer ${fast.transfer_ms}`);
    assert.ok(Math.abs(fast.total_ms - (175 - 141 - 10 + 1.01)) < 1e-9, `total ${fast.total_ms}`);
    assert.deepEqual([fast.edge_ms, fast.cloud_ms], [5, 3], 'compute as measured');
  });
});
