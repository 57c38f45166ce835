/**
 * data_processing: images to a payload file holding the model's input tensor, laid out and
 * normalised as the model wants it.
 */
import { UsageError } from '../../errors.js';
import { checkOutputFile, refuseOutputOverInput } from '../../files.js';
import { indexGraph } from '../../onnx/graph.js';
import { loadModel } from '../../onnx/model.js';
import { OutputTransaction } from '../../split/output.js';
import { hostTensorBytes } from '../../tensor/host.js';
import { listImageFiles } from '../../tensor/images.js';
import { encodePayload } from '../../tensor/payload/index.js';
import { humanBytes } from '../format.js';
import { inputsFromArgs, type InputArgs } from '../inputs.js';
import * as path from 'node:path';

export async function dataProcessing(args: InputArgs & { onnx_file?: string; output_file?: string }, out: (s: string) => void): Promise<void> {
  if (!args.onnx_file) throw new UsageError('data_processing needs --onnx_file (the model whose input layout to produce)');
  if (!args.image_file && !args.image_batch) throw new UsageError('data_processing needs --image_file or --image_batch');
  if (args.output_file) checkOutputFile(args.output_file, 'output_file');
  const file = args.output_file ?? `${path.basename(args.image_file ?? args.image_batch ?? 'input').replace(/\.[^.]+$/, '')}.pb`;
  const batch = args.image_batch !== undefined ? await listImageFiles(args.image_batch).catch(() => [] as string[]) : [];
  refuseOutputOverInput(file, 'output_file', 'data_processing', [
    ['the model (--onnx_file)', args.onnx_file],
    ['the image (--image_file)', args.image_file],
    ...batch.map((f) => [`an image of --image_batch ${args.image_batch}`, f] as const),
  ]);
  const model = await loadModel(args.onnx_file);
  indexGraph(model.proto.graph!, model.label);
  // The payload is for run and run_all, which take exactly a fixed batch's count of pictures.
  const feeds = (await inputsFromArgs(model, args, { fixedBatch: true }))!;
  const chunks = encodePayload({ kind: 'input', runId: '', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map(Object.entries(feeds)) });
  await OutputTransaction.run(path.dirname(path.resolve(file)), (tx) => tx.write(path.basename(file), chunks));
  for (const [name, t] of Object.entries(feeds)) out(`${name}: ${t.type}[${t.dims.join(', ')}], ${humanBytes(hostTensorBytes(t))}`);
  out(`wrote ${file} (${chunks.byteLength} bytes)`);
}
