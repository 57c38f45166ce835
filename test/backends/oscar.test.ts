/**
 * The oscar backend against a loopback OSCAR (./oscar-server.ts) that checks every request against
 * the Swagger spec and runs cloud/oscar/script.sh for real for every job, as faas-supervisor does:
 * run_all end to end (upload and job triggers), failures (a failed pod, a failing script, a script
 * that leaves nothing, a lost upload, a missing service, wrong credentials), deploy (FDL and
 * --apply, a chain of services), and the script on its own. The store, the server, lenet5 and the
 * credentials come from ./oscar-fixture.ts, as for the other OSCAR test files.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { oscarModule, parseStoragePath } from '../../src/backends/oscar.js';
import { OscarClient, OscarError } from '../../src/backends/oscar-client.js';
import type { BackendContext } from '../../src/backends/backend.js';
import { buildRunConfig, cloudConfigOf } from '../../src/config/run-config.js';
import { encodeCloudConfig } from '../../src/config/cloud-config.js';
import { createSession } from '../../src/runtime/ort.js';
import type { HostTensor } from '../../src/runtime/session.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { buildParts } from '../../src/split/split.js';
import type { EmbeddedStore } from '../../src/storage/embedded.js';
import type { ObjectStore } from '../../src/storage/store.js';
import { decodePayload, encodePayload } from '../../src/tensor/payload/index.js';
import { feedsFor } from '../helpers.js';
import { PROJECT_DIR, SCRIPT_FILE, type OscarTestServer } from './oscar-server.js';
import { PASSWORD, startOscarFixture, USER, type OscarFixture } from './oscar-fixture.js';
import { cli } from '../cli-helper.js';
import { readProfile, writeProfile } from '../../src/profile/layer-profile.js';
import { wireBytes } from '../../src/predict/payload-size.js';
import { nodeTimingProfile } from '../predict/node-timing.js';
import { JOB_CALIBRATION_REP } from '../../src/profile/cycle-calibration.js';

const BUCKET = 'oscar-test';
let f: OscarFixture;
let dir: string;
let store: EmbeddedStore;
let server: OscarTestServer;
let modelFile: string;
let analysis: ModelAnalysis;
let setEnv: OscarFixture['setEnv'];

before(async () => {
  f = await startOscarFixture(BUCKET, 'oscar');
  ({ dir, store, server, modelFile, analysis, setEnv } = f);
  // As deploy --apply would make it.
  await server.addService({
    name: 'svc',
    input: [{ storage_provider: 'minio.default', path: `${BUCKET}/svc-in` }],
    output: [{ storage_provider: 'minio.default', path: `${BUCKET}/svc-out` }],
    environment: { variables: { MINIO_ENDPOINT: store.endpoint, MINIO_BUCKET: BUCKET }, secrets: { MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey } },
  });
});

after(async () => f?.stop());

afterEach(() => f.checkSpec());

function rows(file: string): Record<string, string>[] {
  return parseCsv(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

const oscarArgs = (service = 'svc') => ['--cloud', 'oscar', '--oscar_endpoint', server.url, '--oscar_service', service];
/** run_all with --warmup 0 (and --rep 1 unless `extra` says otherwise). */
const runAll = (csv: string, extra: string[], service = 'svc') =>
  cli(['--operation', 'run_all', '--onnx_file', modelFile, ...(extra.includes('--rep') ? [] : ['--rep', '1']), '--warmup', '0', '--results_file', join(dir, csv), ...oscarArgs(service), ...extra]);
const lastSplit = () => analysis.splitPoints.length - 1;
/** Payload file name of a split and repetition, from the backend's naming. */

describe('the oscar backend through run_all', () => {
  it('runs every split through OSCAR jobs started by the upload; results equal the full model; job times and CPU times filled', async () => {
    const splits = [0, 6, lastSplit()];
    // The first job of split 6 waits a second in the queue.
    server.faults = { queueDelayMs: (k) => (/-6-0\.pb$/.test(k) ? 1100 : 0) };
    const r = await runAll('upload.csv', ['--rep', '2', '--splits', ...splits.map(String), '--oscar_cleanup']);
    server.faults = {};
    assert.equal(r.code, 0, r.err);
    const got = rows(join(dir, 'upload.csv'));
    assert.equal(got.length, splits.length * 2);
    const names = new Set<string>();
    for (const row of got) {
      assert.equal(row.status, 'ok', `split ${row.split_index}/${row.rep}: ${row.error}`);
      assert.ok(Number(row.max_abs_diff) <= 1e-5, `split ${row.split_index} equals the full model (max diff ${row.max_abs_diff})`);
      // The CPU time of each side's part, as the process that ran it measured it (the job's onnx-cloud for the cloud).
      assert.equal(row.edge_cpu_ms === '', row.split_index === '0', `split ${row.split_index}: edge_cpu_ms '${row.edge_cpu_ms}'`);
      if (row.split_index !== '0') assert.ok(Number(row.edge_cpu_ms) > 0, `edge_cpu_ms ${row.edge_cpu_ms}`);
      if (Number(row.split_index) === lastSplit()) {
        assert.equal(row.backend, 'none');
        assert.equal(row.cloud_cpu_ms, '', 'nothing ran in the cloud');
        continue;
      }
      assert.ok(Number(row.cloud_cpu_ms) > 0, `split ${row.split_index}: cloud_cpu_ms '${row.cloud_cpu_ms}'`);
      assert.equal(row.backend, 'oscar');
      assert.match(row.job_name!, /^svc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      names.add(row.job_name!);
      assert.ok(Number.isInteger(Number(row.job_queue_s)) && Number(row.job_queue_s) >= 0, `job_queue_s ${row.job_queue_s}`);
      assert.ok(Number.isInteger(Number(row.job_run_s)) && Number(row.job_run_s) >= 0, `job_run_s ${row.job_run_s}`);
      assert.ok(Number(row.wait_ms) > 0);
    }
    assert.equal(names.size, (splits.length - 1) * 2, 'one job per cloud row');
    const delayed = got.find((x) => x.split_index === '6' && x.rep === '0')!;
    assert.ok(Number(delayed.job_queue_s) >= 1, `the queued job shows its wait (${delayed.job_queue_s} s)`);
    // Upload-triggered: no POST /job; the system API with basic auth only.
    assert.ok(!server.requests.some((q) => q.template === '/job/{serviceName}'));
    assert.ok(server.requests.filter((q) => q.path.startsWith('/system/')).every((q) => q.auth === 'basic'));
    assert.ok(server.requests.some((q) => q.template === '/system/config'), 'the store came from /system/config');
    // --oscar_cleanup removed the run's finished jobs; payloads and results were removed from the store.
    assert.equal([...server.jobs.values()].filter((j) => j.service === 'svc').length, 0);
    assert.deepEqual(await store.store.list('svc-in/'), []);
    assert.deepEqual(await store.store.list('svc-out/'), []);
  });

  it("with --oscar_trigger job: POST /job with the service's token and a MinIO event; one job per payload", async () => {
    const before = server.requests.length;
    const r = await runAll('job.csv', ['--splits', '5', '--oscar_trigger', 'job']);
    assert.equal(r.code, 0, r.err);
    const got = rows(join(dir, 'job.csv'));
    assert.deepEqual(got.map((x) => x.status), ['ok'], got.map((x) => x.error).join('; '));
    for (const row of got) assert.ok(Number(row.max_abs_diff) <= 1e-5);
    const posts = server.requests.slice(before).filter((q) => q.template === '/job/{serviceName}');
    assert.equal(posts.length, 1);
    assert.ok(posts.every((q) => q.auth === 'bearer' && q.status === 201));
    const jobs = [...server.jobs.values()].filter((j) => j.service === 'svc');
    assert.equal(jobs.length, 1, 'the payload, outside the input path, started no second job');
    assert.equal(jobs[0]!.name, got[0]!.job_name);
    assert.match(jobs[0]!.object, new RegExp(`^${BUCKET}/onnx-manager-jobs/svc/.*-5-0\\.pb$`));
  });
});

describe("predict's payload bytes for a run through OSCAR", () => {
  it("are the bytes the run sent, the run's store retry budget included, for every split point measured", async () => {
    const splits = [0, 5, 9, lastSplit()];
    const measured = join(dir, 'budget.csv');
    const run = await runAll('budget.csv', ['--rep', '2', '--splits', ...splits.map(String), '--store_retry_s', '45.5']);
    assert.equal(run.code, 0, run.err);
    const profile = join(dir, 'budget.profile.csv');
    const settings = { execType: 'CPU', threads: 1, graphOpt: 'all', backend: 'oscar' };
    await writeProfile(profile, { ...(await nodeTimingProfile(analysis, { session: { intraOpNumThreads: 1 }, settings, reps: 1, warmup: 0 })), settings: { edge: { ...settings, backend: 'local' }, cloud: settings } });
    const predicted = (extra: string[]) => {
      const out = join(dir, `budget-${extra.length}.predict.csv`);
      return cli(['predict', '--onnx_file', modelFile, '--profile', profile, '--measured', measured, '--results_file', out, ...oscarArgs(), ...extra]).then((r) => {
        assert.equal(r.code, 0, r.err);
        return new Map(rows(out).map((p) => [p.split_index, p]));
      });
    };
    const exact = await predicted(['--store_retry_s', '45.5']);
    const other = await predicted([]);
    const sent = rows(measured).filter((m) => m.rep === '1');
    assert.equal(sent.length, splits.length);
    for (const m of sent) {
      assert.equal(m.status, 'ok', m.error);
      const p = exact.get(m.split_index)!;
      assert.equal(p.transfer_bytes, m.transfer_bytes, `split ${m.split_index}: input payload bytes`);
      assert.equal(p.result_bytes, m.result_bytes, `split ${m.split_index}: result payload bytes`);
      if (m.split_index === String(lastSplit())) continue;
      // 45500 ms is a 3-byte varint, the default 120000 ms too: the bytes are the same; without a budget 5 fewer.
      assert.equal(other.get(m.split_index)!.transfer_bytes, m.transfer_bytes);
      const a = analysis.splitPoints[Number(m.split_index)]!;
      assert.equal(wireBytes(analysis, a).input, Number(m.transfer_bytes) - wireBytes(analysis, a, 1, { storeRetryMs: 45_500 }).storeRetryBytes);
      assert.ok(wireBytes(analysis, a, 1, { storeRetryMs: 45_500 }).storeRetryBytes >= 5);
    }
  });
});

describe('profile through OSCAR jobs', () => {
  it('the cloud side is measured in an OSCAR job with the service’s threads and graph optimisation, then calibrated on jobs', async () => {
    await server.addService({
      name: 'svc-prof',
      input: [{ storage_provider: 'minio.default', path: `${BUCKET}/svc-prof-in` }],
      output: [{ storage_provider: 'minio.default', path: `${BUCKET}/svc-prof-out` }],
      environment: {
        variables: { MINIO_ENDPOINT: store.endpoint, ONNX_MANAGER_CLOUD_CONFIG: encodeCloudConfig({ provider: { name: 'cpu' }, graphOptimizationLevel: 'basic', threads: 1, bucket: BUCKET }) },
        secrets: { MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey },
      },
    });
    const results = join(dir, 'prof.csv');
    const r = await cli(['profile', '--onnx_file', modelFile, '--rep', '2', '--warmup', '0', '--threads', '1', '--graph_opt', 'basic', '--results_file', results, ...oscarArgs('svc-prof')]);
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'prof.profile.csv'));
    assert.deepEqual(p.settings.cloud, { execType: 'CPU', graphOpt: 'basic', backend: 'oscar', threads: 1 });
    const cloud = p.nodes.filter((n) => n.side === 'cloud');
    assert.equal(cloud.length, analysis.index.nodes.length);
    assert.ok(cloud.every((n) => n.runs === 2) && cloud.some((n) => n.medianMs > 0));
    const cloudPid = Number(/^cloud .* \S+:(\d+) /m.exec(r.out)?.[1]);
    assert.ok(cloudPid > 0 && cloudPid !== process.pid, r.out);
    // The request went where a cycle's payload goes (the service's input path) and started one job;
    // each calibration cycle (3 points, 3 cycles each) one more.
    const jobs = [...server.jobs.values()].filter((j) => j.service === 'svc-prof');
    assert.equal(jobs.filter((j) => new RegExp(`^${BUCKET}/svc-prof-in/.*-0-profile\\.pb$`).test(j.object)).length, 1, jobs.map((j) => j.object).join(', '));
    assert.equal(jobs.length, 1 + 3 * JOB_CALIBRATION_REP);
    assert.ok(jobs.every((j) => j.status === 'Succeeded'));
    assert.deepEqual(await store.store.list('svc-prof-in/'), []);
    assert.deepEqual(await store.store.list('svc-prof-out/'), []);
  });
});

describe('failures', () => {
  it('a failed pod, a failing script, or a script that leaves nothing fails its row at once (no timeout); the sweep goes on', async () => {
    server.faults = {
      podFails: (k) => /-2-0\.pb$/.test(k),
      scriptEnv: (k): Record<string, string> | undefined =>
        /-3-0\.pb$/.test(k) ? { MINIO_BUCKET: 'no-such-bucket' } : /-4-0\.pb$/.test(k) ? { ONNX_MANAGER_HOME: '/nonexistent' } : undefined,
    };
    const r = await runAll('faults.csv', ['--splits', '2', '3', '4', '6', '--timeout', '30']);
    server.faults = {};
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /onnx-manager: \d+ of \d+ rows failed; see the status and error columns/, 'failed rows make the exit code 1');
    const got = rows(join(dir, 'faults.csv'));
    assert.deepEqual(
      got.map((x) => `${x.split_index}:${x.status}`),
      ['2:error', '3:error', '4:error', '6:ok'],
      got.map((x) => x.error).join('; '),
    );
    // The pod failed before the supervisor logged the payload: found as the one new failed job.
    assert.match(got[0]!.error!, /OSCAR job svc-\S+ failed: .*OOMKilled/);
    // onnx-cloud failed: script.sh left an error result naming the cause.
    assert.match(got[1]!.error!, /^cloud: .*no-such-bucket/);
    // Nothing ran and nothing was written: the job finished without a result.
    assert.match(got[2]!.error!, /OSCAR job svc-\S+ finished without writing svc-out\/.*-4-0\.pb/);
    await server.idle();
  });

  it('an upload that starts no job times out, and the sweep goes on', async () => {
    server.faults = { ignoreUpload: (k) => /-5-0\.pb$/.test(k) };
    const r = await runAll('lost.csv', ['--splits', '5', String(lastSplit()), '--timeout', '1.5']);
    server.faults = {};
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /onnx-manager: \d+ of \d+ rows failed; see the status and error columns/, 'failed rows make the exit code 1');
    const got = rows(join(dir, 'lost.csv'));
    assert.deepEqual(got.map((x) => `${x.split_index}:${x.status}`), ['5:timeout', `${lastSplit()}:ok`]);
    assert.match(got[0]!.error!, /svc-out\/.*-5-0\.pb.*did not appear within 1500 ms/);
  });

  it('a service that does not exist: one line, exit non-zero', async () => {
    const r = await runAll('missing.csv', [], 'nope');
    assert.notEqual(r.code, 0);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /service 'nope' does not exist/);
  });

  it('wrong credentials: one line naming the request and the status, never the password', async () => {
    setEnv({ OSCAR_PASSWORD: 'wrong-password-123' });
    try {
      const r = await runAll('creds.csv', []);
      assert.notEqual(r.code, 0);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /GET \/system\/config -> HTTP 401: wrong credentials/);
      assert.ok(!r.err.includes('wrong-password-123') && !r.err.includes(PASSWORD));
    } finally {
      setEnv({ OSCAR_PASSWORD: PASSWORD });
    }
    setEnv({ OSCAR_USERNAME: undefined, OSCAR_PASSWORD: undefined });
    try {
      const r = await runAll('nocreds.csv', []);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /needs OSCAR credentials: set OSCAR_USERNAME and OSCAR_PASSWORD/);
    } finally {
      setEnv({ OSCAR_USERNAME: USER, OSCAR_PASSWORD: PASSWORD });
    }
  });

  it('refuses the embedded store for a remote cluster, and a store bucket that is not the service’s', async () => {
    const ctx = (bucket: string, embedded: boolean, endpoint: string): BackendContext => {
      const config = buildRunConfig({ cloud: 'oscar', oscar_endpoint: endpoint, oscar_service: 'svc', minio_bucket: bucket }, {});
      return {
        config,
        cloud: cloudConfigOf(config),
        store: Promise.resolve({ bucket } as ObjectStore),
        storeAccess: { endpoint: 'http://127.0.0.1:9', accessKey: 'k', secretKey: 's', bucket },
        embeddedStore: embedded,
        env: process.env,
        warn: () => undefined,
      };
    };
    await assert.rejects(
      oscarModule.create(ctx(BUCKET, true, 'https://oscar.example.org')),
      /the OSCAR cluster at https:\/\/oscar\.example\.org cannot reach the embedded store \(.*, an embedded server on 127\.0\.0\.1 of this machine\)/,
    );
    await assert.rejects(oscarModule.create(ctx('elsewhere', false, server.url)), /bucket 'oscar-test' but the store uses bucket 'elsewhere'; give --minio_bucket oscar-test/);
  });
});

describe('the OSCAR client', () => {
  it('follows next_page through the job list, reads logs, deletes jobs; /health without credentials', async () => {
    const client = new OscarClient({ endpoint: server.url, auth: { kind: 'basic', username: USER, password: PASSWORD } });
    await server.addService({ name: 'pager', output: [{ storage_provider: 'minio', path: `${BUCKET}/pager-out` }] });
    const now = Date.now();
    for (let i = 0; i < 10; i++) {
      server.jobs.set(`pager-${i}`, { name: `pager-${i}`, service: 'pager', object: '', status: i % 2 ? 'Succeeded' : 'Failed', created: now, started: now, finished: now, log: [{ t: now, line: `line ${i}` }] });
    }
    const first = await client.listJobs('pager');
    assert.equal(Object.keys(first.jobs).length, 4);
    assert.equal(first.remainingJobs, 6);
    assert.ok(first.nextPage);
    assert.equal(Object.keys(await client.allJobs('pager')).length, 10);
    assert.match(await client.jobLogs('pager', 'pager-3'), /^\d{4}-\d\d-\d\dT\S+Z line 3\n$/);
    await client.deleteJob('pager', 'pager-0');
    await client.deleteJobs('pager');
    assert.deepEqual(Object.keys(await client.allJobs('pager')).sort(), ['pager-2', 'pager-4', 'pager-6', 'pager-8']);
    await client.deleteJobs('pager', true);
    assert.deepEqual(await client.allJobs('pager'), {});
    assert.equal(await client.health(), 'Ok');
    assert.equal((await client.info()).version, '4.1.2');
    assert.ok(server.requests.some((q) => q.path === '/health' && q.auth === 'none'));
    await assert.rejects(client.job('pager', '{}', 'f'.repeat(64)), (e: OscarError) => e.status === 401 && /token for service 'pager' was rejected/.test(e.message));
  });

  it('times out a cluster that does not answer, with one line', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const client = new OscarClient({ endpoint: `http://127.0.0.1:${port}`, auth: { kind: 'basic', username: USER, password: PASSWORD }, timeoutMs: 300 });
      await assert.rejects(client.info(), /^OscarError: OSCAR at http:\/\/127\.0\.0\.1:\d+: GET \/system\/info got no answer within 0\.3 s$/);
    } finally {
      silent.close();
    }
  });
});

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

interface FdlService {
  name: string;
  image: string;
  script: string;
  environment: { variables: Record<string, string> };
  input: { storage_provider: string; path: string }[];
  output: { storage_provider: string; path: string }[];
}

describe('deploy', () => {
  it('writes an FDL file oscar-cli reads, with script.sh beside it', async () => {
    const out = join(dir, 'fdl-generic');
    const r = await cli(['--operation', 'deploy', '--oscar_service', 'onnx-cloud', '--oscar_image', 'registry.example/onnx-cloud:1', '--onnx_path', out, '--minio_bucket', BUCKET]);
    assert.equal(r.code, 0, r.err);
    const doc = parseYaml(readFileSync(join(out, 'fdl.yaml'), 'utf8')) as { functions: { oscar: Record<string, FdlService>[] } };
    assert.equal(doc.functions.oscar.length, 1);
    const [cluster, svc] = Object.entries(doc.functions.oscar[0]!)[0]!;
    assert.equal(cluster, 'oscar-cluster');
    assert.equal(svc.name, 'onnx-cloud');
    assert.equal(svc.image, 'registry.example/onnx-cloud:1');
    assert.equal(svc.script, 'script.sh');
    assert.equal(readFileSync(join(out, 'script.sh'), 'utf8'), readFileSync(SCRIPT_FILE, 'utf8'), 'the script oscar-cli embeds, relative to the FDL');
    assert.deepEqual(svc.input, [{ storage_provider: 'minio.default', path: `${BUCKET}/onnx-cloud-in` }]);
    assert.deepEqual(svc.output, [{ storage_provider: 'minio.default', path: `${BUCKET}/onnx-cloud-out` }]);
    assert.deepEqual(
      svc.environment,
      { variables: { MINIO_ENDPOINT: 'http://minio.minio:9000', ONNX_MANAGER_CLOUD_CONFIG: encodeCloudConfig({ provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: BUCKET }) } },
      'no keys in the file; the cloud settings as one variable',
    );
    // The service entry is a types.Service of the spec (script as a file name, as oscar-cli reads it).
    const m = server.spec.match('POST', '/system/services')!;
    assert.deepEqual(server.spec.checkRequest(m, { authScheme: 'basic', query: new URLSearchParams(), contentType: 'application/json', body: Buffer.from(JSON.stringify(svc)) }), []);
  });

  it('--apply creates a chain of services through the API and uploads the parts; a payload runs through the chain', async () => {
    const layers = [analysis.splitPoints[3]!.splitLayer, analysis.splitPoints[7]!.splitLayer];
    const args = ['--operation', 'deploy', '--onnx_file', modelFile, '--split_layers', ...layers, '--oscar_service', 'chain', '--oscar_endpoint', server.url, '--minio_bucket', BUCKET, '--onnx_path', join(dir, 'fdl-chain'), '--apply'];
    const r = await cli(args);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /created OSCAR service chain-1/);
    assert.match(r.out, /created OSCAR service chain-2/);
    const s1 = server.services.get('chain-1')!;
    const s2 = server.services.get('chain-2')!;
    assert.equal(s1.output![0]!.path, s2.input![0]!.path, 'the output of part 2 is the input of part 3');
    assert.equal(s1.environment?.secrets?.MINIO_ACCESS_KEY, store.accessKey, 'keys as service secrets');
    assert.ok(s1.script.startsWith('#!/bin/bash'), 'the script text, not its file name');
    // The parts are in the store by hash.
    const parts = buildParts(analysis, layers.map((l) => analysis.splitPoints.find((p) => p.splitLayer === l)!.position));
    const hashes = parts.filter((p) => p.plan.number !== 1).map((p) => sha256(p.part.model.concat()));
    for (const h of hashes) assert.ok(await store.store.exists(`models/${h}.onnx`));
    assert.equal(s1.environment?.variables?.ONNX_MANAGER_STAGE_PARTS, hashes[0]);
    // Applying again updates.
    const again = await cli(args);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /updated OSCAR service chain-1/);
    assert.ok(server.requests.some((q) => q.method === 'PUT' && q.template === '/system/services' && q.status === 204));

    // Edge part here, then the chain in the "cluster".
    const feeds = feedsFor(analysis);
    const edge = await createSession(parts[0]!.part.model.concat(), { graphOptimizationLevel: 'all' });
    const full = await createSession(analysis.model.bytes, { graphOptimizationLevel: 'all' });
    let tensors: Map<string, HostTensor>;
    let expected: Record<string, HostTensor>;
    try {
      const cut = await edge.run(feeds);
      tensors = new Map(Object.entries(cut));
      expected = await full.run(feeds);
    } finally {
      await edge.release();
      await full.release();
    }
    const inPath = parseStoragePath(s1.input![0]!.path!);
    const outPath = parseStoragePath(s2.output![0]!.path!);
    await store.store.put(`${inPath.prefix}/chain-run-3-0.pb`, encodePayload({ kind: 'input', runId: 'chain-run', splitIndex: 3, rep: 0, nextModels: hashes, timings: [], outputs: analysis.index.outputs, tensors, storeRetryMs: 45_000 }));
    await store.store.waitFor(`${outPath.prefix}/chain-run-3-0.pb`, 20_000);
    const result = decodePayload(await store.store.get(`${outPath.prefix}/chain-run-3-0.pb`));
    assert.equal(result.error, undefined);
    for (const [name, t] of Object.entries(expected)) {
      const got = result.tensors.get(name)!;
      const a = got.data as Float32Array;
      const b = t.data as Float32Array;
      assert.deepEqual(got.dims, t.dims);
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      assert.ok(worst <= 1e-5, `chain result equals the full model (${worst})`);
    }
    assert.equal([...server.jobs.values()].filter((j) => j.service.startsWith('chain-') && j.status === 'Succeeded').length, 2);
    // The run's store retry budget goes down the chain with the payload.
    const handed = decodePayload(await store.store.get(`${parseStoragePath(s1.output![0]!.path!).prefix}/chain-run-3-0.pb`));
    assert.equal(handed.storeRetryMs, 45_000);
    // The first stage hands on what the second reads, as the deploy plan says; a tensor neither reads is refused by name.
    assert.deepEqual(JSON.parse(s1.environment!.variables!.ONNX_MANAGER_STAGE_FORWARD!), parts[2]!.plan.inputs);
    assert.equal(s2.environment?.variables?.ONNX_MANAGER_STAGE_FORWARD, undefined, 'the last stage hands nothing on');
    const stray = new Map([...tensors, ['stray', [...tensors.values()][0]!]]);
    await store.store.put(`${inPath.prefix}/chain-run-3-1.pb`, encodePayload({ kind: 'input', runId: 'chain-run', splitIndex: 3, rep: 1, nextModels: hashes, timings: [], outputs: analysis.index.outputs, tensors: stray }));
    await store.store.waitFor(`${outPath.prefix}/chain-run-3-1.pb`, 20_000);
    // The first stage's error payload goes down the chain, and the last stage reports it.
    assert.match(String(decodePayload(await store.store.get(`${outPath.prefix}/chain-run-3-1.pb`)).error), /the payload carries tensor 'stray', which neither this stage nor a later one reads$/);
  });
});

describe('cloud/oscar/script.sh', () => {
  async function runScript(input: Buffer, extraEnv: Record<string, string> = {}): Promise<{ code: number; result?: Buffer; stderr: string }> {
    const work = mkdtempSync(join(dir, 'script-'));
    const inputFile = join(work, 'r1-2-0.pb');
    const outDir = join(work, 'out');
    mkdirSync(outDir);
    writeFileSync(inputFile, input);
    const env = {
      PATH: `${process.execPath.replace(/\/[^/]+$/, '')}:/usr/bin:/bin`,
      INPUT_FILE_PATH: inputFile,
      TMP_OUTPUT_DIR: outDir,
      TMP_INPUT_DIR: work,
      MINIO_ENDPOINT: store.endpoint,
      MINIO_ACCESS_KEY: store.accessKey,
      MINIO_SECRET_KEY: store.secretKey,
      MINIO_BUCKET: BUCKET,
      ONNX_MANAGER_HOME: PROJECT_DIR,
      ...extraEnv,
    };
    const stderr: string[] = [];
    const code = await new Promise<number>((resolve) => {
      const child = spawn('/bin/sh', [SCRIPT_FILE], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
      child.on('close', (c) => resolve(c ?? 1));
    });
    const file = join(outDir, 'r1-2-0.pb');
    return { code, stderr: stderr.join(''), ...(existsSync(file) ? { result: readFileSync(file) } : {}) };
  }

  it('with the environment OSCAR sets, writes the right result under the input file name; a bad payload still leaves an error result', async () => {
    const point = analysis.splitPoints[2]!;
    const parts = buildParts(analysis, [point.position]);
    const cloud = parts.find((p) => p.plan.number !== 1)!;
    const bytes = cloud.part.model.concat();
    const h = sha256(bytes);
    await store.store.put(`models/${h}.onnx`, bytes);
    const feeds = feedsFor(analysis);
    const edge = await createSession(parts[0]!.part.model.concat(), {});
    const full = await createSession(analysis.model.bytes, {});
    const cut = await edge.run(feeds);
    const expected = await full.run(feeds);
    await edge.release();
    await full.release();
    const payload = Buffer.concat(encodePayload({ kind: 'input', runId: 'r1', splitIndex: 2, rep: 0, nextModels: [h], timings: [], outputs: analysis.index.outputs, tensors: new Map(Object.entries(cut)) }).parts);
    const ok = await runScript(payload);
    assert.equal(ok.code, 0, ok.stderr);
    const result = decodePayload(ok.result!);
    assert.equal(result.error, undefined);
    assert.equal(result.runId, 'r1');
    for (const [name, t] of Object.entries(expected)) {
      const a = result.tensors.get(name)!.data as Float32Array;
      const b = t.data as Float32Array;
      for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5);
    }
    const bad = await runScript(Buffer.from('not a payload'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid payload|payload/i);
    const err = decodePayload(bad.result!);
    assert.match(err.error!, /payload/i, 'an error result names the problem');
  });
});

