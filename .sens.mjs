import { readFileSync } from 'node:fs';
const root = '/work/wt-quant3/dist';
const { modelFromBytes } = await import(`${root}/src/onnx/model.js`);
const { encodeModel } = await import(`${root}/src/onnx/codec.js`);
const { quantiseWeight, dequantiseWeight } = await import(`${root}/src/quant/weights.js`);
const { floatValues, tensorDims } = await import(`${root}/src/quant/tensor-values.js`);
const { imageFolderToTensor, NORMALISATION_PRESETS } = await import(`${root}/src/tensor/images.js`);
const { createSession } = await import(`${root}/src/runtime/ort.js`);
const [file, dir, norm, h, w, limit] = process.argv.slice(2);
const bytes = readFileSync(file);
const batch = await imageFolderToTensor(dir, { layout: 'NCHW', channels: 3, height: +h, width: +w, dtype: 'float32', limit: +(limit ?? 100) }, NORMALISATION_PRESETS[norm]);
function withLogits(b) { const m = modelFromBytes(b, { file }); const last = m.proto.graph.node.filter(n => ['Sigmoid','Softmax'].includes(n.opType)).at(-1); m.proto.graph.output = [{ name: last.input[0] }]; return encodeModel(m.proto); }
async function run(b) { const s = await createSession(withLogits(b), { intraOpNumThreads: 1 }); const o = await s.run({ x: batch }); await s.release(); return o[s.outputNames[0]].data; }
const ref = await run(bytes);
const rel = (a) => { let d=0,r=0; for (let i=0;i<a.length;i++){ d+=(a[i]-ref[i])**2; r+=ref[i]**2;} return Math.sqrt(d/r); };
const base = modelFromBytes(bytes, { file });
const consts = new Map();
base.proto.graph.node.forEach((n) => { if (n.opType === 'Constant') consts.set(n.output[0], n.attribute[0].t); });
const targets = base.proto.graph.node.filter(n => ['Conv','MatMul','Gemm','ConvTranspose'].includes(n.opType) && consts.has(n.input[1]));
const rows = [];
const only = process.env.ONLY;
for (const n of targets) {
  const m = modelFromBytes(bytes, { file });
  const t = new Map(); m.proto.graph.node.forEach((x) => { if (x.opType === 'Constant') t.set(x.output[0], x.attribute[0].t); });
  const wt = t.get(n.input[1]);
  const dims = tensorDims(wt);
  const v = floatValues(m, wt);
  const axis = n.opType === 'Conv' ? 0 : n.opType === 'ConvTranspose' ? 1 : 1;
  const q = quantiseWeight(v, dims, { type: 'int8', axis, ...(n.opType === 'Conv' ? { balancedRuns: dims.slice(2).reduce((a,b)=>a*b,1) } : {}) });
  const dq = dequantiseWeight(q);
  let e=0, r=0; for (let i=0;i<v.length;i++){ e+=(v[i]-dq[i])**2; r+=v[i]**2; }
  wt.rawData = new Uint8Array(dq.buffer); wt.floatData = [];
  const out = await run(encodeModel(m.proto));
  const grp = (n.attribute??[]).find(a=>a.name==='group');
  rows.push({ node: n.name, op: n.opType, dims: dims.join('x'), group: grp ? Number(grp.i) : 1, wErr: Math.sqrt(e/r), outErr: rel(out) });
}
rows.sort((a,b)=>b.outErr-a.outErr);
for (const r of rows.slice(0, +(process.env.TOP ?? 15))) console.log(r.node.padEnd(18), r.op.padEnd(13), r.dims.padEnd(14), String(r.group).padEnd(4), (r.wErr*100).toFixed(2)+'%', (r.outErr*100).toFixed(2)+'%');
