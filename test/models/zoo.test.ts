import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { randomTensor } from '../../src/tensor/host.js';
import { DataType, deterministicInput, modelStats } from './builder.js';
import { fullSizeZoo, installed, realModels, zoo, type TensorSpec } from './zoo.js';

const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 };

/** ONNX element type numbers of the catalog's dtype names (the builder's own table). */
const ELEM_TYPE: Record<string, number> = {
  float32: DataType.FLOAT,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  int32: DataType.INT32,
  int64: DataType.INT64,
  bool: DataType.BOOL,
  float16: DataType.FLOAT16,
  float64: DataType.DOUBLE,
};

/** Inputs of the catalog's types: float32 from deterministicInput, the others seeded random. */
function feeds(inputs: TensorSpec[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  inputs.forEach((inp, i) => {
    if (!inp.dtype || inp.dtype === 'float32') {
      out[inp.name] = new ort.Tensor('float32', deterministicInput(inp.dims, 1000 + i), inp.dims);
      return;
    }
    const t = randomTensor(inp.dtype, inp.dims, 1000 + i);
    out[inp.name] = new ort.Tensor(inp.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, inp.dims);
  });
  return out;
}

async function runTwice(bytes: Uint8Array, inputs: TensorSpec[], outputs: TensorSpec[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, sessionOptions);
  try {
    assert.deepEqual([...session.inputNames], inputs.map((i) => i.name));
    assert.deepEqual([...session.outputNames].sort(), outputs.map((o) => o.name).sort());
    const first = await session.run(feeds(inputs));
    const second = await session.run(feeds(inputs));
    const result: Record<string, Float32Array> = {};
    for (const spec of outputs) {
      const a = first[spec.name];
      const b = second[spec.name];
      assert.ok(a, `missing output ${spec.name}`);
      assert.deepEqual([...a.dims], spec.dims, `dims of ${spec.name}`);
      assert.equal(a.type, 'float32');
      const data = a.data as Float32Array;
      const bad = data.findIndex((v) => !Number.isFinite(v));
      assert.equal(bad, -1, `${spec.name}[${bad}] = ${data[bad]}`);
      assert.deepEqual(b.data as Float32Array, data, `${spec.name} differs between runs`);
      result[spec.name] = data;
    }
    return result;
  } finally {
    await session.release();
  }
}

describe('zoo models', () => {
  for (const m of zoo) {
    it(`${m.name}: builds, runs in onnxruntime, finite and deterministic`, async () => {
      const model = m.build();
      const g = model.graph!;
      // the builder emits no value_info; graph inputs/outputs match the catalog entry
      assert.equal(g.valueInfo, undefined);
      assert.deepEqual(g.input!.map((i) => i.name), m.inputs.map((i) => i.name));
      assert.deepEqual(
        g.input!.map((i) => i.type!.tensorType!.elemType),
        m.inputs.map((i) => ELEM_TYPE[i.dtype ?? 'float32']),
        'declared input types',
      );
      assert.deepEqual(g.output!.map((o) => o.name), m.outputs.map((o) => o.name));
      for (const o of g.output!) {
        const spec = m.outputs.find((s) => s.name === o.name)!;
        assert.deepEqual(o.type!.tensorType!.shape!.dim!.map((d) => d.dimValue), spec.dims, `declared shape of ${o.name}`);
      }
      const names = g.node!.map((n) => n.name);
      assert.equal(new Set(names).size, names.length, 'node names are unique');
      const outs = g.node!.flatMap((n) => n.output!);
      assert.equal(new Set(outs).size, outs.length, 'tensor names are unique');

      // building is deterministic
      const bytes = encodeModel(model);
      assert.deepEqual(encodeModel(m.build()), bytes);
      const results = await runTwice(bytes, m.inputs, m.outputs);
      // outputs are not degenerate (all equal values would hide wiring mistakes in split tests)
      for (const [name, data] of Object.entries(results)) {
        assert.ok(
          data.some((v) => v !== data[0]),
          `${name} is constant`,
        );
      }
    });
  }

  it('constant_nodes keeps its weights in Constant nodes', () => {
    const m = zoo.find((z) => z.name === 'constant_nodes')!.build();
    const g = m.graph!;
    const constants = g.node!.filter((n) => n.opType === 'Constant');
    assert.ok(constants.length >= 8);
    assert.ok(g.node!.some((n) => n.opType === 'Shape'));
    assert.ok(g.node!.some((n) => n.opType === 'Gather'));
    assert.equal((g.initializer ?? []).filter((t) => t.dataType === 1).length, 0, 'no float initializers');
  });

  it('full-size architectures have the expected parameter counts', () => {
    const expected: Record<string, [number, number]> = {
      // torchvision counts (3,504,872 / 11,689,512) plus BatchNorm running statistics
      mobilenet_v2: [3.5e6, 3.6e6],
      resnet18: [11.69e6, 11.71e6],
    };
    for (const m of fullSizeZoo) {
      const stats = modelStats(m.build());
      const [lo, hi] = expected[m.name];
      assert.ok(stats.params >= lo && stats.params <= hi, `${m.name}: ${stats.params} params`);
    }
  });
});

describe('real models', () => {
  for (const m of realModels) {
    it(`${m.name}: decodes, re-encodes and runs with bound input dims`, async () => {
      const original = new Uint8Array(readFileSync(installed(m.path)));
      const reencoded = encodeModel(decodeModel(original, m.path));
      const a = await runTwice(reencoded, m.inputs, m.outputs);
      const b = await runTwice(original, m.inputs, m.outputs);
      assert.deepEqual(a, b, 're-encoded model computes the same outputs');
    });
  }
});
