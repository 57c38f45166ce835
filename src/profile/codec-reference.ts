/**
 * What a split point should give when its cut tensors cross through a lossy codec: the parts
 * run here, in order, with every cut tensor encoded and decoded on the way, as the cycle does.
 * `run --verify` compares a split run with a lossy --tensor_codec against this, since the full
 * model's outputs are not what such a run is meant to reproduce bit for bit.
 */
import type { HostTensor } from '../runtime/session.js';
import { runChain } from '../runtime/chain.js';
import type { SplitPoint } from '../split/points.js';
import { buildPointParts } from '../split/split.js';
import { decodeTensors, encodeTensors } from '../tensor/codecs/tensors.js';
import type { SweepContext } from './sweep.js';

/** The model outputs of `point`'s parts chained here with the cut tensors through `codec`. */
export async function codecReference(ctx: Pick<SweepContext, 'analysis' | 'createSession' | 'sessionOptions' | 'provider' | 'feeds'>, point: SplitPoint, codec: string): Promise<Map<string, HostTensor>> {
  const parts = buildPointParts(ctx.analysis, point).sort((x, y) => x.plan.number - y.plan.number);
  const sessions = [];
  try {
    for (const p of parts) sessions.push(await ctx.createSession(p.part.model.concat(), { ...ctx.sessionOptions, executionProviders: [ctx.provider] }));
    const [first, ...rest] = sessions;
    const edgeFirst = parts[0]?.plan.number === 1;
    let tensors = new Map<string, HostTensor>(Object.entries(ctx.feeds));
    if (edgeFirst && first) tensors = (await runChain([first], tensors)).tensors;
    const cut = new Map([...tensors].filter(([name]) => point.cutTensors.some((t) => t.name === name)));
    const sent = await encodeTensors(cut, codec);
    for (const [name, t] of await decodeTensors(sent)) tensors.set(name, t);
    const all = (await runChain(edgeFirst ? rest : sessions, tensors)).tensors;
    return new Map(ctx.analysis.index.outputs.map((name) => [name, all.get(name)!] as const));
  } finally {
    for (const s of sessions) await s.release();
  }
}
