/**
 * The values of every split point's cut tensors on given inputs: the model's nodes up to the
 * last producer of a group of cut tensors run in onnxruntime with those tensors exposed as
 * outputs, a group of about `budget` bytes at a time, so only one group is alive at once.
 */
import type { HostTensor, Session, SessionOptions } from '../runtime/session.js';
import type { ModelAnalysis } from '../split/analysis.js';
import { assemblePart } from '../split/assemble.js';
import { readSegments } from '../split/external-data.js';
import type { SplitPoint } from '../split/points.js';

export type CreateSession = (model: Uint8Array, options: SessionOptions) => Promise<Session>;

/**
 * Calls `onGroup` with consecutive split points and the values of all their cut tensors (model
 * inputs from `feeds`). `budget` bounds the bytes of one group's tensors (one split point's at least).
 */
export async function forEachCutGroup(
  a: ModelAnalysis,
  feeds: Readonly<Record<string, HostTensor>>,
  create: CreateSession,
  options: SessionOptions,
  onGroup: (points: readonly SplitPoint[], values: ReadonlyMap<string, HostTensor>) => Promise<void> | void,
  budget = 64 * 2 ** 20,
): Promise<void> {
  const { index } = a;
  const points = a.splitPoints.filter((p) => p.cutTensors.length > 0 && p.position < index.dataNodes.length);
  for (let i = 0; i < points.length; ) {
    const group: SplitPoint[] = [];
    const names = new Set<string>();
    let bytes = 0;
    do {
      const p = points[i++]!;
      group.push(p);
      for (const t of p.cutTensors) {
        if (names.has(t.name) || index.inputs.includes(t.name)) continue;
        names.add(t.name);
        bytes += t.bytes;
      }
    } while (i < points.length && bytes + points[i]!.transferBytes <= budget);
    const values = new Map<string, HostTensor>();
    for (const n of index.inputs) if (feeds[n]) values.set(n, feeds[n]!);
    if (names.size > 0) {
      const outputs = [...names];
      const last = Math.max(...outputs.map((t) => index.position[index.producer.get(t)!]!));
      const part = assemblePart(a.model, index, { name: 'cut_values', nodes: index.order.slice(0, last + 1), inputs: index.inputs, outputs }, { shapes: a.shapes });
      const o: SessionOptions = { ...options };
      if (part.external) o.externalData = [{ path: part.external.location, data: await readSegments(part.external) }];
      const session = await create(part.model.concat(), o);
      try {
        const results = await session.run(Object.fromEntries(index.inputs.filter((n) => feeds[n]).map((n) => [n, feeds[n]!])));
        for (const n of outputs) if (results[n]) values.set(n, results[n]!);
      } finally {
        await session.release();
      }
    }
    await onGroup(group, values);
  }
}
