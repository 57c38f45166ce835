/**
 * The ONNX conversion of nsfwjs's trained MobileNetV2 against the model as nsfwjs itself loads and
 * runs it (its own loader, TF.js on the pure JavaScript CPU backend): the same pictures through
 * both give the same probabilities and the same 128 features before the classifier.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { load } from 'nsfwjs';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { createSession } from '../../src/runtime/ort.js';
import { Rng } from './builder.js';
import { NSFW_INPUT, nsfwMobileNetOnnx, readNsfwMobileNet } from './nsfw-mobilenet.js';
import { tfjsLayersToOnnx } from './tfjs-layers-onnx.js';

const [, C, H, W] = NSFW_INPUT.dims;

/** Two pictures in [0, 1], NCHW: seeded noise, and smooth colour waves with a bright disc. */
function pictures(): Float32Array[] {
  const rng = new Rng(7);
  const noise = new Float32Array(C * H * W).map(() => rng.next());
  const waves = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const disc = (x - 140) ** 2 + (y - 90) ** 2 < 40 ** 2 ? 0.4 : 0;
        waves[(c * H + y) * W + x] = Math.min(1, 0.5 + 0.3 * Math.sin((x * (c + 1)) / 17 + y / 23) + disc);
      }
    }
  }
  return [noise, waves];
}

function nhwc(nchw: Float32Array): Float32Array {
  const out = new Float32Array(nchw.length);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[(y * W + x) * C + c] = nchw[(c * H + y) * W + x]!;
  return out;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('nsfwjs MobileNetV2 as ONNX', () => {
  const onnx: { bytes?: Uint8Array } = {};
  before(() => {
    onnx.bytes = nsfwMobileNetOnnx();
  });

  it('gives the probabilities and features nsfwjs gives on the same pictures (max abs diff < 1e-4)', async () => {
    await tf.setBackend('cpu');
    const nsfw = await load('MobileNetV2');
    const model = nsfw.model as tf.LayersModel;
    const withFeatures = tf.model({ inputs: model.inputs, outputs: [model.getLayer('dense_2').output as tf.SymbolicTensor, model.outputs[0]!] });
    // The ONNX model with the same 128 features (dense_2 after its ReLU) as a second output.
    const proto = decodeModel(onnx.bytes!);
    proto.graph!.output = [...proto.graph!.output!, { name: 'dense_2_relu_out' }];
    const session = await createSession(encodeModel(proto), { intraOpNumThreads: 1 });
    try {
      for (const [i, picture] of pictures().entries()) {
        const [features, probabilities] = withFeatures.predict(tf.tensor(nhwc(picture), [1, H, W, C])) as tf.Tensor[];
        const want = { p: await probabilities!.data(), f: await features!.data() };
        tf.dispose([features!, probabilities!]);
        const got = await session.run({ [NSFW_INPUT.name]: { type: 'float32', dims: [...NSFW_INPUT.dims], data: picture } });
        const p = got.probabilities!.data as Float32Array;
        const f = got.dense_2_relu_out!.data as Float32Array;
        assert.equal(p.length, 5);
        assert.ok(Math.abs(p.reduce((a, v) => a + v, 0) - 1) < 1e-5);
        assert.ok(maxAbs(p, want.p) < 1e-4, `picture ${i}: probabilities ${Array.from(p)} vs nsfwjs ${Array.from(want.p)}`);
        const scale = Math.max(...Array.from(want.f).map(Math.abs));
        assert.ok(scale > 0, `picture ${i}: all features are 0`);
        assert.ok(maxAbs(f, want.f) < 1e-4 * scale, `picture ${i}: features differ by ${maxAbs(f, want.f)} (largest ${scale})`);
      }
    } finally {
      await session.release();
      nsfw.dispose();
    }
  });

  it('keeps the Keras layers as NCHW nodes, the ZeroPadding2D folded into the Conv pads', () => {
    const g = decodeModel(onnx.bytes!).graph!;
    const ops = new Map<string, number>();
    for (const n of g.node ?? []) ops.set(n.opType!, (ops.get(n.opType!) ?? 0) + 1);
    // 52 convolutions (17 of them depthwise), 52 BatchNormalizations, 35 ReLU6, 10 residual adds.
    assert.deepEqual(Object.fromEntries(ops), { Conv: 52, BatchNormalization: 52, Clip: 35, Add: 10, AveragePool: 1, Flatten: 1, Gemm: 3, Relu: 2, Softmax: 1 });
    const depthwise = (g.node ?? []).filter((n) => n.opType === 'Conv' && (n.attribute ?? []).some((a) => a.name === 'group' && Number(a.i) > 1));
    assert.equal(depthwise.length, 17);
    const conv1 = g.node!.find((n) => n.name === 'Conv1')!;
    assert.deepEqual(conv1.attribute!.find((a) => a.name === 'pads')!.ints!.map(Number), [0, 0, 1, 1]);
    assert.deepEqual(g.input!.map((i) => i.name), [NSFW_INPUT.name]);
    assert.deepEqual(g.output!.map((o) => o.name), ['probabilities']);
  });

  it('refuses a layer it does not read, naming it', () => {
    const a = readNsfwMobileNet();
    const topology = structuredClone(a.modelTopology) as { model_config: { config: { layers: { class_name: string; name: string }[] } } };
    const layer = topology.model_config.config.layers.find((l) => l.name === 'Conv1_relu')!;
    layer.class_name = 'LeakyReLU';
    assert.throws(() => tfjsLayersToOnnx({ ...a, modelTopology: topology as never }), /layer Conv1_relu: class LeakyReLU is not read/);
  });
});
