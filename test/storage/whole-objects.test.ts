/**
 * The embedded store answers with whole objects only: a client reading a key while another puts
 * it (the edge putting a payload while the cloud worker polls for it) never sees part of the body,
 * neither in a stat's size nor in a GET, and a GET right after the put returns has every byte.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { readWhilePutting } from './race.js';

const BUCKET = 'whole-objects';

describe('embedded store: whole objects or nothing', () => {
  let emb: EmbeddedStore;
  before(async () => {
    emb = await startEmbeddedStore({ bucket: BUCKET });
  });
  after(async () => {
    await emb?.stop();
  });

  test('a reader polling a key during 32 MiB puts (new key and overwrite) sees the old body, the new one, or none', async (t) => {
    const target = { endpoint: emb.endpoint, accessKey: emb.accessKey, secretKey: emb.secretKey, bucket: BUCKET };
    const report = await readWhilePutting(emb.store, target, 32 * 1024 * 1024, 4);
    t.diagnostic(`${report.observations} reads checked, ${report.duringPut} while a put was in flight`);
    assert.deepEqual(report.violations, []);
    assert.ok(report.duringPut > 0, 'the reader ran while the puts were in flight');
  });
});
