/**
 * Cloud parts put in the store while the cloud side is busy (starting, loading a part): each part
 * once, only while the cloud side is not ready, nothing thrown when the store fails, and a sweep
 * that puts every part exactly once with every row's model_upload_ms recorded, and a profile that
 * puts the model and its calibration parts once, whether they went in while the worker started or later. Real embedded S3
 * server, real parts of lenet5, a real local worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildRunConfig } from '../../src/config/run-config.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { partHash } from '../../src/onnx/part-hash.js';
import { calibrationPoints } from '../../src/profile/cycle-calibration.js';
import { profileModel } from '../../src/profile/layer-profiler.js';
import { preloadParts } from '../../src/profile/part-preload.js';
import { startCloud, startRun } from '../../src/profile/start-run.js';
import { createSession } from '../../src/runtime/ort.js';
import { analyzeFile } from '../../src/split/analysis.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { buildPointParts } from '../../src/split/split.js';
import { startEmbeddedStore } from '../../src/storage/embedded.js';
import { storeKeys, type ObjectStore } from '../../src/storage/store.js';
import { zoo } from '../models/zoo.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-preload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function lenet() {
  const file = join(dir, 'lenet5.onnx');
  writeFileSync(file, encodeModel(zoo.find((m) => m.name === 'lenet5')!.build()));
  return analyzeFile(file, { createSession });
}

describe('cloud parts put while the cloud side is busy', () => {
  it('puts each cloud part of the given split points once, and stops when the cloud side is ready', async () => {
    const analysis = await lenet();
    const store = await startEmbeddedStore({ bucket: 'preload' });
    try {
      const points = analysis.splitPoints.slice(0, 4);
      const parts = new Set(points.flatMap((p) => buildPointParts(analysis, p).filter((b) => b.plan.number !== 1).map((b) => partHash(b.part.model.concat()))));
      const created: string[] = [];
      const unwatch = store.onObjectCreated((key) => created.push(key));
      const uploaded = await preloadParts(analysis, store.store, [...points, ...points], new Promise(() => undefined));
      unwatch();
      assert.deepEqual(new Set(uploaded.keys()), parts);
      assert.ok([...uploaded.values()].every((ms) => ms > 0));
      assert.deepEqual(created.sort(), [...parts].map((h) => storeKeys.model(h)).sort(), 'each part put once');
      for (const h of parts) assert.deepEqual(new Uint8Array(await store.store.get(storeKeys.model(h))).length > 0, true);
      // The cloud side already ready: nothing more is put.
      const none = await preloadParts(analysis, store.store, analysis.splitPoints.slice(4), Promise.resolve());
      assert.equal(none.size, 0);
      // The store gone: nothing is thrown, the split points put their own parts later.
      await store.store.close();
      const failed = await preloadParts(analysis, store.store, analysis.splitPoints.slice(4), new Promise(() => undefined));
      assert.equal(failed.size, 0);
    } finally {
      await store.stop();
    }
  });

  it('a sweep puts every cloud part exactly once and records each upload in model_upload_ms', async () => {
    const analysis = await lenet();
    const run = await startRun(analysis, buildRunConfig({ warmup: 1, threads: 1 }, {}), { feeds: randomInputs(analysis), preload: analysis.splitPoints });
    try {
      const before = new Set(await run.ctx.store.list('models/'));
      const rows = await run.sweep({ rep: 2 });
      assert.ok(rows.every((r) => r.status === 'ok'), rows.map((r) => r.error).join('; '));
      const after = await run.ctx.store.list('models/');
      const expected = new Set(analysis.splitPoints.flatMap((p) => buildPointParts(analysis, p).filter((b) => b.plan.number !== 1).map((b) => storeKeys.model(partHash(b.part.model.concat())))));
      assert.deepEqual(new Set(after), expected);
      assert.ok(before.size <= expected.size);
      for (const r of rows) {
        if (r.backend === 'none') assert.equal(r.model_upload_ms, 0);
        else assert.ok(Number(r.model_upload_ms) > 0, `split ${r.split_index}: model_upload_ms ${r.model_upload_ms}`);
      }
      assert.equal(run.ctx.uploadedParts?.size ?? 0, 0, 'every part put ahead was taken by its split point');
    } finally {
      await run.close();
    }
  });

  it('a profile over a cloud side that is starting puts the model and each calibration point\'s cloud part once', async () => {
    const analysis = await lenet();
    const cloud = await startCloud(buildRunConfig({ warmup: 1, threads: 1 }, {}));
    const puts: string[] = [];
    // Every put of the run, edge's and direct (one store: no link).
    const store = new Proxy(cloud.edgeStore, {
      get(target, p) {
        if (p === 'put') return (key: string, data: Parameters<ObjectStore['put']>[1]) => (puts.push(key), target.put(key, data));
        const v = Reflect.get(target, p) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const { profile } = await profileModel(analysis, cloud.config, { feeds: randomInputs(analysis), rep: 2, codecs: ['raw'], cloud: { ...cloud, edgeStore: store, directStore: store } });
    assert.ok(profile.nodes.some((n) => n.side === 'cloud'), 'the cloud side was profiled');
    const models = puts.filter((k) => k.startsWith(storeKeys.model('').replace(/\.onnx$/, '')));
    assert.equal(new Set(models).size, models.length, `no part put twice: ${models.join(', ')}`);
    assert.ok(models.includes(storeKeys.model(partHash(analysis.model.bytes))), `the whole model, for the cloud profile: ${puts.join(', ')}`);
    const parts = calibrationPoints(analysis).flatMap((p) => buildPointParts(analysis, p).filter((b) => b.plan.number !== 1).map((b) => storeKeys.model(partHash(b.part.model.concat()))));
    assert.ok(parts.length > 0);
    for (const k of parts) assert.ok(models.includes(k), `${k} was put`);
  });
});
