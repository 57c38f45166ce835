/**
 * runChain, the one way parts are run in order (tests of the split engine, the sweep's edge part,
 * onnx-edge and the cloud runner): tensors fed by name, what comes back, the time and the CPU
 * time of each part, the error naming a missing tensor, and parts loaded one at a time. Real
 * onnxruntime sessions on the input_reuse model cut twice, so that the last part reads the model
 * input directly.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { GraphError } from '../../src/errors.js';
import { CloudRunError, CloudRunner } from '../../src/runner/cloud.js';
import { runChain } from '../../src/runtime/chain.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor, Session } from '../../src/runtime/session.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { buildParts, type BuiltPart } from '../../src/split/split.js';
import { analyze, assertSameTensor, feedsFor, partSession, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';

const cpuMsOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

let a: ModelAnalysis;
let parts: BuiltPart[];
let feeds: Record<string, HostTensor>;
let expected: Record<string, HostTensor>;
/** A tensor the third part reads straight from what the first part hands on (the second part neither reads nor makes it). */
let passedOver: string;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function sessionsOf(ps: readonly BuiltPart[]): Promise<Session[]> {
  return Promise.all(ps.map((p) => partSession(p)));
}

async function releaseAll(sessions: readonly Session[]): Promise<void> {
  for (const s of sessions) await s.release();
}

before(async () => {
  a = await analyze(zooSubject(zoo.find((z) => z.name === 'input_reuse')!));
  feeds = feedsFor(a, 3);
  const full = await createSession(a.model.bytes, { graphOptimizationLevel: 'disabled' });
  expected = await full.run(feeds);
  await full.release();
  const interior = a.splitPoints.filter((p) => p.position > 0 && p.position < a.index.dataNodes.length);
  for (const [i, p] of interior.entries()) {
    for (const q of interior.slice(i + 1)) {
      const built = buildParts(a, [p.position, q.position]);
      const [, second, third] = built.map((b) => b.plan);
      const over = third!.inputs.find((t) => !second!.inputs.includes(t) && !second!.outputs.includes(t));
      if (built.length === 3 && over) {
        parts = built;
        passedOver = over;
        return;
      }
    }
  }
  assert.fail('input_reuse has two cuts whose last part reads a tensor the middle part does not touch');
});

describe('runChain', () => {
  it('feeds each part by name and returns every tensor, what no later part read, and each part time', async () => {
    const sessions = await sessionsOf(parts);
    try {
      const run = await runChain(sessions, feeds);
      for (const name of a.index.outputs) assertSameTensor(run.tensors.get(name), expected[name]!, name);
      for (const [name, t] of Object.entries(feeds)) assert.equal(run.tensors.get(name), t, `model input ${name} kept as given`);
      for (const p of parts) for (const o of p.plan.outputs) assert.ok(run.tensors.has(o), `${p.file} output ${o}`);
      const readLater = (i: number, name: string) => parts.slice(i + 1).some((q) => q.plan.inputs.includes(name));
      const unread = parts.flatMap((p, i) => p.plan.outputs.filter((o) => !readLater(i, o)));
      assert.deepEqual([...run.produced.keys()].sort(), unread.sort());
      assert.deepEqual([...run.produced.keys()].sort(), [...a.index.outputs].sort(), 'here, the model outputs');
      assert.equal(run.partMs.length, parts.length);
      for (const ms of run.partMs) assert.ok(Number.isFinite(ms) && ms >= 0, `part time ${ms}`);
      assert.equal(run.partCpuMs.length, parts.length);
      for (const ms of run.partCpuMs) assert.ok(Number.isFinite(ms) && ms > 0, `part CPU time ${ms}: onnxruntime computed`);
    } finally {
      await releaseAll(sessions);
    }
  });

  it("each part's CPU time is this process's CPU during its run: not the loading before it, and not the time it waits", async () => {
    const burn = (cpuMs: number): void => {
      const c0 = process.cpuUsage();
      while (cpuMsOf(process.cpuUsage(c0)) < cpuMs);
    };
    const fake = (run: () => Promise<void>): Session => ({
      inputNames: [],
      outputNames: ['y'],
      outputTypes: { y: 'float32' },
      run: async () => {
        await run();
        return { y: { type: 'float32', dims: [1], data: new Float32Array(1) } };
      },
      release: async () => undefined,
    });
    async function* loaded(): AsyncGenerator<Session> {
      // A part's load (here 60 ms of CPU) comes before its run, outside it.
      burn(60);
      yield fake(async () => burn(40));
      burn(60);
      yield fake(() => new Promise((resolve) => setTimeout(resolve, 80)));
    }
    const run = await runChain(loaded(), {});
    const [busy, idle] = run.partCpuMs as [number, number];
    assert.ok(busy >= 40 && busy < 100, `the computing part: ${busy} ms of CPU (40 burnt in its run, 120 around it)`);
    assert.ok(idle < 20, `the waiting part: ${idle} ms of CPU over an 80 ms wait`);
  });

  it('names the part and the tensor nothing provides, or throws the caller’s error', async () => {
    const sessions = await sessionsOf(parts);
    try {
      const [input] = a.index.inputs;
      await assert.rejects(runChain(sessions, {}), (err: unknown) => {
        assert.ok(err instanceof GraphError);
        assert.equal(err.message, `part 1 needs tensor '${input}', which neither the inputs nor an earlier part provide`);
        return true;
      });
      // Without the middle part, the last one lacks what the middle part makes.
      const lacking = parts[2]!.plan.inputs.find((t) => parts[1]!.plan.outputs.includes(t))!;
      await assert.rejects(runChain([sessions[0]!, sessions[2]!], feeds), { name: 'GraphError', message: `part 2 needs tensor '${lacking}', which neither the inputs nor an earlier part provide` });
      const mine = new Error('mine');
      const asked: [string, number][] = [];
      await assert.rejects(
        runChain([sessions[0]!, sessions[2]!], feeds, { missing: (t, part) => (asked.push([t, part]), mine) }),
        (err) => err === mine,
      );
      assert.deepEqual(asked, [[lacking, 2]]);
    } finally {
      await releaseAll(sessions);
    }
  });

  it('takes the next session from an async iterable only when the part before it has run', async () => {
    const events: string[] = [];
    const opened: Session[] = [];
    async function* lazily(): AsyncGenerator<Session> {
      for (const p of parts) {
        events.push(`load ${p.file}`);
        const s = await partSession(p);
        opened.push(s);
        yield {
          inputNames: s.inputNames,
          outputNames: s.outputNames,
          outputTypes: s.outputTypes,
          run: async (f, fetches) => {
            events.push(`run ${p.file}`);
            return s.run(f, fetches);
          },
          release: () => s.release(),
        };
      }
    }
    try {
      const run = await runChain(lazily(), new Map(Object.entries(feeds)));
      assert.deepEqual(
        events,
        parts.flatMap((p) => [`load ${p.file}`, `run ${p.file}`]),
      );
      for (const name of a.index.outputs) assertSameTensor(run.tensors.get(name), expected[name]!, name);
    } finally {
      await releaseAll(opened);
    }
  });
});

describe('CloudRunner over runChain', () => {
  /** The payload the edge would send: part 1 run here, its hand-over tensors, parts 2 and 3 by hash. */
  async function edgePayload(r: { hashes: string[] }) {
    const [edge] = await sessionsOf(parts.slice(0, 1));
    try {
      const { tensors } = await runChain([edge!], feeds);
      const handed = new Set([...parts[1]!.plan.inputs, ...parts[2]!.plan.inputs].filter((t) => !parts[1]!.plan.outputs.includes(t)));
      return {
        kind: 'input' as const,
        runId: 'chain',
        splitIndex: 1,
        rep: 0,
        nextModels: r.hashes,
        timings: [],
        outputs: [...a.index.outputs],
        tensors: new Map([...handed].map((n) => [n, tensors.get(n)!] as const)),
      };
    } finally {
      await edge!.release();
    }
  }

  function runnerFor(keepWarm: number) {
    const bytes = new Map(parts.slice(1).map((p) => [sha256(p.part.model.concat()), p.part.model.concat()] as const));
    let loads = 0;
    const runner = new CloudRunner(
      {
        get: async (h) => {
          loads++;
          return bytes.get(h)!;
        },
      },
      createSession,
      { keepWarm, session: { graphOptimizationLevel: 'disabled' } },
    );
    return { runner, hashes: [...bytes.keys()], loads: () => loads };
  }

  it('runs two cloud parts with one session kept warm: each loaded when its turn comes, cloud_ms the sum of the part times', async () => {
    const r = runnerFor(1);
    try {
      const payload = await edgePayload(r);
      for (let round = 1; round <= 2; round++) {
        const result = await r.runner.process(payload);
        for (const name of a.index.outputs) assertSameTensor(result.tensors.get(name), expected[name]!, `round ${round}: ${name}`);
        assert.deepEqual(
          result.timings.map((t) => t.name),
          ['cloud_part1_ms', 'cloud_part2_ms', 'cloud_load_ms', 'cloud_ms', 'cloud_cpu_ms'],
        );
        const t = new Map(result.timings.map((x) => [x.name, x.ms]));
        assert.equal(t.get('cloud_ms'), t.get('cloud_part1_ms')! + t.get('cloud_part2_ms')!);
        assert.ok(t.get('cloud_cpu_ms')! > 0, `the parts' CPU time: ${t.get('cloud_cpu_ms')} ms`);
        assert.ok(t.get('cloud_load_ms')! > 0, 'one session warm: both parts load again every round');
      }
      assert.equal(r.loads(), 4);
    } finally {
      await r.runner.close();
    }
  });

  it('a payload lacking a tensor the second part reads directly: the error names the part and the tensor', async () => {
    const r = runnerFor(4);
    try {
      const payload = await edgePayload(r);
      payload.tensors.delete(passedOver);
      await assert.rejects(r.runner.process(payload), (err: unknown) => {
        assert.ok(err instanceof CloudRunError);
        assert.equal(err.message, `part 2 of 2 needs tensor '${passedOver}', which the payload does not carry`);
        return true;
      });
    } finally {
      await r.runner.close();
    }
  });

  /** Runs `payload` and expects a CloudRunError with exactly `message`, before any part is loaded. */
  async function refused(change: (p: Awaited<ReturnType<typeof edgePayload>>) => Record<string, unknown>, message: string) {
    const r = runnerFor(4);
    try {
      const payload = change(await edgePayload(r));
      await assert.rejects(r.runner.process(payload as never), (err: unknown) => {
        assert.ok(err instanceof CloudRunError, String(err));
        assert.equal(err.message, message);
        return true;
      });
      assert.equal(r.loads(), 0, 'nothing is loaded or run for a refused payload');
    } finally {
      await r.runner.close();
    }
  }

  it('a result payload (kind output) sent as an input is refused, not run', async () => {
    await refused((p) => ({ ...p, kind: 'output' }), 'the payload is a result (kind output), not an input for the cloud parts');
  });

  it('a payload carrying a tensor no part reads is refused naming it, before the last part runs', async () => {
    const r = runnerFor(4);
    try {
      const payload = await edgePayload(r);
      const [some] = payload.tensors.values();
      payload.tensors.set('stray', some!);
      await assert.rejects(r.runner.process(payload), (err: unknown) => {
        assert.ok(err instanceof CloudRunError, String(err));
        assert.equal(err.message, "the payload carries tensor 'stray', which no part reads");
        return true;
      });
      // A tensor a later stage reads (the deploy plan says which) is handed on, not refused.
      const result = await r.runner.process(payload, {}, { forwarded: new Set(['stray']) });
      for (const name of a.index.outputs) assertSameTensor(result.tensors.get(name), expected[name]!, name);
      // A tensor named as an output to return is not refused either.
      const asOutput = await r.runner.process({ ...payload, outputs: [...a.index.outputs, 'stray'] });
      assert.equal(asOutput.tensors.get('stray'), some);
    } finally {
      await r.runner.close();
    }
  });

  it('an input payload that carries an error is refused with the error it carries', async () => {
    await refused((p) => ({ ...p, error: 'edge part failed: out of memory' }), 'the payload carries an error instead of tensors: edge part failed: out of memory');
  });

  it('a carried error of several lines, or a very long one, is named on one line', async () => {
    await refused((p) => ({ ...p, error: 'edge failed\n    at step 2\r\n\u0007done' }), 'the payload carries an error instead of tensors: edge failed / at step 2 / done');
    await refused((p) => ({ ...p, error: 'x'.repeat(5000) }), `the payload carries an error instead of tensors: ${'x'.repeat(500)}... (5000 characters)`);
  });
});
