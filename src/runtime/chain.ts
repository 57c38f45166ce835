/**
 * Runs parts in order, each fed by name from the model inputs and earlier parts' outputs.
 */
import { RuntimeError } from './ort.js';
import type { HostTensor, Session } from './session.js';

/** Runs the sessions in order; returns every tensor produced (model inputs included). */
export async function runChain(sessions: readonly Session[], inputs: Readonly<Record<string, HostTensor>>): Promise<Map<string, HostTensor>> {
  const pool = new Map<string, HostTensor>(Object.entries(inputs));
  for (const [i, s] of sessions.entries()) {
    const feeds: Record<string, HostTensor> = {};
    for (const name of s.inputNames) {
      const t = pool.get(name);
      if (!t) throw new RuntimeError(`part ${i + 1} needs tensor '${name}', which neither the inputs nor an earlier part provide`);
      feeds[name] = t;
    }
    const out = await s.run(feeds);
    for (const [name, t] of Object.entries(out)) pool.set(name, t);
  }
  return pool;
}
