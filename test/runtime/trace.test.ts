/**
 * onnxruntime's Chrome trace read into runs: kernels by the run they fall in, names without the
 * `_kernel_time` suffix, a file that is not a trace refused with its name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrace } from '../../src/runtime/trace.js';

const kernel = (node: string, op: string, ts: number, dur: number) => ({ cat: 'Node', name: `${node}_kernel_time`, ts, dur, args: { op_name: op, provider: 'CPUExecutionProvider' } });

describe('onnxruntime traces', () => {
  it('groups kernel times by model_run, in ms, leaving out kernels outside any run', () => {
    const events = [
      { cat: 'Session', name: 'session_initialization', ts: 0, dur: 500 },
      kernel('init_only', 'Conv', 100, 50),
      { cat: 'Session', name: 'model_run', ts: 1000, dur: 300 },
      kernel('conv_0_out_nchwc', 'Conv', 1010, 120),
      { cat: 'Node', name: 'conv_0_out_nchwc_fence_before', ts: 1009, dur: 0 },
      kernel('relu', 'Relu', 1140, 30),
      { cat: 'Session', name: 'model_run', ts: 2000, dur: 250 },
      kernel('relu', 'Relu', 2100, 40),
      kernel('conv_0_out_nchwc', 'Conv', 2010, 80),
    ];
    assert.deepEqual(parseTrace(JSON.stringify(events)), [
      {
        runMs: 0.3,
        kernels: [
          { node: 'conv_0_out_nchwc', opType: 'Conv', provider: 'CPUExecutionProvider', ms: 0.12 },
          { node: 'relu', opType: 'Relu', provider: 'CPUExecutionProvider', ms: 0.03 },
        ],
      },
      {
        runMs: 0.25,
        kernels: [
          { node: 'conv_0_out_nchwc', opType: 'Conv', provider: 'CPUExecutionProvider', ms: 0.08 },
          { node: 'relu', opType: 'Relu', provider: 'CPUExecutionProvider', ms: 0.04 },
        ],
      },
    ]);
  });

  it('refuses text that is not a trace, naming the file', () => {
    assert.throws(() => parseTrace('{"a":', 'p.json'), /^RuntimeError: p\.json: not a JSON trace/);
    assert.throws(() => parseTrace('{"a":1}', 'p.json'), /p\.json: not a Chrome trace/);
  });
});
