/** Every cut tensor of a zoo model, as its edge parts compute them (codec tests and bench/codec-bench). */
import { runChain } from '../../src/runtime/chain.js';
import type { HostTensor } from '../../src/runtime/session.js';
import { buildPointParts } from '../../src/split/split.js';
import { analyze, feedsFor, partSession, zooSubject } from '../helpers.js';
import { fullSizeZoo, zoo } from '../models/zoo.js';

/** `<split index>:<tensor name>` -> the tensor, for every split point of zoo model `name` (optionally every `every`-th). */
export async function cutTensors(name: string, every = 1): Promise<Map<string, HostTensor>> {
  const a = await analyze(zooSubject([...zoo, ...fullSizeZoo].find((z) => z.name === name)!));
  const feeds = feedsFor(a);
  const out = new Map<string, HostTensor>();
  for (const point of a.splitPoints.filter((_, i) => i % every === 0)) {
    const edge = buildPointParts(a, point).find((p) => p.plan.number === 1);
    let tensors = new Map(Object.entries(feeds));
    if (edge) {
      const s = await partSession(edge);
      tensors = (await runChain([s], feeds)).tensors;
      await s.release();
    }
    for (const t of point.cutTensors) if (tensors.has(t.name)) out.set(`${point.index}:${t.name}`, tensors.get(t.name)!);
  }
  return out;
}
