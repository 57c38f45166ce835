/**
 * One mutated model through what users run on a model file: list_layers, split_model_all and
 * onnx-cloud (the model as the cloud part, on a payload of the original model's inputs), each as
 * the command line's own main() in this process. A failure must be one line; a success must be
 * true: onnxruntime runs the model, and the parts chained (two split points, seeded) and
 * onnx-cloud's result equal onnxruntime's outputs. A failed command leaves no file behind.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../src/split/manifest.js';
import { createSession } from '../src/runtime/ort.js';
import { runChain } from '../src/runtime/chain.js';
import type { HostTensor } from '../src/runtime/session.js';
import { randomTensor } from '../src/tensor/host.js';
import { decodePayload, encodePayload } from '../src/tensor/payload/index.js';
import { zoo } from '../test/models/zoo.js';
import { inProcess, type Exec } from './exec.js';
import { mutatedModel } from './model-mutations.js';
import { judgeFailure, itemResult, type Finding, type ItemResult, type Mishandling } from './outcome.js';
import { declaredInputs, referenceRun, sameOutputs } from './reference.js';
import { Rng } from './rng.js';

export function originalFeeds(base: string): Record<string, HostTensor> {
  const z = zoo.find((m) => m.name === base)!;
  return Object.fromEntries(z.inputs.map((s, i) => [s.name, randomTensor(s.dtype ?? 'float32', s.dims, 31 + i)]));
}

export async function checkModel(seed: number, i: number, work: string, exec: Exec = inProcess): Promise<ItemResult> {
  const m = mutatedModel(seed, i);
  const res = itemResult();
  const input = `models #${i}`;
  const found = (operation: string, kind: Mishandling, detail: string) => res.findings.push({ input, what: `${m.base}: ${m.what}`, operation, kind, detail } satisfies Finding);
  const dir = join(work, `m${i}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.onnx');
  writeFileSync(file, m.bytes);
  const z = zoo.find((x) => x.name === m.base)!;
  const declared = declaredInputs(m.bytes, z.inputs);
  const ref = typeof declared === 'string' ? ({ ok: false, why: declared } as const) : await referenceRun(m.bytes, declared);

  // list_layers
  res.operations++;
  const ll = await exec('onnx-manager', ['list_layers', '--onnx_file', file, '--json']);
  const llBad = judgeFailure(ll);
  if (llBad) found('list_layers', llBad.kind, llBad.detail);
  else if (ll.code !== 0) res.refused++;
  else {
    res.accepted++;
    const nonsense = listNonsense(ll.out.join('\n'));
    if (nonsense) found('list_layers', 'exit 0 with nonsense', nonsense);
    else if (!ref.ok) found('list_layers', 'exit 0 with nonsense', `listed split points of a model onnxruntime refuses (${ref.why})`);
  }

  // split_model_all
  res.operations++;
  const parts = join(dir, 'parts');
  const sm = await exec('onnx-manager', ['split_model_all', '--onnx_file', file, '--onnx_path', parts]);
  const smBad = judgeFailure(sm);
  if (smBad) found('split_model_all', smBad.kind, smBad.detail);
  else if (sm.code !== 0) {
    res.refused++;
    if (existsSync(parts) && readdirSync(parts).length > 0) found('split_model_all', 'partial output', `failed (${sm.err[0]}) and left ${readdirSync(parts).join(', ')} in --onnx_path`);
  } else {
    res.accepted++;
    if (!ref.ok) found('split_model_all', 'exit 0 with nonsense', `wrote parts of a model onnxruntime refuses (${ref.why})`);
    else {
      const wrong = await partsWrong(parts, declared as Record<string, HostTensor>, ref.outputs, new Rng(seed ^ i));
      if (wrong) found('split_model_all', 'exit 0 with nonsense', wrong);
    }
  }

  // onnx-cloud: the model as the cloud part of a payload of the original inputs.
  res.operations++;
  const feeds = originalFeeds(m.base);
  const payload = join(dir, 'in.pb');
  writeFileSync(payload, encodePayload({ kind: 'input', runId: 'faults', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map(Object.entries(feeds)) }).concat());
  const result = join(dir, 'out.pb');
  const oc = await exec('onnx-cloud', ['--onnx_file', file, '--input_file', payload, '--save_results', result, '--graph_opt', 'disabled']);
  const ocBad = judgeFailure(oc);
  if (ocBad) found('onnx-cloud', ocBad.kind, ocBad.detail);
  else if (oc.code !== 0) {
    res.refused++;
    if (existsSync(result)) found('onnx-cloud', 'partial output', `failed (${oc.err[0]}) and left ${result}`);
  } else {
    res.accepted++;
    const cloudRef = await referenceRun(m.bytes, feeds);
    if (!cloudRef.ok) found('onnx-cloud', 'exit 0 with nonsense', `exit 0 on a model onnxruntime does not run on these inputs (${cloudRef.why})`);
    else {
      try {
        const wrong = sameOutputs(decodePayload(readFileSync(result)).tensors, cloudRef.outputs);
        if (wrong) found('onnx-cloud', 'exit 0 with nonsense', wrong);
      } catch (err) {
        found('onnx-cloud', 'exit 0 with nonsense', `the result does not decode: ${(err as Error).message}`);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return res;
}

/** What is wrong with list_layers' JSON, or undefined. */
function listNonsense(text: string): string | undefined {
  let j: { split_points?: { index: number; transfer_bytes: number }[] };
  try {
    j = JSON.parse(text);
  } catch {
    return 'the JSON output does not parse';
  }
  const pts = j.split_points;
  if (!Array.isArray(pts) || pts.length === 0) return 'no split points listed';
  for (const p of pts) {
    if (!Number.isSafeInteger(p.transfer_bytes) || p.transfer_bytes < 0) return `split point ${p.index} moves ${p.transfer_bytes} bytes`;
  }
  return undefined;
}

/** Chains the parts of two seeded split points of split_model_all's output; what differs from onnxruntime's full run, or undefined. */
async function partsWrong(dir: string, feeds: Record<string, HostTensor>, want: Record<string, HostTensor>, rng: Rng): Promise<string | undefined> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (err) {
    return `no readable manifest.json (${(err as Error).message})`;
  }
  if (!manifest.splits?.length) return 'manifest.json lists no splits';
  const chosen = new Set([rng.pick(manifest.splits), rng.pick(manifest.splits)]);
  for (const s of chosen) {
    const sessions = [];
    try {
      for (const p of s.parts) sessions.push(await createSession(readFileSync(join(dir, p)), { graphOptimizationLevel: 'disabled' }));
      const run = await runChain(sessions, feeds);
      const wrong = sameOutputs(run.tensors, want);
      if (wrong) return `split ${s.index}: ${wrong}`;
    } catch (err) {
      return `split ${s.index}: its parts do not run: ${String((err as Error).message).split('\n')[0]}`;
    } finally {
      for (const x of sessions) await x.release();
    }
  }
  return undefined;
}
