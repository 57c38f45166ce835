/**
 * The run configuration: built from flag values, its cloud part encoded one way and checked on
 * decode with a one-line error naming the bad field, by the library and by the real onnx-cloud.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cloudConfigArgs, cloudConfigDifferences, cloudSessionOptions, decodeCloudConfig, encodeCloudConfig, type CloudConfig } from '../../src/config/cloud-config.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { buildRunConfig, cloudConfigFromFlags, cloudConfigOf, edgeSessionOptions, runConfigWarnings, threadColumns } from '../../src/config/run-config.js';
import { projectRoot } from '../models/zoo.js';

const full: CloudConfig = { provider: { name: 'cuda', deviceId: 1 }, graphOptimizationLevel: 'extended', threads: 3, bucket: 'b-1', region: 'r' };

describe('the cloud configuration on the wire', () => {
  it('round-trips, in a fixed field order, with a version', () => {
    const text = encodeCloudConfig(full);
    assert.equal(text, '{"v":1,"provider":{"name":"cuda","deviceId":1},"graphOptimizationLevel":"extended","threads":3,"bucket":"b-1","region":"r"}');
    assert.deepEqual(decodeCloudConfig(text), full);
    const minimal: CloudConfig = { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'b' };
    assert.deepEqual(decodeCloudConfig(encodeCloudConfig(minimal)), minimal);
    assert.deepEqual(cloudConfigArgs(minimal), ['--cloud_config', encodeCloudConfig(minimal)]);
    assert.deepEqual(cloudSessionOptions(full), { executionProviders: [{ name: 'cuda', deviceId: 1 }], graphOptimizationLevel: 'extended', intraOpNumThreads: 3 });
    assert.deepEqual(cloudConfigDifferences(full, { ...full, threads: 2, bucket: 'x' }), ['threads', 'bucket']);
  });

  it('refuses bad input in one line naming the field', () => {
    const base = JSON.parse(encodeCloudConfig(full)) as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      [{ ...base, v: 2 }, /field 'v' must be 1 .*got 2/],
      [{ ...base, v: undefined }, /field 'v' must be 1/],
      [{ ...base, threads: 0 }, /field 'threads' must be an integer >= 1, got 0/],
      [{ ...base, threads: 1.5 }, /field 'threads'/],
      [{ ...base, graphOptimizationLevel: 'max' }, /field 'graphOptimizationLevel' must be one of disabled, basic, extended, all, got "max"/],
      [{ ...base, provider: { name: 'quantum' } }, /field 'provider.name' must be one of cpu, cuda/],
      [{ ...base, provider: { name: 'cuda', deviceId: -1 } }, /field 'provider.deviceId' must be an integer >= 0/],
      [{ ...base, provider: { name: 'cuda', device: 1 } }, /field 'provider.device' is not a field/],
      [{ ...base, provider: 'cuda' }, /field 'provider' must be an object/],
      [{ ...base, bucket: '' }, /field 'bucket' must be a non-empty string/],
      [{ ...base, bucket: 'a\nb' }, /field 'bucket' must be a non-empty string without control characters/],
      [{ ...base, secretKey: 'x' }, /field 'secretKey' is not a field of version 1/],
      [[1], /field 'v' must be 1/],
    ];
    for (const [value, re] of cases) {
      assert.throws(() => decodeCloudConfig(JSON.stringify(value)), (e: Error) => e.name === 'UsageError' && /^--cloud_config: /.test(e.message) && re.test(e.message) && !e.message.includes('\n'), JSON.stringify(value));
    }
    assert.throws(() => decodeCloudConfig('{not json'), { name: 'UsageError', message: '--cloud_config: not JSON ({not json)' });
  });
});

describe('the run configuration from flag values', () => {
  it('applies the defaults once, and names a bad flag', () => {
    const c = buildRunConfig({ cloud: 'kubernetes' }, {});
    assert.equal(c.timeoutMs, DEFAULTS.timeoutS * 1000);
    assert.equal(c.warmup, DEFAULTS.warmup);
    assert.equal(c.edgeThreads, undefined, 'onnxruntime picks for a remote cloud');
    assert.equal(c.cloudThreads, undefined, 'onnxruntime picks for a remote cloud');
    assert.equal(c.spinning, undefined, "a remote cloud keeps onnxruntime's spinning");
    assert.deepEqual(cloudConfigOf(c), { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'onnx-manager' });
    assert.equal(cloudConfigOf(buildRunConfig({ cloud: 'kubernetes' }, { MINIO_BUCKET: 'from-env', MINIO_REGION: 'eu' })).bucket, 'from-env');
    assert.equal(cloudConfigOf(buildRunConfig({ cloud: 'kubernetes', minio_bucket: 'flag' }, { MINIO_BUCKET: 'from-env' })).bucket, 'flag');
    assert.deepEqual(cloudConfigFromFlags({ exec_type: 'gpu', device_type: 'cuda:2', graph_opt: 'disabled', threads: 4 }, { MINIO_REGION: 'eu' }), {
      provider: { name: 'cuda', deviceId: 2 }, graphOptimizationLevel: 'disabled', threads: 4, bucket: 'onnx-manager', region: 'eu',
    });
    for (const [flags, re] of [
      [{ cloud: 'mars' }, /--cloud mars is not a backend \(one of: local, oscar, kubernetes, ssh\)/],
      [{ timeout: 0 }, /--timeout must be a positive number of seconds, got 0/],
      [{ threads: 0 }, /--threads must be an integer >= 1, got 0/],
      [{ edge_threads: 0 }, /--edge_threads must be an integer >= 1, got 0/],
      [{ cloud_threads: 1.5 }, /--cloud_threads must be an integer >= 1, got 1.5/],
      [{ warmup: -1 }, /--warmup must be an integer >= 0, got -1/],
      [{ graph_opt: 'max' }, /--graph_opt must be one of disabled, basic, extended, all, got 'max'/],
      [{ exec_type: 'quantum' }, /unknown --exec_type 'quantum'/],
      [{ device_type: 'x' }, /--device_type must be a device number/],
    ] as const) {
      assert.throws(() => buildRunConfig(flags, {}), re);
    }
  });

  it('gives each side every core with spinning off when the cloud is local, and each side its own threads on request', () => {
    const cores = availableParallelism();
    const local = buildRunConfig({}, {});
    assert.deepEqual([local.edgeThreads, local.cloudThreads, local.spinning], [cores, cores, false]);
    assert.deepEqual(edgeSessionOptions(local), { executionProviders: [{ name: 'cpu' }], graphOptimizationLevel: 'all', intraOpNumThreads: cores, allowSpinning: false });
    assert.deepEqual(cloudSessionOptions(cloudConfigOf(local)), { executionProviders: [{ name: 'cpu' }], graphOptimizationLevel: 'all', intraOpNumThreads: cores, allowSpinning: false });
    assert.equal(encodeCloudConfig(cloudConfigOf(local)), `{"v":1,"provider":{"name":"cpu"},"graphOptimizationLevel":"all","threads":${cores},"spinning":false,"bucket":"onnx-manager"}`);
    const both = buildRunConfig({ threads: 3 }, {});
    assert.deepEqual([both.edgeThreads, both.cloudThreads], [3, 3], '--threads sets both sides');
    const sides = buildRunConfig({ threads: 3, edge_threads: 1, cloud_threads: 5 }, {});
    assert.deepEqual([sides.edgeThreads, sides.cloudThreads], [1, 5], 'each side overrides --threads');
    assert.equal(edgeSessionOptions(sides).intraOpNumThreads, 1);
    assert.equal(cloudConfigOf(sides).threads, 5);
    assert.deepEqual(threadColumns(sides), { edge_threads: 1, cloud_threads: 5, spinning: 'off' });
    const remote = buildRunConfig({ cloud: 'kubernetes', cloud_threads: 8 }, {});
    assert.deepEqual(threadColumns(remote), { edge_threads: '', cloud_threads: 8, spinning: 'on' });
    assert.equal(edgeSessionOptions(remote).intraOpNumThreads, undefined);
    assert.throws(() => decodeCloudConfig('{"v":1,"provider":{"name":"cpu"},"graphOptimizationLevel":"all","spinning":"no","bucket":"b"}'), /field 'spinning' must be true or false, got "no"/);
  });

  it('says, without refusing, threads beyond the cores of a side that runs here and a --timeout under a second', () => {
    assert.deepEqual(runConfigWarnings(buildRunConfig({}), 2), [], 'the defaults say nothing');
    const many = runConfigWarnings(buildRunConfig({ edge_threads: 1000 }), 2);
    assert.equal(many.length, 1);
    assert.match(many[0]!, /^1000 intra-op threads for the edge \(--edge_threads or --threads\) is more than this machine's 2 cores/);
    assert.equal(runConfigWarnings(buildRunConfig({ threads: 8 }), 2).length, 2, 'both sides run here with the local cloud');
    assert.equal(runConfigWarnings(buildRunConfig({ threads: 8, cloud: 'ssh', ssh_host: 'h' } as never), 2).length, 1, "a remote cloud's cores are not this machine's");
    assert.match(runConfigWarnings(buildRunConfig({ timeout: 0.001 }), 2)[0]!, /^--timeout 0\.001 s is shorter than loading a part usually takes: .*\(the flag is in seconds\)$/);
  });

  it('--spinning on keeps onnxruntime\'s spinning on a local sweep, --spinning off turns it off anywhere', () => {
    const on = buildRunConfig({ spinning: 'on' }, {});
    assert.equal(on.spinning, undefined);
    assert.equal(threadColumns(on).spinning, 'on');
    assert.equal(edgeSessionOptions(on).allowSpinning, undefined);
    assert.ok(!encodeCloudConfig(cloudConfigOf(on)).includes('spinning'), 'the cloud keeps its default too');
    const off = buildRunConfig({ cloud: 'kubernetes', spinning: 'off' }, {});
    assert.equal(threadColumns(off).spinning, 'off');
    assert.equal(cloudConfigOf(off).spinning, false);
    assert.throws(() => buildRunConfig({ spinning: 'sometimes' }, {}), /--spinning must be on or off, got sometimes/);
  });

  it("parses the chosen backend's own flags once, naming a bad one", () => {
    assert.deepEqual(buildRunConfig({ cloud: 'local', ssh_host: 'ignored' }, {}).backend, { name: 'local' });
    assert.deepEqual(buildRunConfig({ cloud: 'ssh', ssh_host: 'u@h', ssh_command: 'node /srv/c.js --serve', ssh_key: '/k' }, {}).backend, {
      name: 'ssh', host: 'u@h', command: ['node', '/srv/c.js', '--serve'], connect: { keyFile: '/k' },
    });
    const kube = buildRunConfig({ cloud: 'kubernetes', kube_mode: 'worker', kube_ssh_host: 'u@bastion', ssh_known_hosts: '/kh' }, {}).backend;
    assert.equal(kube.name, 'kubernetes');
    if (kube.name === 'kubernetes') {
      assert.equal(kube.kube.mode, 'worker');
      assert.equal(kube.kube.sshHost, 'u@bastion');
      assert.deepEqual(kube.ssh, { knownHostsFile: '/kh' });
    }
    assert.deepEqual(buildRunConfig({ cloud: 'oscar', oscar_service: ' svc ', oscar_trigger: 'job', minio_bucket: 'b' }, {}).backend, {
      name: 'oscar', oscar: { service: 'svc', trigger: 'job', cleanup: false, bucket: 'b' },
    });
    for (const [flags, re] of [
      [{ cloud: 'ssh' }, /--cloud ssh needs --ssh_host/],
      [{ cloud: 'ssh', ssh_host: 'u@h', ssh_command: 'a; b' }, /--ssh_command 'a; b' has shell syntax/],
      [{ cloud: 'kubernetes', kube_namespace: 'Bad_NS' }, /--kube_namespace 'Bad_NS' is not a namespace name/],
      [{ cloud: 'kubernetes', kube_store_endpoint: 'http://k:s@minio:9000' }, /--kube_store_endpoint must not contain credentials/],
      [{ cloud: 'oscar' }, /--cloud oscar needs --oscar_service/],
      [{ cloud: 'oscar', oscar_service: 's', oscar_trigger: 'mail' }, /--oscar_trigger must be one of upload, job, got 'mail'/],
    ] as const) {
      assert.throws(() => buildRunConfig(flags, {}), re);
    }
  });

  it('never puts a store key into the cloud configuration', () => {
    const c = buildRunConfig({ cloud: 'ssh', ssh_host: 'u@h', minio_endpoint: 'http://s3.example:9000' }, { MINIO_ACCESS_KEY: 'AK-visible', MINIO_SECRET_KEY: 'sk-secret' });
    assert.equal(c.store.secretKey, 'sk-secret');
    assert.doesNotMatch(encodeCloudConfig(cloudConfigOf(c)), /AK-visible|sk-secret|s3\.example/);
  });
});

describe('onnx-cloud --cloud_config', () => {
  const onnxCloud = join(projectRoot(), 'dist', 'cloud', 'onnx-cloud.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [onnxCloud, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });

  it('a bad configuration, or one given beside a flag it holds, is one line and exit 2', () => {
    const bad = run('--serve', '--cloud_config', '{"v":1,"provider":{"name":"cpu"},"graphOptimizationLevel":"all","bucket":"b","threads":-2}');
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(bad.stderr.trim(), "onnx-cloud: --cloud_config: field 'threads' must be an integer >= 1, got -2");
    const both = run('--serve', '--cloud_config', encodeCloudConfig({ provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'b' }), '--threads', '2');
    assert.equal(both.status, 2, both.stderr);
    assert.equal(both.stderr.trim(), 'onnx-cloud: --cloud_config holds the cloud settings: give it or --threads, not both');
  });
});
