import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel } from '../../src/onnx/codec.js';
import { DTYPES, dtypeFromName, dtypeFromOnnx, findDtypeByName, findDtypeByOnnx, tensorBytes } from '../../src/onnx/dtypes.js';
import { onnxSchema } from '../../src/onnx/onnx-proto.generated.js';
import type { ModelProto } from '../../src/onnx/types.js';
import { createSession } from '../../src/runtime/ort.js';
import { typedArrayFor, zeroTensor } from '../../src/tensor/host.js';
import { PAYLOAD_DTYPES } from '../../src/tensor/payload/index.js';

/** TensorProto.DataType of schema/onnx.proto, as compiled. */
function onnxDataTypes(): Record<string, number> {
  const nested = (onnxSchema as { nested: { onnx: { nested: { TensorProto: { nested: { DataType: { values: Record<string, number> } } } } } } }).nested;
  return nested.onnx.nested.TensorProto.nested.DataType.values;
}

/** A one-node model y = Identity(x) over elements of type `elemType`. */
function identity(elemType: number): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType, shape: { dim: [{ dimValue: 3 }] } } } });
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
  };
  return encodeModel(model);
}

describe('dtypes: one table', () => {
  it('has every TensorProto.DataType of the schema, by number, under the ONNX name lower-cased (float32, float64 for FLOAT, DOUBLE)', () => {
    const schema = Object.entries(onnxDataTypes()).filter(([, v]) => v !== 0);
    assert.equal(DTYPES.length, schema.length);
    for (const [key, onnx] of schema) {
      const name = ({ FLOAT: 'float32', DOUBLE: 'float64' } as Record<string, string>)[key] ?? key.toLowerCase();
      assert.equal(dtypeFromOnnx(onnx).name, name, key);
      assert.equal(dtypeFromName(name).onnx, onnx, key);
    }
    assert.deepEqual(DTYPES.map((d) => d.onnx), [...DTYPES.map((d) => d.onnx)].sort((a, b) => a - b), 'in enum order');
  });

  it('sizes agree with the typed arrays, and tensorBytes packs sub-byte types', () => {
    for (const d of DTYPES) {
      if (d.array) assert.equal(d.array.BYTES_PER_ELEMENT * 8, d.bits, d.name);
      assert.equal(d.bytes, d.bits % 8 === 0 ? d.bits / 8 : 0, d.name);
    }
    assert.equal(tensorBytes(dtypeFromName('int4').onnx, [3, 3]), 5);
    assert.equal(tensorBytes(dtypeFromName('float16').onnx, [3, 3]), 18);
    assert.equal(tensorBytes(dtypeFromName('string').onnx, [3]), -1);
  });

  it('unknown numbers and names: undefined from find*, a one-line error naming them otherwise', () => {
    assert.equal(findDtypeByOnnx(0), undefined);
    assert.equal(findDtypeByName('float'), undefined);
    assert.throws(() => dtypeFromOnnx(99), /unknown ONNX element type 99/);
    assert.throws(() => dtypeFromName('float'), /unknown element type 'float' \(known: float32, uint8, /);
    assert.throws(() => typedArrayFor('bfloat16'), /no host array type for element type 'bfloat16'/);
  });

  it('payloads carry strings and exactly the types with a typed array', () => {
    assert.deepEqual(PAYLOAD_DTYPES, DTYPES.filter((d) => d.array !== undefined || d.name === 'string').map((d) => d.name));
  });

  it("onnxruntime-node takes and returns each type's data in the table's typed array, under the table's name", async () => {
    for (const d of DTYPES.filter((x) => x.array !== undefined || x.name === 'string')) {
      const session = await createSession(identity(d.onnx), { logSeverityLevel: 3 });
      try {
        const x = zeroTensor(d.name, [3]);
        const y = (await session.run({ x })).y!;
        assert.equal(y.type, d.name, `${d.name}: type`);
        assert.deepEqual([...y.dims], [3]);
        if (d.array) assert.ok(y.data instanceof d.array && y.data.constructor === d.array, `${d.name}: got ${y.data.constructor.name}`);
        else assert.ok(Array.isArray(y.data), `${d.name}: strings`);
      } finally {
        await session.release();
      }
    }
  });
});
