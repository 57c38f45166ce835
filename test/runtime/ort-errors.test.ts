/**
 * onnxruntime's errors as the tool reports them: one line that keeps what the user needs, here the
 * dims an input was given against those the model expects (onnxruntime puts them on lines of
 * their own, which the first line alone dropped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { createSession, RuntimeError } from '../../src/runtime/ort.js';
import { ortLine } from '../../src/runtime/ort-message.js';
import { randomTensor } from '../../src/tensor/host.js';
import { zoo } from '../models/zoo.js';

test('an input of the wrong dims is refused in one line naming the index, the dim given and the dim expected', async () => {
  const lenet = zoo.find((z) => z.name === 'lenet5')!;
  const s = await createSession(encodeModel(lenet.build()));
  try {
    const input = lenet.inputs[0]!;
    const wrong = [...input.dims.slice(0, -1), input.dims.at(-1)! - 1];
    await assert.rejects(s.run({ [input.name]: randomTensor('float32', wrong, 1) }), (err: unknown) => {
      assert.ok(err instanceof RuntimeError);
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, new RegExp(`^inference failed: Got invalid dimensions for input: ${input.name} .*index: ${wrong.length - 1} Got: ${wrong.at(-1)} Expected: ${input.dims.at(-1)}`));
      return true;
    });
  } finally {
    await s.release();
  }
});

test('ortLine joins the lines of a message and drops onnxruntime\'s source locations', () => {
  assert.equal(ortLine(new Error('first line\n  index: 0 Got: 1 Expected: 3\n\nPlease fix it.')), 'first line; index: 0 Got: 1 Expected: 3; Please fix it.');
  assert.equal(ortLine(new Error('/onnxruntime_src/core/x.cc:12 void f() cond was false. Failed to do it')), 'Failed to do it');
});

test('a kernel that fails during a run is named: its node and op type, then the reason without source locations', () => {
  const raw =
    "Non-zero status code returned while running Add node. Name:'p2o.Add.248' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:583 void onnxruntime::BroadcastIterator::Append(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4\n";
  assert.equal(ortLine(new Error(raw)), "node 'p2o.Add.248' (Add): Attempting to broadcast an axis by a dimension other than 1. 3 by 4");
});
