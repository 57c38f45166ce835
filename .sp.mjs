// fake-quant Conv weights with per-channel int8 and sum-preserving rounding over each kernel's spatial taps
import { readFileSync, writeFileSync } from 'node:fs';
const root = '/work/wt-quant3/dist';
const { modelFromBytes } = await import(`${root}/src/onnx/model.js`);
const { encodeModel } = await import(`${root}/src/onnx/codec.js`);
const { floatValues, tensorDims } = await import(`${root}/src/quant/tensor-values.js`);
const [file, out, mode, keep] = process.argv.slice(2);
const keepSet = new Set((keep ?? '').split(',').filter(Boolean));
const m = modelFromBytes(readFileSync(file), { file });
const t = new Map(); m.proto.graph.node.forEach((x) => { if (x.opType === 'Constant') t.set(x.output[0], x.attribute[0].t); });
let stats = { flips: 0, n: 0 };
for (const n of m.proto.graph.node) {
  if (n.opType !== 'Conv' || !t.has(n.input[1]) || keepSet.has(n.name)) continue;
  const wt = t.get(n.input[1]); const dims = tensorDims(wt); const v = floatValues(m, wt);
  const C = dims[0], per = v.length / C; let taps = dims.slice(2).reduce((a,b)=>a*b,1); if (mode === "all" || (mode === "sum1" && taps === 1)) taps = per;
  const dq = new Float32Array(v.length);
  for (let c = 0; c < C; c++) {
    let amax = 0; for (let i = c*per; i < (c+1)*per; i++) amax = Math.max(amax, Math.abs(v[i]));
    const s = amax > 0 ? Math.fround(amax / 127) : 1;
    for (let k = c*per; k < (c+1)*per; k += taps) {
      const r = [], q = [];
      for (let j = 0; j < taps; j++) { r.push(v[k+j]/s); q.push(Math.max(-127, Math.min(127, Math.round(v[k+j]/s)))); }
      if (mode !== "plain" && taps > 1) {
        let e = 0; for (let j = 0; j < taps; j++) e += q[j] - r[j];
        while (Math.abs(e) > 0.5) {
          const dir = e > 0 ? -1 : 1; let best = -1, bestCost = Infinity;
          for (let j = 0; j < taps; j++) { const nq = q[j] + dir; if (nq < -127 || nq > 127) continue; const cost = Math.abs(nq - r[j]) - Math.abs(q[j]-r[j]); if (cost < bestCost) { bestCost = cost; best = j; } }
          if (best < 0) break; q[best] += dir; e += dir; stats.flips++;
        }
      }
      for (let j = 0; j < taps; j++) dq[k+j] = q[j] * s; stats.n++;
    }
  }
  wt.rawData = new Uint8Array(dq.buffer); wt.floatData = [];
}
writeFileSync(out, encodeModel(m.proto)); console.log(mode, stats);
