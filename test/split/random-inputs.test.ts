/**
 * randomInputs, the random input that run and run_all use when no input is given: every model input gets its
 * own element type, and onnxruntime runs the model on it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { analyze, zooSubject } from '../helpers.js';
import { numel } from '../models/builder.js';
import { zoo } from '../models/zoo.js';

/** The typed array onnxruntime-node takes for each element type (its Tensor documentation). */
const ARRAY: Record<string, new (n: number) => ArrayBufferView> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int8: Int8Array,
  int32: Int32Array,
  int64: BigInt64Array,
};

const mixed = zoo.find((z) => z.name === 'mixed_dtypes')!;

describe('random inputs', () => {
  it('mixed_dtypes: each input gets its declared type (bool, uint8, int8, int32, int64, float16, float64, float32) and onnxruntime runs on them', async () => {
    const a = await analyze(zooSubject(mixed));
    const feeds = randomInputs(a, 3);
    assert.deepEqual(Object.keys(feeds), mixed.inputs.map((i) => i.name));
    for (const spec of mixed.inputs) {
      const t = feeds[spec.name]!;
      const dtype = spec.dtype ?? 'float32';
      assert.equal(t.type, dtype, `${spec.name}: type`);
      assert.deepEqual([...t.dims], spec.dims, `${spec.name}: dims`);
      assert.ok(t.data instanceof ARRAY[dtype]!, `${spec.name}: ${t.data.constructor.name} for ${dtype}`);
      assert.equal((t.data as unknown as ArrayLike<unknown>).length, numel(spec.dims), `${spec.name}: elements`);
    }
    const mask = feeds.mask!.data as Uint8Array;
    assert.ok(mask.every((v) => v === 0 || v === 1), 'bool values are 0 or 1');
    assert.ok(mask.includes(0) && mask.includes(1), 'the mask has both values');

    const session = await createSession(a.model.bytes, { graphOptimizationLevel: 'disabled' });
    try {
      const logits = (await session.run(feeds)).logits!;
      assert.deepEqual([...logits.dims], mixed.outputs[0]!.dims);
      const values = [...(logits.data as Float32Array)];
      assert.ok(values.every(Number.isFinite), `finite: ${values}`);
      // The bool input reaches the graph as a mask: inverting it changes the result.
      const inverted: HostTensor = { ...feeds.mask!, data: mask.map((v) => 1 - v) };
      const other = [...((await session.run({ ...feeds, mask: inverted })).logits!.data as Float32Array)];
      assert.notDeepEqual(other, values);
    } finally {
      await session.release();
    }
  });

  it('an input of a type without host arrays (int4, bfloat16) is a one-line UsageError naming it', () => {
    for (const [elemType, dtype] of [
      [22, 'int4'],
      [16, 'bfloat16'],
    ] as const) {
      const a = { index: { inputs: ['q'] }, shapes: new Map([['q', { elemType, dims: [4] }]]) } as unknown as ModelAnalysis;
      assert.throws(
        () => randomInputs(a),
        (err: Error) => err instanceof UsageError && err.message === `input 'q' is ${dtype}, which has no random input here; give the inputs with --input_file`,
      );
    }
  });

  it('the same seed gives the same inputs, another seed others', async () => {
    const a = await analyze(zooSubject(mixed));
    const bytes = (f: Record<string, HostTensor>) =>
      Object.values(f).map((t) => {
        const d = t.data as ArrayBufferView;
        return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
      });
    assert.deepEqual(bytes(randomInputs(a, 5)), bytes(randomInputs(a, 5)));
    assert.notDeepEqual(bytes(randomInputs(a, 5)), bytes(randomInputs(a, 6)));
  });
});
