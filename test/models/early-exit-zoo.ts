/**
 * Test models with early exits: several outputs at different depths, each exit a small
 * classifier head (global average pool, flatten, Gemm) on the trunk.
 */
import type { ModelProto } from '../../src/onnx/types.js';
import { attrInt, GraphBuilder, type Value } from './builder.js';
import { basicBlock, type TensorSpec } from './zoo.js';

export interface EarlyExitModel {
  name: string;
  build: () => ModelProto;
  inputs: TensorSpec[];
  /** The model outputs, the shallowest first: the exits. */
  exits: string[];
}

function head(g: GraphBuilder, x: Value, name: string, opts: { constantWeights?: boolean } = {}): Value {
  return g.output(g.gemm(g.flatten(g.globalAvgPool(x)), 10, opts), name);
}

/**
 * A ResNet-style trunk (stem, then one basic block per stage, stages 2 and 3 downsampling with a
 * projection shortcut) with an exit after stage 1 (`exit1`), after stage 2 when `exits` is 3
 * (`exit2`), and the final classifier (`logits`).
 */
export function resnetEarlyExits(exits: 2 | 3): ModelProto {
  const g = new GraphBuilder(`resnet_${exits}_exits`, 11 + exits);
  let x = g.input('input', [1, 3, 32, 32]);
  x = g.relu(g.batchNorm(g.conv(x, 16, 3, { bias: false })));
  x = basicBlock(g, x, 16, 1);
  head(g, x, 'exit1');
  x = basicBlock(g, x, 32, 2);
  if (exits === 3) head(g, x, 'exit2', { constantWeights: true });
  x = basicBlock(g, x, 64, 2);
  head(g, x, 'logits');
  return g.build();
}

/**
 * Two branches joined by a Concat, an exit right after it (`exit_concat`), and a deeper exit
 * (`logits`) whose classifier reads the pooled Concat features (shared with the first exit's
 * head) concatenated with the pooled deeper features: the shared part feeds both heads, the
 * deeper exit's part reads two tensors of it.
 */
export function concatExits(): ModelProto {
  const g = new GraphBuilder('concat_exits', 21);
  const x = g.input('input', [1, 3, 16, 16]);
  const s = g.relu(g.conv(x, 8, 3));
  const c = g.concat([g.relu(g.conv(s, 8, 3)), g.relu(g.conv(s, 4, 1, { pad: 0 }))], 1); // [1,12,16,16]
  const pooled = g.flatten(g.globalAvgPool(c));
  g.output(g.gemm(pooled, 10), 'exit_concat');
  const d = g.relu(g.conv(c, 16, 3, { stride: 2 }));
  const joined = g.concat([pooled, g.flatten(g.globalAvgPool(d))], 1); // [1,28]
  g.output(g.gemm(joined, 10), 'logits');
  return g.build();
}

/**
 * One node with two outputs (a Split into two halves of the channels), each half the start of
 * its own exit (`left`, `right`): two exits whose last shared node gives both of them a tensor.
 */
export function splitExits(): ModelProto {
  const g = new GraphBuilder('split_exits', 23);
  const x = g.relu(g.conv(g.input('input', [1, 3, 16, 16]), 16, 3));
  const halves = g.node('Split', [x], [[1, 8, 16, 16], [1, 8, 16, 16]], { attrs: [attrInt('axis', 1)] });
  head(g, g.relu(g.conv(halves[0]!, 8, 3)), 'left');
  head(g, g.sigmoid(halves[1]!), 'right');
  return g.build();
}

const input = (dims: number[]): TensorSpec[] => [{ name: 'input', dims }];

export const earlyExitZoo: EarlyExitModel[] = [
  { name: 'resnet_2_exits', build: () => resnetEarlyExits(2), inputs: input([1, 3, 32, 32]), exits: ['exit1', 'logits'] },
  { name: 'resnet_3_exits', build: () => resnetEarlyExits(3), inputs: input([1, 3, 32, 32]), exits: ['exit1', 'exit2', 'logits'] },
  { name: 'concat_exits', build: concatExits, inputs: input([1, 3, 16, 16]), exits: ['exit_concat', 'logits'] },
  { name: 'split_exits', build: splitExits, inputs: input([1, 3, 16, 16]), exits: ['left', 'right'] },
];
