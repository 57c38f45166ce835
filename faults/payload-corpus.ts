/**
 * One mutated payload through the cloud side as it runs: the cloud runner the workers and jobs
 * use (decode, then the parts the payload names, sessions kept warm across items), and onnx-cloud
 * by hand (its main() in this process, the parts given as files). A refusal must be a one-line
 * error of the tool's own; an accepted payload's result must equal onnxruntime running the same
 * parts on the tensors the payload carries. A failed onnx-cloud leaves no result file.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxManagerError, StoreError } from '../src/errors.js';
import { CloudRunner } from '../src/runner/cloud.js';
import { createSession } from '../src/runtime/ort.js';
import { runChain } from '../src/runtime/chain.js';
import type { HostTensor } from '../src/runtime/session.js';
import { decodeTensors } from '../src/tensor/codecs/index.js';
import { decodePayload, type Payload } from '../src/tensor/payload/index.js';
import { inProcess, type Exec } from './exec.js';
import { judgeFailure, itemResult, type ItemResult, type Mishandling } from './outcome.js';
import { mutatedPayload, payloadBases } from './payload-mutations.js';
import { sameOutputs } from './reference.js';

let runner: Promise<CloudRunner> | undefined;

/** One runner for the whole corpus, as a worker keeps one: what an item leaves behind is seen by the next. */
function sharedRunner(): Promise<CloudRunner> {
  runner ??= payloadBases().then((bases) => {
    const parts = new Map(bases.flatMap((b) => [...b.parts]));
    const source = {
      get: async (h: string) => {
        const b = parts.get(h);
        if (!b) throw new StoreError(`models/${h}.onnx: no such object`);
        return b;
      },
    };
    return new CloudRunner(source, createSession, { keepWarm: 8, session: { graphOptimizationLevel: 'disabled' } });
  });
  return runner;
}

/** onnxruntime on its own: the parts chained on what the payload carries, the outputs it asks for (else what the parts produced last). */
async function reference(p: Payload, partBytes: Uint8Array[]): Promise<Record<string, HostTensor> | string> {
  const sessions = [];
  try {
    for (const b of partBytes) sessions.push(await createSession(b, { graphOptimizationLevel: 'disabled' }));
    const run = await runChain(sessions, await decodeTensors(p));
    const names = p.outputs?.length ? p.outputs : [...run.produced.keys()];
    return Object.fromEntries(names.map((n) => [n, run.tensors.get(n)!]));
  } catch (err) {
    return `onnxruntime does not run the parts on it: ${String((err as Error).message).split('\n')[0]}`;
  } finally {
    for (const s of sessions) await s.release();
  }
}

export async function checkPayload(seed: number, i: number, work: string, exec: Exec = inProcess): Promise<ItemResult> {
  const m = await mutatedPayload(seed, i);
  const res = itemResult();
  const found = (operation: string, kind: Mishandling, detail: string) => res.findings.push({ input: `payloads #${i}`, what: `${m.base.label}: ${m.what}`, operation, kind, detail });
  const bases = await payloadBases();
  const allParts = new Map(bases.flatMap((b) => [...b.parts]));

  // The cloud runner, as a worker runs a job.
  res.operations++;
  try {
    const p = decodePayload(m.bytes, { file: `input/faults/${i}.pb` });
    const result = await (await sharedRunner()).process(p);
    res.accepted++;
    const known = p.nextModels.map((h) => allParts.get(h));
    const want = known.every((b) => b) ? await reference(p, known as Uint8Array[]) : 'names parts that do not exist';
    if (typeof want === 'string') found('cloud runner', 'exit 0 with nonsense', `ran a payload that ${want}`);
    else {
      const wrong = sameOutputs(result.tensors, want);
      if (wrong) found('cloud runner', 'exit 0 with nonsense', wrong);
    }
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    if (!(err instanceof OnnxManagerError)) found('cloud runner', 'crash', `${(err as Error)?.name ?? typeof err}: ${message.split('\n')[0]}`);
    else if (message.includes('\n')) found('cloud runner', 'unclear error', message.slice(0, 300));
    else res.refused++;
  }

  // onnx-cloud by hand, with the base's parts as files.
  res.operations++;
  const dir = join(work, `p${i}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'in.pb');
  writeFileSync(input, m.bytes);
  const files = m.base.order.map((h, k) => {
    const f = join(dir, `part${k + 2}.onnx`);
    writeFileSync(f, m.base.parts.get(h)!);
    return f;
  });
  const out = join(dir, 'out.pb');
  const oc = await exec('onnx-cloud', ['--onnx_file', ...files, '--input_file', input, '--save_results', out, '--graph_opt', 'disabled']);
  const bad = judgeFailure(oc);
  if (bad) found('onnx-cloud', bad.kind, bad.detail);
  else if (oc.code !== 0) {
    res.refused++;
    if (existsSync(out)) found('onnx-cloud', 'partial output', `failed (${oc.err[0]}) and left ${out}`);
  } else {
    res.accepted++;
    try {
      const p = decodePayload(m.bytes);
      const want = await reference(p, m.base.order.map((h) => m.base.parts.get(h)!));
      if (typeof want === 'string') found('onnx-cloud', 'exit 0 with nonsense', `exit 0 on a payload that ${want}`);
      else {
        const wrong = sameOutputs(decodePayload(readFileSync(out)).tensors, want);
        if (wrong) found('onnx-cloud', 'exit 0 with nonsense', wrong);
      }
    } catch (err) {
      found('onnx-cloud', 'exit 0 with nonsense', `exit 0 but: ${(err as Error).message}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return res;
}
