/**
 * The transfer model's arithmetic against values worked out by hand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decadeBandwidths, linkCycleMs, requestOverLinkMs, wireMs } from '../../src/predict/link.js';
import { cycleTimes } from '../../src/predict/predict.js';
import { NO_STORE_COSTS, type StoreCosts } from '../../src/predict/store-costs.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);

describe('link model', () => {
  it('serialises bytes at the rate and adds one round trip per request', () => {
    close(wireMs(1_000_000, { bandwidthMbit: 8, rttMs: 0 }), 1000, '1 MB at 8 Mbit/s is 1 s');
    close(wireMs(125_000, { bandwidthMbit: 10, rttMs: 5 }), 100, '1 Mbit at 10 Mbit/s is 100 ms');
    close(wireMs(123_456, { rttMs: 30 }), 0, 'no bandwidth: no serialisation');
    close(requestOverLinkMs(125_000, { bandwidthMbit: 10, rttMs: 20 }), 120, 'a PUT of 1 Mbit at 10 Mbit/s over 20 ms rtt');
    // PUT of 250 kB (200 ms at 10 Mbit/s) + GET of 12.5 kB (10 ms) + a round trip each; the notification half a round trip.
    const l = linkCycleMs(250_000, 12_500, { bandwidthMbit: 10, rttMs: 20 });
    close(l.transferMs, 200 + 20 + 10 + 20, 'transfer');
    close(l.notifyMs, 10, 'notification');
  });

  it('lists one bandwidth per decade and half-decade from 1 Mbit/s to 10 Gbit/s', () => {
    assert.deepEqual(decadeBandwidths(), [1, 3.16, 10, 31.6, 100, 316, 1000, 3160, 10000]);
  });

  it('adds up a cycle: compute, codec, store requests, link', () => {
    const store: StoreCosts = {
      put: { fixedMs: 1, perMbMs: 2 },
      get: { fixedMs: 0.5, perMbMs: 1 },
      notifyMs: 0.25,
      encode: { fixedMs: 0.1, perMbMs: 0 },
      decode: { fixedMs: 0.2, perMbMs: 0.5 },
      requests: 0,
    };
    const t = cycleTimes({ edgeMs: 10, cloudMs: 4, inputBytes: 2_000_000, resultBytes: 500_000, edgeOnly: false }, store, { bandwidthMbit: 100, rttMs: 10 });
    // upload: put 1 + 2x2 = 5, link 10 + 160 = 170 -> 175; cloud get: 0.5 + 2 = 2.5; cloud put of the result: 1 + 1 = 2;
    // download: get 0.5 + 0.5 = 1, link 10 + 40 = 50 -> 51.
    close(t.upload_ms, 175, 'upload');
    close(t.download_ms, 51, 'download');
    close(t.transfer_ms, 175 + 2.5 + 51 + 2, 'transfer');
    // wait: cloud get 2.5 + decode 0.2 + 1 + cloud 4 + encode 0.1 + cloud put 2 + notify 0.25 + half the rtt 5.
    close(t.wait_ms, 2.5 + 1.2 + 4 + 0.1 + 2 + 0.25 + 5, 'wait');
    close(t.encode_ms, 0.1, 'encode');
    close(t.decode_ms, 0.2 + 0.25, 'decode of the result');
    close(t.total_ms, 10 + 0.1 + 175 + t.wait_ms + 51 + 0.45, 'total');
    const edgeOnly = cycleTimes({ edgeMs: 7, cloudMs: 0, inputBytes: 0, resultBytes: 0, edgeOnly: true }, store, { bandwidthMbit: 1, rttMs: 100 });
    assert.deepEqual([edgeOnly.total_ms, edgeOnly.transfer_ms], [7, 0], 'edge only: nothing crosses');
    const free = cycleTimes({ edgeMs: 1, cloudMs: 2, inputBytes: 1000, resultBytes: 10, edgeOnly: false }, NO_STORE_COSTS, { rttMs: 0 });
    close(free.total_ms, 3, 'no store costs, no link: compute alone');
  });
});
