import { readFileSync } from 'node:fs';
const root = '/work/wt-quant3/dist';
const { modelFromBytes } = await import(`${root}/src/onnx/model.js`);
const { floatValues } = await import(`${root}/src/quant/tensor-values.js`);
const m = modelFromBytes(readFileSync(process.argv[2]), { file: 'x' });
const n = m.proto.graph.node.find(n => n.name === process.argv[3]);
const t = m.proto.graph.node.find(c => c.opType === 'Constant' && c.output[0] === n.input[1]).attribute[0].t;
const v = floatValues(m, t); const dims = t.dims.map(Number); const C = dims[0], per = v.length / C;
const ratios = [];
for (let c = 0; c < C; c++) { let mx = 0, ss = 0, mn=Infinity, mxs=-Infinity; const arr=[]; for (let i = c*per; i < (c+1)*per; i++) { mx = Math.max(mx, Math.abs(v[i])); ss += v[i]**2; arr.push(Math.abs(v[i])); mn=Math.min(mn,v[i]); mxs=Math.max(mxs,v[i]); } arr.sort((a,b)=>b-a); ratios.push({ c, r: mx / Math.sqrt(ss/per), top: arr.slice(0,4).map(x=>x.toPrecision(2)).join(' '), skew: (mxs+mn)/(mxs-mn) }); }
ratios.sort((a,b)=>b.r-a.r);
for (const r of ratios.slice(0, 8)) console.log(r.c, r.r.toFixed(1), r.top, r.skew.toFixed(2));
console.log('median ratio', ratios[ratios.length>>1].r.toFixed(1));
