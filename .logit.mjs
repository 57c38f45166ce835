import { readFileSync } from 'node:fs';
const root = '/work/wt-quant3/dist';
const { modelFromBytes } = await import(`${root}/src/onnx/model.js`);
const { encodeModel } = await import(`${root}/src/onnx/codec.js`);
const { imageFolderToTensor, NORMALISATION_PRESETS } = await import(`${root}/src/tensor/images.js`);
const { createSession } = await import(`${root}/src/runtime/ort.js`);
const [f1, f2, dir, norm, h, w, lim] = process.argv.slice(2);
const batch = await imageFolderToTensor(dir, { layout: 'NCHW', channels: 3, height: +h, width: +w, dtype: 'float32', limit: +lim }, NORMALISATION_PRESETS[norm]);
const res = [];
for (const f of [f1, f2]) {
  const m = modelFromBytes(readFileSync(f), { file: f });
  const g = m.proto.graph;
  const last = g.node.filter(n => ['Sigmoid','Softmax'].includes(n.opType)).at(-1);
  g.output.push({ name: last.input[0] });
  const s = await createSession(encodeModel(m.proto)); const o = await s.run({ x: batch }); res.push(o[last.input[0]].data); await s.release();
  console.log(f, last.opType, last.input[0]);
}
const [a, b] = res; let d=0,r=0,mx=0; for (let i=0;i<a.length;i++){ d+=(a[i]-b[i])**2; r+=a[i]**2; mx=Math.max(mx,Math.abs(a[i]-b[i])); }
console.log('logit relL2', Math.sqrt(d/r), 'maxabs', mx);
