/**
 * The cloud side's profile as a job: the cloud runner answers a payload that asks for a profile
 * with the measurement of its part (real onnxruntime sessions, with the runner's session options),
 * the payload round-trips the request and the answer, and the edge refuses what is not a
 * measurement, an answer without one (an older onnx-cloud) and requests it cannot serve. The
 * coded cut tensors a request carries are timed there, and predict takes the cloud's decode
 * speed from those times (a loopback backend whose cloud decodes slower than the edge).
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
import { analyze, feedsFor, tempDirs, zooSubject } from '../helpers.js';
import { CODEC_RUNS, CodecSamples, isCodecSample } from '../../src/profile/codec-decode.js';
import { cloudDecodeSpeed, codecMs, fitCodecCost, profileCodecs } from '../../src/profile/codec-profile.js';
import { median } from '../../src/profile/stats.js';
import { hostTensorBytes } from '../../src/tensor/host.js';
import { readProfile, writeProfile } from '../../src/profile/layer-profile.js';
import { splitFacts } from '../../src/predict/predict.js';
import { nodeTimingProfile } from '../predict/node-timing.js';
import { join } from 'node:path';
import { zoo } from '../models/zoo.js';

const lenet = zoo.find((z) => z.name === 'lenet5')!;
const tempDir = tempDirs();

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

  it("times the coded cut tensors it is sent where it runs, and predict uses the cloud's decode speed", async () => {
    const a = await analyze(zooSubject(lenet));
    const bytes = a.model.bytes;
    const sha = partHash(bytes);
    const session = { graphOptimizationLevel: 'disabled' as const, intraOpNumThreads: 1 };
    const samples = new CodecSamples();
    const codecs = await profileCodecs(a, feedsFor(a), createSession, session, 2, undefined, samples);
    const picked = samples.picked();
    assert.ok([...picked.keys()].every(isCodecSample));
    assert.deepEqual(new Set([...picked.values()].map((s) => s.codec)), new Set(Object.keys(codecs.speed)), 'samples of every codec');
    const store = await startEmbeddedStore({ bucket: 'cloud-codec-profile' });
    const runner = new CloudRunner({ get: (h) => store.store.get(storeKeys.model(h)) }, createSession, { session });
    // A cloud that decodes 50 times slower than it measures, plus 2 ms a tensor: its figures differ from the edge's.
    let measured: { tensor: string; ms: number[] }[] = [];
    const slower: CloudBackend = {
      ...inProcessBackend(store.store, runner, []),
      trigger: async (job) => {
        const asked = decodePayload(await store.store.get(job.inputKey));
        assert.equal(asked.coded?.size, picked.size, 'the request carries the samples');
        const answer = await runner.process(asked);
        const m = checkedMeasurement(answer.profileJson!, 'the answer');
        measured = m.codecDecode!;
        m.codecDecode = m.codecDecode!.map((t) => ({ ...t, ms: t.ms.map((ms) => 2 + 50 * ms) }));
        await store.store.put(job.outputKey, encodePayload({ ...answer, profileJson: JSON.stringify(m) }));
      },
    };
    try {
      await store.store.put(storeKeys.model(sha), bytes);
      const m = await profileCloud({ store: store.store, backend: slower, runId: 'r4', model: sha, feeds: feedsFor(a), side: { rep: 2, warmup: 1 }, timeoutMs: 30_000, codecSamples: new Map([...picked].map(([k, s]) => [k, s.coded])) });
      // The samples were timed, not fed to the model.
      assert.equal(m.feedBytes, Object.values(feedsFor(a)).reduce((n, t) => n + hostTensorBytes(t), 0));
      assert.deepEqual(m.codecDecode!.map((t) => t.tensor), [...picked.keys()]);
      assert.ok(m.codecDecode!.every((t) => t.ms.length === CODEC_RUNS && t.ms.every((ms) => ms >= 2)));
      const speed = cloudDecodeSpeed(codecs.speed, picked, m.codecDecode!);
      // What the cloud would have said unslowed, fitted the same way: the bound the slowed figures must exceed
      // (the edge's own figures, measured at another moment, move with the machine's load).
      const unslowed = cloudDecodeSpeed(codecs.speed, picked, measured);
      for (const [codec, s] of Object.entries(speed)) {
        const times = m.codecDecode!.filter((t) => picked.get(t.tensor)!.codec === codec).map((t) => ({ mb: picked.get(t.tensor)!.rawBytes / 1e6, ms: median(t.ms) }));
        assert.deepEqual(s.decode, fitCodecCost(times), `${codec}: decode fitted on the cloud's times`);
        assert.deepEqual(s.encode, codecs.speed[codec]!.encode, `${codec}: encode stays the edge's`);
      }
      // Written, read back and predicted: the cloud's decode cost, not the edge's.
      const profile = { ...(await nodeTimingProfile(a, { session, settings: { execType: 'CPU', threads: 1, graphOpt: 'disabled', backend: 'test' }, reps: 1, warmup: 0 })), codecs: { ...codecs, speed } };
      const file = join(await tempDir('cloud-codec-profile'), 'lenet5.profile.csv');
      await writeProfile(file, profile);
      const back = await readProfile(file);
      for (const codec of ['fp16', 'int8', 'zstd']) {
        for (const f of splitFacts(a, back, codec).filter((x) => !x.edgeOnly)) {
          const w = codecs.wire[f.split_index]![codec]!;
          assert.equal(f.codecDecodeMs, codecMs(speed[codec]!.decode, w.codedTensors, w.codedTensorBytes), `${codec} at ${f.split_index}`);
          if (w.codedTensors) assert.ok(f.codecDecodeMs > codecMs(unslowed[codec]!.decode, w.codedTensors, w.codedTensorBytes), `${codec} at ${f.split_index}: the slowed cloud's cost`);
        }
      }
    } finally {
      await runner.close();
      await store.stop();
    }
  });
});
