/**
 * Thread spinning: with the local cloud the sweep's sessions are created with idle threads that
 * sleep (allow_spinning 0), so the side that waits takes no core from the side that runs. Checked
 * on real onnxruntime sessions by the CPU time the process uses while it sits idle between runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRunConfig, edgeSessionOptions } from '../../src/config/run-config.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { createSession } from '../../src/runtime/ort.js';
import type { SessionOptions } from '../../src/runtime/session.js';
import { zoo } from '../models/zoo.js';

const model = zoo.find((m) => m.name === 'resnet_like')!;
const feeds = { input: { type: 'float32', dims: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32).fill(0.5) } };

/** CPU milliseconds the process uses in the 5 ms after each of 20 runs. */
async function idleCpuMs(options: SessionOptions): Promise<number> {
  const s = await createSession(encodeModel(model.build()), options);
  try {
    let cpu = 0;
    for (let i = 0; i < 20; i++) {
      await s.run(feeds);
      const c0 = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 5));
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1000;
    }
    return cpu;
  } finally {
    await s.release();
  }
}

describe('thread spinning', () => {
  it("the local cloud's sessions leave the cores alone between runs; onnxruntime's default spins", async () => {
    const local = edgeSessionOptions(buildRunConfig({ threads: 2 }, {}));
    assert.equal(local.allowSpinning, false);
    const spinning = await idleCpuMs({ intraOpNumThreads: 2 });
    const sleeping = await idleCpuMs(local);
    assert.ok(sleeping < spinning / 2, `idle CPU ${sleeping.toFixed(1)} ms with spinning off against ${spinning.toFixed(1)} ms with it on`);
  });

  it('threads that spin within a run stop when it ends with stopSpinningAfterRun (session.force_spinning_stop)', async () => {
    const spinning = await idleCpuMs({ intraOpNumThreads: 2 });
    const stopped = await idleCpuMs({ intraOpNumThreads: 2, stopSpinningAfterRun: true });
    assert.ok(stopped < spinning / 2, `idle CPU ${stopped.toFixed(1)} ms with spinning stopped after each run against ${spinning.toFixed(1)} ms without`);
  });

  it('stopSpinningAfterRun keeps the other session settings (spinning off stays off)', async () => {
    const both = await idleCpuMs({ intraOpNumThreads: 2, allowSpinning: false, stopSpinningAfterRun: true });
    const spinning = await idleCpuMs({ intraOpNumThreads: 2 });
    assert.ok(both < spinning / 2, `idle CPU ${both.toFixed(1)} ms against ${spinning.toFixed(1)} ms spinning`);
  });
});
