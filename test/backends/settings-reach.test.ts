/**
 * Every setting of a run reaches every backend's cloud process, in the one --cloud_config
 * encoding: provider and device id, threads, graph optimisation level, bucket and region, from the
 * same command-line flags, to the local worker, onnx-cloud over SSH, a Kubernetes Job and worker
 * pod, and an OSCAR job (through the service environment deploy writes and the script reads).
 * Each cloud process reports what it decoded (the worker's 'ready' line, onnx-cloud's JSON line
 * in the job log); the run works against the bucket named, and a mismatch is refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBackend, localModule } from '../../src/backends/local.js';
import { OscarClient } from '../../src/backends/oscar-client.js';
import { WorkerBackend, type WorkerStreams } from '../../src/backends/worker-client.js';
import { decodeCloudConfig, encodeCloudConfig, type CloudConfig } from '../../src/config/cloud-config.js';
import { buildRunConfig, cloudConfigOf } from '../../src/config/run-config.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { openStore } from '../../src/storage/open.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { cli } from '../cli-helper.js';
import { projectRoot, zoo } from '../models/zoo.js';
import { KubeServer } from './kube-server.js';
import { OscarTestServer } from './oscar-server.js';
import { keyPair, TestSshServer } from './ssh-server.js';

const BUCKET = 'reach-bucket';
/** The embedded server's region (it checks the region of every signature). */
const REGION = 'us-east-1';
const EXPECTED: CloudConfig = { provider: { name: 'cpu', deviceId: 0 }, graphOptimizationLevel: 'basic', threads: 1, bucket: BUCKET, region: REGION };
const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-reach-'));
const model = join(dir, 'lenet5.onnx');
let store: EmbeddedStore;
const ENV = ['MINIO_ENDPOINT', 'MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY', 'MINIO_BUCKET', 'MINIO_REGION', 'KUBECONFIG', 'OSCAR_USERNAME', 'OSCAR_PASSWORD', 'OSCAR_TOKEN', 'HOME'];
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

/** The same settings for every backend, as flags. */
const settings = () => [
  '--exec_type', 'CPU', '--device_type', '0', '--threads', '1', '--graph_opt', 'basic',
  '--minio_endpoint', store.endpoint, '--minio_bucket', BUCKET, '--minio_region', REGION,
];

/** run_all of split 1 (one repetition) on a backend, with the settings. */
async function runOne(name: string, backend: string[]): Promise<void> {
  const r = await cli(['--operation', 'run_all', '--onnx_file', model, '--splits', '1', '--rep', '1', '--warmup', '0', '--results_file', join(dir, `${name}.csv`), ...settings(), ...backend]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /rows failed/, r.out);
}

/** The --cloud_config word of an argument list. */
function configIn(argv: readonly string[]): CloudConfig {
  const i = argv.indexOf('--cloud_config');
  assert.ok(i >= 0 && argv[i + 1], `no --cloud_config in ${argv.join(' ')}`);
  return decodeCloudConfig(argv[i + 1]!);
}

/** The `config` of onnx-cloud's JSON report line in a log. */
function reportedIn(log: string): CloudConfig {
  const line = log.split('\n').map((l) => l.replace(/^\S+Z\s/, '').trim()).find((l) => l.startsWith('{') && l.includes('"config"'));
  assert.ok(line, `no report line in the log:\n${log}`);
  return (JSON.parse(line) as { config: CloudConfig }).config;
}

before(async () => {
  store = await startEmbeddedStore({ bucket: BUCKET });
  writeFileSync(model, encodeModel(zoo.find((z) => z.name === 'lenet5')!.build()));
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, { MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey, HOME: dir });
});

after(async () => {
  await store.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('every setting reaches every cloud process', () => {
  it('the flags build the configuration the cloud side gets', () => {
    const config = buildRunConfig({ exec_type: 'CPU', device_type: '0', threads: 1, graph_opt: 'basic', minio_bucket: BUCKET, minio_region: REGION, cloud: 'ssh', ssh_host: 'u@h' }, {});
    assert.deepEqual(cloudConfigOf(config), EXPECTED);
  });

  it('local worker: the worker reports the configuration it runs with; the run uses the bucket', async () => {
    const config = buildRunConfig({ exec_type: 'CPU', device_type: '0', threads: 1, graph_opt: 'basic', minio_endpoint: store.endpoint, minio_bucket: BUCKET, minio_region: REGION }, process.env);
    const opened = await openStore(config.store);
    const access = { endpoint: store.endpoint, accessKey: store.accessKey, secretKey: store.secretKey, bucket: BUCKET, region: REGION };
    const backend = (await localModule.create({ config, cloud: cloudConfigOf(config), store: Promise.resolve(opened.store), storeAccess: access, embeddedStore: false, env: process.env, warn: () => undefined })) as LocalBackend;
    try {
      await backend.warmUp();
      // The local cloud's worker also sleeps its idle threads (the edge and it share this machine).
      assert.deepEqual(backend.workerConfig, { ...EXPECTED, spinning: false });
    } finally {
      await backend.close();
      await opened.stop();
    }
    const before = (await store.store.list('models/')).length;
    await runOne('local', ['--cloud', 'local', '--keep_objects']);
    assert.ok((await store.store.list('models/')).length > before, `the parts went to bucket ${BUCKET}`);
  });

  it('SSH: the remote command carries it, and the remote worker runs with it', async () => {
    const hostKey = keyPair('ed25519', 'host');
    const clientKey = keyPair('ed25519', 'client');
    const server = await new TestSshServer({ hostKeys: [hostKey], user: 'tester', authorized: [clientKey] }).start();
    try {
      const key = join(dir, 'id_client');
      writeFileSync(key, clientKey.private, { mode: 0o600 });
      const known = join(dir, 'known_hosts');
      writeFileSync(known, `[127.0.0.1]:${server.port} ${hostKey.parsed.type} ${hostKey.blob.toString('base64')}\n`);
      await runOne('ssh', ['--cloud', 'ssh', '--ssh_host', `tester@127.0.0.1:${server.port}`, '--ssh_key', key, '--ssh_known_hosts', known]);
      // What the host's shell makes of the command line: the words onnx-cloud gets.
      const argv = spawnSync('sh', ['-c', `printf '%s\\0' ${server.execs.at(-1)!.command}`], { encoding: 'utf8' }).stdout.split('\0');
      assert.deepEqual(configIn(argv), EXPECTED);
      // The worker's 'ready' line is checked against what was sent: the run above would have failed otherwise.
    } finally {
      await server.stop();
    }
  });

  it('Kubernetes: the Job and the worker pod get it, and onnx-cloud in the Job reports it', async () => {
    const server = await new KubeServer({ onnxCloud: join(projectRoot(), 'dist', 'cloud', 'onnx-cloud.js') }).start();
    process.env.KUBECONFIG = server.kubeconfig(join(dir, 'kubeconfig'));
    try {
      await runOne('kube-job', ['--cloud', 'kubernetes', '--kube_keep_jobs']);
      const spec = server.podSpecs.at(-1)!;
      assert.deepEqual(configIn(spec.containers[0].args), EXPECTED);
      const [key] = [...server.pods.keys()];
      const [ns, pod] = key!.split('/');
      assert.deepEqual(reportedIn(server.podLog(ns!, pod!) ?? ''), EXPECTED);
      // The Secret holds only what is secret: endpoint and keys.
      assert.deepEqual(Object.keys(server.secrets.get('onnx-manager/onnx-manager-store')!.data).sort(), ['MINIO_ACCESS_KEY', 'MINIO_ENDPOINT', 'MINIO_SECRET_KEY']);

      await runOne('kube-worker', ['--cloud', 'kubernetes', '--kube_mode', 'worker']);
      assert.deepEqual(configIn(server.execs.at(-1)!.command), EXPECTED);
    } finally {
      await server.stop();
    }
  });

  it('OSCAR: deploy writes it into the service, the script hands it to onnx-cloud, a run with other settings is refused', async () => {
    const user = 'oscar';
    const password = 'pw-reach';
    const server = await OscarTestServer.start({ username: user, password, store });
    Object.assign(process.env, { OSCAR_USERNAME: user, OSCAR_PASSWORD: password });
    try {
      const oscar = ['--cloud', 'oscar', '--oscar_endpoint', server.url, '--oscar_service', 'reach'];
      const d = await cli(['--operation', 'deploy', '--oscar_service', 'reach', '--oscar_endpoint', server.url, '--oscar_log_level', 'DEBUG', '--onnx_path', join(dir, 'fdl'), '--apply', ...settings()]);
      assert.equal(d.code, 0, d.err);
      const svc = server.services.get('reach')!;
      assert.deepEqual(decodeCloudConfig(svc.environment!.variables!.ONNX_MANAGER_CLOUD_CONFIG!), EXPECTED);
      await runOne('oscar', oscar);
      const client = new OscarClient({ endpoint: server.url, auth: { kind: 'basic', username: user, password } });
      const jobs = Object.keys(await client.allJobs('reach'));
      assert.equal(jobs.length, 1);
      assert.deepEqual(reportedIn(await client.jobLogs('reach', jobs[0]!, true)), EXPECTED);
      const other = await cli(['--operation', 'run_all', '--onnx_file', model, '--splits', '1', '--rep', '1', '--results_file', join(dir, 'oscar-other.csv'), ...settings().map((v, i, a) => (a[i - 1] === '--threads' ? '2' : v)), ...oscar]);
      assert.notEqual(other.code, 0);
      assert.match(other.err, /^onnx-manager: OSCAR service 'reach' is deployed with other cloud settings than this run asks for \(threads: /);
      assert.equal(other.err.trim().split('\n').length, 1, other.err);
    } finally {
      await server.stop();
    }
  });

  it('a worker that reports another configuration than it was given (or none) is refused, naming the fields', async () => {
    /** A worker process that answers 'ready' with the given line and then waits. */
    class FakeWorker extends WorkerBackend {
      readonly name = 'fake';
      protected readonly label = 'the fake worker';
      constructor(private readonly reply: Record<string, unknown>) {
        super(EXPECTED);
      }
      protected async spawnWorker(): Promise<WorkerStreams> {
        const child = spawn(process.execPath, ['-e', `process.stdout.write(${JSON.stringify(`${JSON.stringify(this.reply)}\n`)}); process.stdin.resume()`], { stdio: ['pipe', 'pipe', 'inherit'] });
        const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
        return { stdin: child.stdin, stdout: child.stdout, exited, kill: () => child.kill('SIGKILL') };
      }
    }
    const other = encodeCloudConfig({ ...EXPECTED, threads: 7, bucket: 'elsewhere' });
    for (const [ready, re] of [
      [{ type: 'ready', config: other }, /the fake worker does not run with the cloud configuration it was given \(threads, bucket differ\)/],
      [{ type: 'ready' }, /the fake worker does not run with the cloud configuration it was given \(all of it differ\)/],
      [{ type: 'ready', config: '{"v":1}' }, /: the 'ready' line of the fake worker: field 'provider' must be an object/],
    ] as const) {
      const w = new FakeWorker(ready);
      try {
        await assert.rejects(w.warmUp(), re);
      } finally {
        await w.close();
      }
    }
    const good = new FakeWorker({ type: 'ready', config: encodeCloudConfig(EXPECTED) });
    try {
      await good.warmUp();
      assert.deepEqual(good.workerConfig, EXPECTED);
    } finally {
      good.kill();
      await good.close();
    }
  });
});
