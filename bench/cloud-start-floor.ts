/**
 * The limit cloud-start-bench measures onnx-cloud against: a script that does only what onnxruntime
 * needs for the same job. `node dist/bench/cloud-start-floor.js part.onnx input 1,1,28,28 out.bin`
 * loads onnxruntime-node (with require, its cheapest way, and its telemetry off as onnx-cloud has
 * it), reads the part, creates its session, runs it once on zeros and writes the first output's
 * bytes. No payload, no checks, no messages.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

process.env.ORT_DISABLE_TELEMETRY ??= '1';
const [part, input, dims, out] = process.argv.slice(2) as [string, string, string, string];
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
const shape = dims.split(',').map(Number);
const session = await ort.InferenceSession.create(readFileSync(part));
const result = await session.run({ [input]: new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape) });
const first = result[session.outputNames[0]!]!.data as Float32Array;
writeFileSync(out, new Uint8Array(first.buffer, first.byteOffset, first.byteLength));
