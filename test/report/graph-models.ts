/**
 * Large architectures for the graph view, built with the test-model builder: DenseNet-121 and
 * ViT-B/16 with their real topology (layer counts, concatenations, attention blocks) at narrower
 * widths and smaller inputs, so shape probing stays quick. The node and edge counts, which is what
 * the layout sees, are those of the real networks as exported op by op.
 */
import type { ModelProto } from '../../src/onnx/types.js';
import { GraphBuilder, type Value } from '../models/builder.js';

export interface DenseNetOptions {
  /** Dense layers per block (default DenseNet-121's [6, 12, 24, 16]). */
  blocks?: number[];
  /** Channels each dense layer adds (real: 32; default 4). */
  growth?: number;
  /** Square input (real: 224; default 32). */
  inputSize?: number;
}

/**
 * DenseNet-121: 7x7/2 stem + max pool, four dense blocks of BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k)
 * layers whose output is concatenated onto everything before, transitions of BN-ReLU-Conv1x1 (half
 * the channels) + 2x2 average pool, then BN-ReLU, global pool and a classifier.
 */
export function densenet121Like(opts: DenseNetOptions = {}): ModelProto {
  const k = opts.growth ?? 4;
  const blocks = opts.blocks ?? [6, 12, 24, 16];
  const size = opts.inputSize ?? 32;
  const g = new GraphBuilder('densenet121', 11);
  let x = g.input('input', [1, 3, size, size]);
  x = g.relu(g.batchNorm(g.conv(x, 2 * k, 7, { stride: 2, pad: 3, bias: false })));
  x = g.maxPool(x, 3, { stride: 2, pad: 1 });
  blocks.forEach((layers, b) => {
    for (let i = 0; i < layers; i++) {
      let y = g.conv(g.relu(g.batchNorm(x)), 4 * k, 1, { pad: 0, bias: false });
      y = g.conv(g.relu(g.batchNorm(y)), k, 3, { bias: false });
      x = g.concat([x, y], 1);
    }
    if (b < blocks.length - 1) {
      x = g.conv(g.relu(g.batchNorm(x)), Math.floor(x.shape[1] / 2), 1, { pad: 0, bias: false });
      x = g.avgPool(x, 2, { stride: 2 });
    }
  });
  x = g.flatten(g.globalAvgPool(g.relu(g.batchNorm(x))));
  x = g.gemm(x, 10);
  g.output(x, 'logits');
  return g.build();
}

export interface VitOptions {
  /** Encoder blocks (real: 12). */
  layers?: number;
  /** Hidden size (real: 768; default 48). */
  dModel?: number;
  /** Attention heads (real: 12). */
  heads?: number;
  /** Square input (real: 224; default 64, so 4x4 patches of 16). */
  inputSize?: number;
}

/**
 * ViT-B/16: a 16x16/16 patch-embedding conv, flatten to tokens, a class token concatenated in
 * front, position embeddings added, 12 pre-norm encoder blocks (LayerNorm, multi-head
 * self-attention with Q/K/V projections, scaled scores, Softmax, output projection, residual Add;
 * LayerNorm, MLP with Gelu, residual Add), a final LayerNorm, the class token and a linear head.
 */
export function vitB16Like(opts: VitOptions = {}): ModelProto {
  const layers = opts.layers ?? 12;
  const d = opts.dModel ?? 48;
  const heads = opts.heads ?? 12;
  const dh = d / heads;
  const size = opts.inputSize ?? 64;
  const patches = (size / 16) ** 2;
  const seq = patches + 1;
  const g = new GraphBuilder('vit_b_16', 12);
  const input = g.input('input', [1, 3, size, size]);
  const tokens = g.transpose(g.reshape(g.conv(input, d, 16, { stride: 16, pad: 0 }), [1, d, patches]), [0, 2, 1]);
  const cls = g.floatInit('class_token', [1, 1, d], g.rng.floats(d, -0.02, 0.02));
  let x = g.concat([cls, tokens], 1);
  x = g.add(x, g.floatInit('pos_embedding', [1, seq, d], g.rng.floats(seq * d, -0.02, 0.02)));
  const heads4 = (v: Value, perm: number[]) => g.transpose(g.reshape(v, [1, seq, heads, dh]), perm);
  for (let i = 0; i < layers; i++) {
    const h = g.layerNorm(x);
    const q = heads4(g.linear(h, d), [0, 2, 1, 3]);
    const kT = heads4(g.linear(h, d), [0, 2, 3, 1]);
    const v = heads4(g.linear(h, d), [0, 2, 1, 3]);
    const probs = g.softmax(g.div(g.matmul(q, kT), Math.sqrt(dh)), -1);
    const ctx = g.reshape(g.transpose(g.matmul(probs, v), [0, 2, 1, 3]), [1, seq, d]);
    x = g.add(x, g.linear(ctx, d));
    const mlp = g.linear(g.geluErf(g.linear(g.layerNorm(x), 4 * d, { gain: Math.SQRT2 })), d);
    x = g.add(x, mlp);
  }
  x = g.layerNorm(x);
  const first = g.gather(x, g.int64Init('class_index', [], [0]), 1);
  g.output(g.linear(first, 10), 'logits');
  return g.build();
}
