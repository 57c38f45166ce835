// Runs an ONNX model once on onnxruntime-node (the runtime onnx-manager uses) for the export
// notebook, where Python's onnxruntime may be missing:
//
//   node notebooks/ort_run.mjs model.onnx inputs.json outputs.json
//
// inputs.json: {"<input name>": {"dims": [1, 3, 64, 64], "data": [ ...float32 values ]}, ...};
// outputs.json gets every graph output in the same form. Inputs the model does not read are left
// out, so the outputs of one part can be offered whole to the next.
import { readFile, writeFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';

const [model, inputsFile, outputsFile] = process.argv.slice(2);
if (!model || !inputsFile || !outputsFile) {
  console.error('usage: node notebooks/ort_run.mjs model.onnx inputs.json outputs.json');
  process.exit(2);
}
const given = JSON.parse(await readFile(inputsFile, 'utf8'));
const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
const feeds = {};
for (const name of session.inputNames) {
  const t = given[name];
  if (!t) {
    console.error(`ort_run: ${inputsFile} has no input '${name}' that ${model} reads`);
    process.exit(1);
  }
  feeds[name] = new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
}
const results = await session.run(feeds);
const out = {};
for (const [name, t] of Object.entries(results)) out[name] = { dims: [...t.dims], data: Array.from(t.data, Number) };
await writeFile(outputsFile, JSON.stringify(out));
await session.release();
