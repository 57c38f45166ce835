/**
 * A second process for the store tests (not a test file): opens its own minio store from the
 * environment (MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, as a cloud worker would), waits
 * for `inKey`, reads it and writes its bytes reversed to `outKey`. Prints one JSON line of timings.
 *
 *   node fixture-worker.js <bucket> <inKey> <outKey>
 */
import { openMinioStore } from '../../src/storage/minio-store.js';
import { storeConfigFromEnv } from '../../src/storage/store.js';

const [bucket, inKey, outKey] = process.argv.slice(2);
if (!bucket || !inKey || !outKey) {
  console.error('usage: fixture-worker <bucket> <inKey> <outKey>');
  process.exit(2);
}
const t0 = performance.now();
const store = await openMinioStore({ ...storeConfigFromEnv({ minio_bucket: bucket }), createBucket: false });
const opened = performance.now();
try {
  await store.waitFor(inKey, 10_000);
  const waited = performance.now();
  const data = await store.get(inKey);
  const got = performance.now();
  await store.put(outKey, Buffer.from(data).reverse());
  const put = performance.now();
  console.log(JSON.stringify({ open_ms: opened - t0, wait_ms: waited - opened, get_ms: got - waited, put_ms: put - got, bytes: data.length }));
} finally {
  await store.close();
}
