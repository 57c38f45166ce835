/**
 * transfer_ms counts the cloud's fetch and upload only as far as they fit in wait_ms beside the
 * cloud's own work, so a cycle's transfer never exceeds the cycle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { transferOnPath } from '../../src/profile/columns.js';

describe('transferOnPath', () => {
  it('a cloud upload answered after the edge already had the result counts only up to the end of the wait', () => {
    // A row measured on a loaded machine with the embedded store in the edge's process: the cloud
    // learned its 256-byte upload was done 12.1 ms later, while the whole wait was 6.1 ms.
    const steps = { uploadMs: 2.759, waitMs: 6.142, downloadMs: 2.034, cloudMovesMs: 2.635 + 12.103, cloudWorkMs: 0.5 };
    const totalMs = 11.597;
    const t = transferOnPath(steps);
    assert.ok(t <= totalMs, `transfer ${t} within the cycle's ${totalMs}`);
    assert.ok(Math.abs(t - (2.759 + (6.142 - 0.5) + 2.034)) < 1e-9, `${t}`);
  });

  it('cloud moves that fit in the wait count in full', () => {
    const t = transferOnPath({ uploadMs: 3, waitMs: 40, downloadMs: 2, cloudMovesMs: 5, cloudWorkMs: 10 });
    assert.equal(t, 3 + 5 + 2);
  });

  it('cloud work longer than the wait leaves the cloud moves out rather than negative', () => {
    const t = transferOnPath({ uploadMs: 3, waitMs: 4, downloadMs: 2, cloudMovesMs: 5, cloudWorkMs: 6 });
    assert.equal(t, 5);
  });
});
