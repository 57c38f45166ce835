/**
 * The store retry budget of an OSCAR service's jobs: OSCAR starts every job with the service's own
 * environment, so `deploy --store_retry_s` writes it into ONNX_MANAGER_CLOUD_CONFIG, and a sweep
 * that asks for another budget than the service's says so (and runs).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { decodeCloudConfig } from '../../src/config/cloud-config.js';
import { cli } from '../cli-helper.js';
import { startOscarFixture, type OscarFixture } from './oscar-fixture.js';

const BUCKET = 'oscar-retry';
let f: OscarFixture;

before(async () => {
  f = await startOscarFixture(BUCKET, 'oscar-retry');
});
after(async () => f?.stop());
afterEach(() => f.checkSpec());

const deployed = (name: string) => decodeCloudConfig(f.server.services.get(name)!.environment!.variables!.ONNX_MANAGER_CLOUD_CONFIG!);
const deploy = (name: string, extra: string[]) => cli(['deploy', '--oscar_service', name, '--oscar_endpoint', f.server.url, '--minio_bucket', BUCKET, '--onnx_path', join(f.dir, `fdl-${name}`), '--apply', ...extra]);
const runAll = (name: string, csv: string, extra: string[]) =>
  cli(['run_all', '--onnx_file', f.modelFile, '--splits', '4', '--rep', '1', '--warmup', '0', '--results_file', join(f.dir, csv), '--cloud', 'oscar', '--oscar_endpoint', f.server.url, '--oscar_service', name, ...extra]);

describe('the store retry budget of OSCAR services', () => {
  it('deploy --store_retry_s sets the budget the service’s jobs run with; the default leaves it out', async () => {
    const r = await deploy('retry7', ['--store_retry_s', '7']);
    assert.equal(r.code, 0, r.err);
    assert.equal(deployed('retry7').storeRetryS, 7);
    const d = await deploy('retrydefault', []);
    assert.equal(d.code, 0, d.err);
    assert.equal(deployed('retrydefault').storeRetryS, undefined);
  });

  it('a sweep asking for another budget than the service’s warns in one line, naming both and how to change it; the same budget, no warning', async () => {
    const other = await runAll('retry7', 'other.csv', ['--store_retry_s', '30']);
    assert.equal(other.code, 0, other.err);
    const lines = other.errLines.filter((l) => /retries the store/.test(l));
    assert.deepEqual(lines.length, 1, other.err);
    assert.match(lines[0]!, /^onnx-manager: warning: OSCAR service 'retry7' retries the store for 7 s in its jobs \(its ONNX_MANAGER_CLOUD_CONFIG\), not the 30 s of this run's --store_retry_s: OSCAR starts each job with the service's environment; deploy it again with --store_retry_s 30 --apply to change it$/);
    const byDefault = await runAll('retry7', 'default.csv', []);
    assert.match(byDefault.err, /OSCAR service 'retry7' retries the store for 7 s in its jobs \(its ONNX_MANAGER_CLOUD_CONFIG\), not the 120 s of this run's --store_retry_s/);
    const same = await runAll('retry7', 'same.csv', ['--store_retry_s', '7']);
    assert.equal(same.code, 0, same.err);
    assert.doesNotMatch(same.err, /retries the store/);
    const plain = await runAll('retrydefault', 'plain.csv', []);
    assert.equal(plain.code, 0, plain.err);
    assert.doesNotMatch(plain.err, /retries the store/);
  });
});
