/**
 * Waiting for an object through the link: an event that arrives while a poll is in flight lets
 * the poll finish, so the fetch that follows reuses the poll's connection instead of dialling a
 * new one (a round trip more over the link). A wait for an object created after it (a cycle's
 * wait, begun before its trigger) sends nothing over the link: it hears of the object by its
 * event, and the fetch goes out at once on the connection already open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { openLinkedStore } from '../../src/storage/linked-store.js';
import { openMinioStore } from '../../src/storage/minio-store.js';

describe('waitFor through the link', () => {
  let embedded: EmbeddedStore;
  before(async () => {
    embedded = await startEmbeddedStore({ bucket: 'linked-wait' });
  });
  after(async () => {
    await embedded.stop();
  });

  test('the object created while the first poll is on the link: the fetch after the wait opens no new connection', async () => {
    const target = { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey, onObjectCreated: embedded.onObjectCreated };
    const config = { bucket: 'linked-wait', region: embedded.region };
    // rtt 200 ms: the poll's answer comes 200 ms after it leaves; the object's event reaches the
    // edge 100 ms after the cloud's direct put, well inside that.
    const linked = await openLinkedStore(target, config, { rttMs: 200 });
    const cloud = await openMinioStore({ ...config, endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey });
    try {
      const body = Buffer.from('the result');
      for (let i = 0; i < 3; i++) {
        await linked.store.put(`input/${i}`, Buffer.from('x')); // a kept-alive connection to wait and fetch on
        const connections = linked.proxy.connections;
        const waiting = linked.store.waitFor(`output/${i}`, 10_000);
        // The cloud writes the object directly while the wait's first poll is on the link: its
        // event reaches the edge (100 ms later) before the poll's answer (200 ms after it left),
        // whether the poll arrives before or after the object.
        await new Promise((r) => setTimeout(r, 20));
        await cloud.put(`output/${i}`, body);
        await waiting;
        assert.deepEqual(await linked.store.get(`output/${i}`), body);
        assert.equal(linked.proxy.connections, connections, `cycle ${i}: the wait and the fetch used the connection already open`);
      }
    } finally {
      await cloud.close();
      await linked.stop();
    }
  });

  test('a wait for an object created after it sends nothing over the link before the event; the fetch after it opens no new connection', async () => {
    const target = { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey, onObjectCreated: embedded.onObjectCreated };
    const config = { bucket: 'linked-wait', region: embedded.region };
    const linked = await openLinkedStore(target, config, { rttMs: 40 });
    const cloud = await openMinioStore({ ...config, endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey });
    try {
      const body = Buffer.from('the result');
      for (let i = 0; i < 3; i++) {
        await linked.store.put(`input/after-${i}`, Buffer.from('x'));
        const connections = linked.proxy.connections;
        const up = linked.proxy.bytes.up;
        const waiting = linked.store.waitFor(`output/after-${i}`, 10_000, undefined, { createdAfter: true });
        // 50 ms into the wait, before its safety poll (100 ms; its timer expires later, so it runs
        // after this one however late both fire on a busy machine), nothing has crossed the link:
        // a first check of its own would have gone out at once.
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(linked.proxy.bytes.up, up, `cycle ${i}: no request crossed the link before the event`);
        await cloud.put(`output/after-${i}`, body);
        await waiting;
        assert.deepEqual(await linked.store.get(`output/after-${i}`), body);
        assert.equal(linked.proxy.connections, connections, `cycle ${i}: the fetch used the connection the put left open`);
      }
      // An object that is there already is found all the same (by the first safety poll).
      await linked.store.waitFor('output/after-0', 10_000, undefined, { createdAfter: true });
    } finally {
      await cloud.close();
      await linked.stop();
    }
  });

  test('without a notification source, a wait for an object created after it polls as any wait does', async () => {
    const config = { bucket: 'linked-wait', region: embedded.region };
    const target = { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey };
    const linked = await openLinkedStore(target, config, { rttMs: 2 });
    const cloud = await openMinioStore({ ...config, endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey });
    try {
      const up = linked.proxy.bytes.up;
      const waiting = linked.store.waitFor('output/polled', 10_000, undefined, { createdAfter: true });
      await cloud.put('output/polled', Buffer.from('r'));
      await waiting;
      assert.ok(linked.proxy.bytes.up > up, 'the wait polled over the link');
    } finally {
      await cloud.close();
      await linked.stop();
    }
  });
});
