// fake-quantise every Conv/MatMul/ConvTranspose weight (weights only, activations float), report logit relL2
import { readFileSync, writeFileSync } from 'node:fs';
const root = '/work/wt-quant3/dist';
const { modelFromBytes } = await import(`${root}/src/onnx/model.js`);
const { encodeModel } = await import(`${root}/src/onnx/codec.js`);
const { quantiseWeight, dequantiseWeight } = await import(`${root}/src/quant/weights.js`);
const { floatValues, tensorDims } = await import(`${root}/src/quant/tensor-values.js`);
const [file, out, ops, axisMode] = process.argv.slice(2);
const m = modelFromBytes(readFileSync(file), { file });
const t = new Map(); m.proto.graph.node.forEach((x) => { if (x.opType === 'Constant') t.set(x.output[0], x.attribute[0].t); });
let k = 0;
for (const n of m.proto.graph.node) {
  if (!ops.split(',').includes(n.opType) || !t.has(n.input[1])) continue;
  const wt = t.get(n.input[1]); const dims = tensorDims(wt); const v = floatValues(m, wt);
  const axis = n.opType === 'Conv' ? 0 : 1;
  const q = quantiseWeight(v, dims, { type: 'int8', ...(axisMode === 'tensor' ? {} : { axis }) });
  const dq = dequantiseWeight(q); wt.rawData = new Uint8Array(dq.buffer); wt.floatData = []; k++;
}
writeFileSync(out, encodeModel(m.proto)); console.log('fake-quantised', k);
