/**
 * print_model: what the model is, without running it.
 */
import { UsageError } from '../../errors.js';
import { modelFacts } from '../../report/model-facts.js';
import { humanBytes, humanCount, table } from '../format.js';

export async function printModel(args: { onnx_file?: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  if (!args.onnx_file) throw new UsageError('missing --onnx_file');
  const info = await modelFacts(args.onnx_file);
  const params = info.parameters;
  if (args.json) {
    out(JSON.stringify(info, null, 2));
    return;
  }
  out(`${info.file}: ${humanBytes(info.size_bytes)}, IR ${info.ir_version}, opset ${info.opset_import.map((o) => `${o.domain} ${o.version}`).join(', ')}${info.producer ? `, produced by ${info.producer}` : ''}`);
  out(`graph '${info.graph}': ${info.nodes} nodes (${info.data_nodes} on the data path, ${info.constant_nodes} constant), ${info.initializers} initializers, ${humanCount(params)} parameters${info.functions ? `, ${info.functions} local functions` : ''}`);
  out('');
  out(table(['input', 'type'], info.inputs.map((i) => [i.name, i.type])));
  out('');
  out(table(['output', 'type'], info.outputs.map((o) => [o.name, o.type])));
  out('');
  out(table(['op_type', '>count'], Object.entries(info.op_types)));
}
