import { readFileSync } from 'node:fs';
const root = '/work/wt-quant3/dist';
const { modelFromBytes } = await import(`${root}/src/onnx/model.js`);
const { floatValues } = await import(`${root}/src/quant/tensor-values.js`);
const m = modelFromBytes(readFileSync(process.argv[2]), { file: 'x' });
const n = m.proto.graph.node.find(n => n.name === process.argv[3]);
const t = m.proto.graph.node.find(c => c.opType === 'Constant' && c.output[0] === n.input[1]).attribute[0].t;
const v = floatValues(m, t); const dims = t.dims.map(Number); const per = v.length / dims[0];
for (let c = 0; c < Math.min(dims[0], +(process.argv[4] ?? 16)); c++) console.log(c, Array.from(v.subarray(c*per, c*per+Math.min(per, 9))).map(x=>x.toPrecision(3)).join(' '));
