/**
 * The cloud side's profile as a job: the cloud runner answers a payload that asks for a profile
 * with the measurement of its part (real onnxruntime sessions, with the runner's session options),
 * the payload round-trips the request and the answer, and the edge refuses what is not a
 * measurement, an answer without one (an older onnx-cloud) and requests it cannot serve.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { partHash } from '../../src/onnx/part-hash.js';
import { checkedMeasurement, profileCloud } from '../../src/profile/cloud-profile.js';
import { CloudRunner } from '../../src/runner/cloud.js';
import { runJob } from '../../src/runner/serve.js';
import { createSession } from '../../src/runtime/ort.js';
import { startEmbeddedStore } from '../../src/storage/embedded.js';
import { storeKeys } from '../../src/storage/store.js';
import { decodePayload, encodePayload, type Payload } from '../../src/tensor/payload/index.js';
import type { CloudBackend, CloudJob } from '../../src/backends/backend.js';
import { analyze, feedsFor, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';

const lenet = zoo.find((z) => z.name === 'lenet5')!;

function request(sha: string, feeds: Record<string, import('../../src/runtime/session.js').HostTensor>, extra: Partial<Payload> = {}): Payload {
  return { kind: 'input', runId: 'r1', splitIndex: 0, rep: 0, nextModels: [sha], timings: [], profile: { rep: 3, warmup: 1 }, tensors: new Map(Object.entries(feeds)), ...extra };
}

/** A backend whose jobs run in this process through runJob, as a Kubernetes Job's onnx-cloud does. */
function inProcessBackend(store: import('../../src/storage/store.js').ObjectStore, runner: CloudRunner, seen: CloudJob[]): CloudBackend {
  return {
    name: 'test',
    failureSignal: new AbortController().signal,
    prepare: async () => ({ loadMs: 0 }),
    trigger: async (job) => {
      seen.push(job);
      void runJob(store, runner, job.inputKey, job.outputKey);
    },
    close: async () => undefined,
  };
}

describe('profile through a job: the cloud runner answers a profile request', () => {
  it('measures its part with its own session options and sends the measurement back as profile_json', async () => {
    const a = await analyze(zooSubject(lenet));
    const bytes = a.model.bytes;
    const sha = partHash(bytes);
    const runner = new CloudRunner({ get: async () => bytes }, createSession, { session: { graphOptimizationLevel: 'basic', intraOpNumThreads: 1 } });
    try {
      const wire = encodePayload(request(sha, feedsFor(a)));
      const asked = decodePayload(wire.concat());
      assert.deepEqual(asked.profile, { rep: 3, warmup: 1 });
      const answer = decodePayload(encodePayload(await runner.process(asked)).concat());
      assert.equal(answer.kind, 'output');
      assert.equal(answer.tensors.size, 0);
      const m = checkedMeasurement(answer.profileJson!, 'the answer');
      assert.deepEqual(m.session, { threads: 1, graphOpt: 'basic' });
      assert.equal(m.runMs.length, 3);
      assert.equal(m.wallMs.length, 3);
      assert.equal(m.pid, process.pid);
      // Every kernel covers nodes of the model; at 'basic' lenet5's Conv, Relu, MaxPool, Gemm nodes are all there.
      const covered = new Set(m.kernels.flatMap((k) => k.covers));
      for (const n of a.index.nodes) assert.ok(covered.has(n.name!), `node ${n.name} covered`);
      assert.ok(m.kernels.every((k) => k.ms.length === 3));
    } finally {
      await runner.close();
    }
  });

  it('goes through the store and the backend as a cycle does, and cleans up after itself', async () => {
    const a = await analyze(zooSubject(lenet));
    const bytes = a.model.bytes;
    const sha = partHash(bytes);
    const store = await startEmbeddedStore({ bucket: 'cloud-profile' });
    const runner = new CloudRunner({ get: (h) => store.store.get(storeKeys.model(h)) }, createSession, { session: { intraOpNumThreads: 1 } });
    const seen: CloudJob[] = [];
    try {
      await store.store.put(storeKeys.model(sha), bytes);
      const m = await profileCloud({ store: store.store, backend: inProcessBackend(store.store, runner, seen), runId: 'r1', model: sha, feeds: feedsFor(a), side: { rep: 2, warmup: 1 }, timeoutMs: 30_000 });
      assert.equal(m.runMs.length, 2);
      assert.deepEqual(seen, [{ inputKey: 'input/r1/profile/0.pb', outputKey: 'output/r1/profile/0.pb' }]);
      assert.equal(await store.store.exists(seen[0]!.inputKey), false, 'request removed');
      assert.equal(await store.store.exists(seen[0]!.outputKey), false, 'answer removed');
      // An onnx-cloud that does not know profile requests runs the part and sends tensors back.
      const older: CloudBackend = {
        ...inProcessBackend(store.store, runner, seen),
        trigger: async (job) => {
          const p = decodePayload(await store.store.get(job.inputKey));
          delete p.profile;
          await store.store.put(job.outputKey, encodePayload(await runner.process(p)));
        },
      };
      await assert.rejects(
        profileCloud({ store: store.store, backend: older, runId: 'r2', model: sha, feeds: feedsFor(a), side: { rep: 2, warmup: 1 }, timeoutMs: 30_000 }),
        /the cloud side \(--cloud test\) answered the profile request with a result, not a profile: is it an onnx-cloud older than this onnx-manager\?/,
      );
      // A failure in the job comes back as its one line.
      const other = partHash(encodeModel(zoo.find((z) => z.name === 'two_outputs')!.build()));
      await assert.rejects(
        profileCloud({ store: store.store, backend: inProcessBackend(store.store, runner, seen), runId: 'r3', model: other, feeds: feedsFor(a), side: { rep: 2, warmup: 1 }, timeoutMs: 30_000 }),
        /^CloudProfileError: the cloud side \(--cloud test\) could not profile the model: .*models\/[0-9a-f]{64}\.onnx/,
      );
    } finally {
      await runner.close();
      await store.stop();
    }
  });

  it('refuses a request for several parts, and a measurement without its shape', async () => {
    const a = await analyze(zooSubject(lenet));
    const sha = partHash(a.model.bytes);
    const runner = new CloudRunner({ get: async () => a.model.bytes }, createSession);
    try {
      await assert.rejects(runner.process(request(sha, feedsFor(a), { nextModels: [sha, sha] })), /a profile request names 2 model parts; it profiles exactly one/);
    } finally {
      await runner.close();
    }
    const good = { kernels: [{ node: 'n', opType: 'Relu', covers: ['n'], shared: false, ms: [0.1] }], runMs: [1], wallMs: [1], feedBytes: 4, fetchBytes: 4, kernelScale: 1, fixed: { run_call: [0], feed_per_mb: [0], fetch_per_mb: [0] }, session: {}, host: 'h', pid: 1 };
    assert.equal(checkedMeasurement(JSON.stringify(good), 'x').host, 'h');
    assert.throws(() => checkedMeasurement('{', 'the profile'), /^CloudProfileError: the profile is not JSON/);
    assert.throws(() => checkedMeasurement(JSON.stringify({ ...good, runMs: [] }), 'the profile'), /the profile has no valid runMs$/);
    assert.throws(() => checkedMeasurement(JSON.stringify({ ...good, fixed: { run_call: [0] } }), 'the profile'), /has no valid fixed$/);
    assert.throws(() => checkedMeasurement(JSON.stringify({ ...good, kernels: [{ ...good.kernels[0], ms: [0.1, 0.2] }] }), 'the profile'), /has no valid kernel "n"$/);
    assert.throws(() => checkedMeasurement(JSON.stringify({ ...good, session: { threads: 'two' } }), 'the profile'), /has no valid session$/);
  });

  it('the payload carries a profile request only in an input, and its answer only in an output', () => {
    const base = { runId: 'r', splitIndex: 0, rep: 0, nextModels: [], timings: [], tensors: new Map() };
    const req = decodePayload(encodePayload({ ...base, kind: 'input', profile: { rep: 7, warmup: 0 } }).concat());
    assert.deepEqual(req.profile, { rep: 7, warmup: 0 });
    const ans = decodePayload(encodePayload({ ...base, kind: 'output', profileJson: '{"a":1}' }).concat());
    assert.equal(ans.profileJson, '{"a":1}');
    assert.equal(decodePayload(encodePayload({ ...base, kind: 'input' }).concat()).profile, undefined);
    assert.throws(() => encodePayload({ ...base, kind: 'output', profile: { rep: 1, warmup: 0 } }), /only an input payload asks for a profile/);
    assert.throws(() => encodePayload({ ...base, kind: 'input', profile: { rep: 0, warmup: 0 } }), /profile must be \{ rep: integer >= 1/);
    assert.throws(() => encodePayload({ ...base, kind: 'input', profileJson: '{}' }), /profileJson must be a string of an output payload/);
  });
});
