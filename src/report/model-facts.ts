/**
 * What print_model tells of a model, without running it: versions, inputs, outputs, node and
 * parameter counts, operator histogram.
 */
import { dtypeFromOnnx, elementCount } from '../onnx/dtypes.js';
import { indexGraph } from '../onnx/graph.js';
import { loadModel } from '../onnx/model.js';
import { toNumber, type ValueInfoProto } from '../onnx/types.js';
import { constantElements } from '../split/costs.js';

function typeText(v: ValueInfoProto): string {
  const tt = v.type?.tensorType;
  if (!tt) return v.type ? 'non-tensor' : 'unknown';
  let dtype: string;
  try {
    dtype = dtypeFromOnnx(tt.elemType ?? 0).name;
  } catch {
    dtype = `type ${tt.elemType}`;
  }
  const dims = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? String(toNumber(d.dimValue)) : '?'));
  return `${dtype}[${dims.join(', ')}]`;
}

export async function modelFacts(file: string) {
  const model = await loadModel(file);
  const p = model.proto;
  const g = p.graph!;
  const index = indexGraph(g, model.label);
  const histogram = new Map<string, number>();
  for (const n of g.node ?? []) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '');
    histogram.set(key, (histogram.get(key) ?? 0) + 1);
  }
  let params = 0;
  for (const t of g.initializer ?? []) params += elementCount((t.dims ?? []).map(toNumber));
  for (const n of g.node ?? []) if (n.opType === 'Constant') params += constantElements(n);
  const inputs = (g.input ?? []).filter((v) => index.inputs.includes(v.name ?? ''));
  const info = {
    file: model.label,
    size_bytes: model.bytes.length,
    ir_version: toNumber(p.irVersion),
    opset_import: (p.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: toNumber(o.version) })),
    producer: [p.producerName, p.producerVersion].filter(Boolean).join(' '),
    graph: g.name ?? '',
    inputs: inputs.map((v) => ({ name: v.name ?? '', type: typeText(v) })),
    outputs: (g.output ?? []).map((v) => ({ name: v.name ?? '', type: typeText(v) })),
    nodes: g.node?.length ?? 0,
    data_nodes: index.dataNodes.length,
    constant_nodes: (g.node?.length ?? 0) - index.dataNodes.length,
    initializers: g.initializer?.length ?? 0,
    parameters: params,
    functions: p.functions?.length ?? 0,
    op_types: Object.fromEntries([...histogram].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
  };
  return info;
}

export type ModelFacts = Awaited<ReturnType<typeof modelFacts>>;

