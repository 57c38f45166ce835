/**
 * The kubernetes backend against a loopback API server (kube-server.ts) whose "kubelet" runs the
 * real onnx-cloud: run_all through Jobs and through an exec'd worker, results equal to the full
 * model, the store coordinates only in the Secret, Jobs cleaned up; failed, never-scheduled and
 * unauthorised cases; kubectl as a second client of the same server (proves the object shapes).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { jobManifest, jobName, SECRET_KEYS, secretManifest, workerPodManifest } from '../../src/backends/kube/spec.js';
import { decodeCloudConfig } from '../../src/config/cloud-config.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { cli as runCli } from '../cli-helper.js';
import { readProfile } from '../../src/profile/layer-profile.js';
import { JOB_CALIBRATION_REP } from '../../src/profile/cycle-calibration.js';
import { chainSplitPoints } from '../helpers.js';
import { projectRoot, zoo } from '../models/zoo.js';
import { EMBEDDED_ACCESS_KEY, startEmbeddedStore } from '../../src/storage/embedded.js';
import { running } from '../processes.js';
import { KubeServer, selfSignedCert, type PodFault } from './kube-server.js';
import { keyPair, TestSshServer } from './ssh-server.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-kube-'));
const onnxCloud = join(projectRoot(), 'dist', 'cloud', 'onnx-cloud.js');
const faults = new Map<string, PodFault>(); // split index -> fault
/** Over HTTPS with a CA in the kubeconfig (kubectl sends no token over http); plainServer speaks http://. */
let server: KubeServer;
let plainServer: KubeServer;
let kubeconfig: string;
let model: string;

before(async () => {
  server = await new KubeServer({
    onnxCloud,
    tls: await selfSignedCert(dir),
    failLine: 'onnx-cloud: simulated crash: the container ran out of memory',
    fault: (job) => faults.get(String(job.metadata.labels['onnx-manager/split'])),
  }).start();
  kubeconfig = server.kubeconfig(join(dir, 'kubeconfig'));
  plainServer = await new KubeServer({ onnxCloud }).start();
  model = join(dir, 'lenet5.onnx');
  writeFileSync(model, encodeModel(zoo.find((z) => z.name === 'lenet5')!.build()));
});
after(async () => {
  await server.stop();
  await plainServer.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ENV_KEYS = ['KUBECONFIG', 'MINIO_ENDPOINT', 'MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY', 'HOME', 'SSH_AUTH_SOCK', 'SSH_KEY_FILE', 'SSH_PASSWORD', 'SSH_PASSWORD_FILE'];

/** main() with KUBECONFIG set (and only the given store/SSH variables). */
const cli = (args: string[], config = kubeconfig, env: Record<string, string> = {}) =>
  runCli(args, { env: { ...Object.fromEntries(ENV_KEYS.filter((k) => k !== 'HOME').map((k) => [k, undefined])), KUBECONFIG: config, ...env } });

/** kubectl against the loopback server (asynchronously: the server runs in this process). */
async function kubectl(...args: string[]): Promise<string> {
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const r = await run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(home, 'cache'), '--request-timeout', '10s', ...args], {
    env: { PATH: process.env.PATH, HOME: home },
    timeout: 20_000,
  });
  return r.stdout;
}

function rows(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

/** Resolves once `done()` holds (polled; no time limit of its own: the test's timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Runs `f` (a worker-mode sweep writing `csv`), stopping its first worker (SIGSTOP) once the first
 * row is in the CSV; gives the pid stopped.
 */
async function withFirstWorkerStopped<T>(csv: string, f: () => Promise<T>): Promise<{ stopped?: number; r: T }> {
  const execsBefore = plainServer.execs.length;
  let stopped: number | undefined;
  let watching = true;
  const watch = (async () => {
    while (watching && stopped === undefined) {
      await new Promise((r) => setTimeout(r, 20));
      const first = plainServer.execs[execsBefore]?.proc;
      if (first?.pid !== undefined && existsSync(csv) && readFileSync(csv, 'utf8').trim().split('\n').length >= 2) {
        stopped = first.pid;
        process.kill(stopped, 'SIGSTOP');
      }
    }
  })();
  try {
    const r = await f();
    return { ...(stopped !== undefined ? { stopped } : {}), r };
  } finally {
    watching = false;
    await watch;
  }
}

const POST_JOB = 'POST /apis/batch/v1/namespaces/onnx-manager/jobs';
// lenet5 is a chain: one split point per node and the input; the last one is edge only.
const SPLIT_POINTS = chainSplitPoints(zoo.find((z) => z.name === 'lenet5')!.build());
const LAST_SPLIT = SPLIT_POINTS - 1;

describe('--cloud kubernetes', () => {
  it('run_all over Jobs: rows ok, results equal the full model, job and CPU columns filled, Jobs deleted, keys only in the Secret', async () => {
    const csv = join(dir, 'jobs.csv');
    const before = server.requests.filter((r) => r.startsWith(POST_JOB)).length;
    const r = await cli(['--operation', 'run_all', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--threads', '1', '--cloud', 'kubernetes', '--results_file', csv]);
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    assert.equal(got.length, SPLIT_POINTS * 2);
    for (const row of got) {
      assert.equal(row.status, 'ok', `${row.split_index}/${row.rep}: ${row.error}`);
      assert.ok(Number(row.max_abs_diff) <= 1e-5, `split ${row.split_index}: max diff ${row.max_abs_diff}`);
      // The CPU time of each side's part, as the process that ran it measured it (the Job's onnx-cloud for the cloud).
      assert.equal(row.edge_cpu_ms === '', row.split_index === '0', `split ${row.split_index}: edge_cpu_ms '${row.edge_cpu_ms}'`);
      if (row.split_index !== '0') assert.ok(Number(row.edge_cpu_ms) > 0, `edge_cpu_ms ${row.edge_cpu_ms}`);
      if (Number(row.split_index) === LAST_SPLIT) {
        assert.equal(row.backend, 'none');
        assert.equal(row.cloud_cpu_ms, '', 'nothing ran in the cloud');
        continue;
      }
      assert.ok(Number(row.cloud_cpu_ms) > 0, `split ${row.split_index}: cloud_cpu_ms '${row.cloud_cpu_ms}'`);
      assert.equal(row.backend, 'kubernetes');
      assert.match(row.job_name!, new RegExp(`^onnx-.*-s${row.split_index}-r${row.rep}$`));
      for (const c of ['job_queue_s', 'job_run_s'] as const) assert.ok(row[c] !== '' && Number(row[c]) >= 0, `${c} = '${row[c]}'`);
      assert.ok(Number(row.wait_ms) >= Number(row.cloud_ms));
    }
    assert.equal(server.requests.filter((x) => x.startsWith(POST_JOB)).length - before, LAST_SPLIT * 2, 'one Job per payload (none for the edge-only split)');
    // Jobs deleted with their pods (propagationPolicy Background).
    assert.equal(server.jobs.size, 0);
    assert.equal(server.pods.size, 0);
    assert.ok(server.requests.some((x) => x.startsWith('DELETE /apis/batch/v1/namespaces/onnx-manager/jobs/')));
    // The Secret holds the store coordinates...
    const secret = server.secrets.get('onnx-manager/onnx-manager-store');
    assert.ok(secret, 'the Secret exists');
    const data = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    assert.match(data.MINIO_ENDPOINT!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(data.MINIO_ACCESS_KEY, EMBEDDED_ACCESS_KEY);
    assert.match(data.MINIO_SECRET_KEY!, /^[\w-]{32}$/, 'the embedded store makes a secret key of its own');
    assert.deepEqual(Object.keys(data).sort(), ['MINIO_ACCESS_KEY', 'MINIO_ENDPOINT', 'MINIO_SECRET_KEY']);
    // ... and no pod spec does: every variable is a reference to it.
    assert.ok(server.podSpecs.length >= LAST_SPLIT * 2);
    for (const spec of server.podSpecs) {
      const text = JSON.stringify(spec);
      assert.ok(!text.includes(data.MINIO_SECRET_KEY!) && !text.includes(data.MINIO_ENDPOINT!), 'no key or endpoint in a pod spec');
      for (const e of spec.containers[0].env) assert.ok(e.valueFrom?.secretKeyRef?.name === 'onnx-manager-store' && e.value === undefined, JSON.stringify(e));
      // The run's settings, bucket included, are the one --cloud_config.
      const args = spec.containers[0].args as string[];
      assert.deepEqual(decodeCloudConfig(args[args.indexOf('--cloud_config') + 1]!), { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', threads: 1, bucket: 'onnx-manager' });
    }
  });

  it('a failing Job is an error row with its last log line, a Job never scheduled times out, and the sweep goes on; kubectl reads the kept Jobs', async () => {
    faults.set('2', 'fail');
    faults.set('3', 'pending');
    const csv = join(dir, 'faults.csv');
    let r;
    try {
      r = await cli([
        '--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--warmup', '0', '--splits', '1', '2', '3', '4',
        '--timeout', '10', '--cloud', 'kubernetes', '--kube_keep_jobs', '--results_file', csv,
      ]);
    } finally {
      faults.clear();
    }
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /onnx-manager: \d+ of \d+ rows failed; see the status and error columns/, 'failed rows make the exit code 1');
    const got = rows(csv);
    assert.deepEqual(
      got.map((x) => `${x.split_index}:${x.status}`),
      ['1:ok', '2:error', '3:timeout', '4:ok'],
    );
    assert.match(got[1]!.error!, /Kubernetes Job onnx-.*-s2-r0 failed: container exited with code 1 \(Error\): onnx-cloud: simulated crash: the container ran out of memory$/);
    assert.match(got[2]!.error!, /output\/.*\/3\/0\.pb/);
    // kubectl sees what the backend made (kept with --kube_keep_jobs).
    const jobs = JSON.parse(await kubectl('get', 'jobs', '-n', 'onnx-manager', '-l', 'app=onnx-manager', '-o', 'json')) as { items: { metadata: { name: string; labels: Record<string, string> }; status: { conditions?: { type: string }[] } }[] };
    assert.equal(jobs.items.length, 4);
    const failed = jobs.items.find((j) => j.metadata.labels['onnx-manager/split'] === '2')!;
    assert.ok(failed.status.conditions?.some((c) => c.type === 'Failed'));
    const pods = JSON.parse(await kubectl('get', 'pods', '-n', 'onnx-manager', '-o', 'json')) as { items: { metadata: { name: string; labels: Record<string, string> }; status: { phase: string } }[] };
    const byJob = (name: string) => pods.items.find((p) => p.metadata.labels['job-name'] === name)!;
    assert.equal(byJob(failed.metadata.name).status.phase, 'Failed');
    const pending = jobs.items.find((j) => j.metadata.labels['onnx-manager/split'] === '3')!;
    assert.equal(byJob(pending.metadata.name).status.phase, 'Pending');
    const log = await kubectl('logs', '-n', 'onnx-manager', byJob(failed.metadata.name).metadata.name);
    assert.match(log, /simulated crash/);
    const secret = JSON.parse(await kubectl('get', 'secret', 'onnx-manager-store', '-n', 'onnx-manager', '-o', 'json')) as { data: Record<string, string> };
    assert.deepEqual(Object.keys(secret.data).sort(), ['MINIO_ACCESS_KEY', 'MINIO_ENDPOINT', 'MINIO_SECRET_KEY']);
    await kubectl('delete', 'jobs', '-n', 'onnx-manager', '-l', 'app=onnx-manager');
    assert.equal(server.jobs.size, 0);
    assert.equal(server.pods.size, 0, 'kubectl delete cascades to the pods');
  });

  it('worker mode over http://: one pod, onnx-cloud --serve exec’d in it over WebSocket, warm sessions, results equal the full model', async () => {
    const csv = join(dir, 'worker.csv');
    const jobsBefore = plainServer.requests.filter((x) => x.startsWith(POST_JOB)).length;
    const r = await cli([
      '--operation', 'run_all', '--onnx_file', model, '--rep', '2', '--warmup', '1', '--splits', '1', '5', '9',
      '--cloud', 'kubernetes', '--kube_mode', 'worker', '--results_file', csv,
    ], plainServer.kubeconfig(join(dir, 'plain-kubeconfig')));
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    assert.equal(got.length, 6);
    for (const row of got) {
      assert.equal(row.status, 'ok', row.error);
      assert.ok(Number(row.max_abs_diff) <= 1e-5);
      assert.match(row.job_name!, /^onnx-worker-[0-9a-f]{8}$/);
      assert.ok(Number(row.cloud_load_ms) > 0, 'the parts were loaded once, in prepare');
    }
    assert.equal(plainServer.requests.filter((x) => x.startsWith(POST_JOB)).length, jobsBefore, 'no Jobs in worker mode');
    assert.equal(plainServer.execs.length, 1, 'one worker for the whole sweep');
    assert.deepEqual(plainServer.execs[0]!.command.slice(0, 3), ['onnx-cloud', '--serve', '--cloud_config']);
    assert.equal(decodeCloudConfig(plainServer.execs[0]!.command[3]!).bucket, 'onnx-manager');
    const stored = (plainServer.secrets.get('onnx-manager/onnx-manager-store') as { data: Record<string, string> }).data;
    assert.ok(!plainServer.execs[0]!.command.join(' ').includes(Buffer.from(stored.MINIO_SECRET_KEY!, 'base64').toString()));
    assert.equal(plainServer.pods.size, 0, 'the worker pod is deleted at the end');
  });

  it('worker mode: a worker stopped (SIGSTOP) misses the deadline and is ended with its pod before a new pod runs the cycle again; no old worker process remains', { timeout: 120_000 }, async () => {
    const csv = join(dir, 'worker-stopped.csv');
    const eventsBefore = plainServer.events.length;
    const { stopped, r } = await withFirstWorkerStopped(csv, () =>
      cli([
        '--operation', 'run_all', '--onnx_file', model, '--rep', '4', '--warmup', '0', '--splits', '1', '--timeout', '3',
        '--cloud', 'kubernetes', '--kube_mode', 'worker', '--results_file', csv,
      ], plainServer.kubeconfig(join(dir, 'plain-kubeconfig'))),
    );
    assert.equal(r.code, 0, r.err);
    const got = rows(csv);
    assert.deepEqual(got.map((x) => x.status), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(got.reduce((n, x) => n + Number(x.cloud_restarts), 0), 1, 'one restart, in the row whose cycle ran again');
    assert.ok(stopped !== undefined, 'the worker was stopped');
    const pods = [...new Set(got.map((x) => x.job_name))];
    assert.equal(pods.length, 2, `two worker pods: ${pods.join(', ')}`);
    assert.match(pods[1]!, new RegExp(`^${pods[0]}-2$`), 'the new pod has a name of its own');
    assert.ok(plainServer.requests.some((x) => x.startsWith(`DELETE /api/v1/namespaces/onnx-manager/pods/${pods[0]}?gracePeriodSeconds=0`)), 'the old pod deleted at once');
    // In the order the cluster saw it: the stopped worker was killed with its pod, then the new pod
    // was made and its worker exec'd; the stopped process ended.
    const events = plainServer.events.slice(eventsBefore);
    const at = (e: string) => events.indexOf(e);
    const newExec = events.findIndex((e) => e.endsWith(` in ${pods[1]}`) && e.startsWith('exec '));
    assert.ok(at(`kill ${stopped}`) >= 0, `the stopped worker was killed: ${events.join('; ')}`);
    assert.ok(at(`delete pod ${pods[0]}`) < at(`kill ${stopped}`) && at(`kill ${stopped}`) < at(`create pod ${pods[1]}`), `killed with its pod, before the new pod was made: ${events.join('; ')}`);
    assert.ok(at(`create pod ${pods[1]}`) < newExec, events.join('; '));
    await until(() => plainServer.events.includes(`exit ${stopped}`));
    assert.equal(running(stopped!), false);
    assert.equal(events.filter((e) => e.startsWith('exec ')).length, 2, 'one worker per pod');
    assert.equal(plainServer.pods.size, 0, 'both worker pods are gone at the end');
  });

  it('worker mode with the user’s worker Deployment: a killed worker’s pod is deleted and the next worker runs in the pod its ReplicaSet makes instead, once Ready; no pod of the tool’s own competes with it', { timeout: 120_000 }, async () => {
    const store = await startEmbeddedStore({ bucket: 'deployed' });
    const rsName = 'onnx-worker-7c9d5b8f4';
    try {
      // As `kubectl apply -f cloud/k8s/secret.example.yaml -f cloud/k8s/worker.yaml` leaves the cluster.
      const secret = 'onnx-deployed-store';
      const made = await fetch(`${plainServer.url}/api/v1/namespaces/onnx-manager/secrets`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${plainServer.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(secretManifest(secret, 'onnx-manager', { endpoint: store.endpoint, accessKey: store.accessKey, secretKey: store.secretKey })),
      });
      assert.equal(made.status, 201);
      const template = workerPodManifest({ name: 'x', namespace: 'onnx-manager', image: 'onnx-cloud:0.1.0', secret, instance: 'deployed' }) as { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      const rs = plainServer.addReplicaSet({ namespace: 'onnx-manager', name: rsName, replicas: 1, template: { metadata: { labels: template.metadata.labels }, spec: template.spec } });
      const owned = () => [...plainServer.pods.values()].filter((p) => p.metadata.ownerReferences?.some((o: { uid: string }) => o.uid === rs.metadata.uid));
      await until(() => owned().some((p) => p.status.phase === 'Running'));
      const first = owned()[0]!.metadata.name as string;
      const eventsBefore = plainServer.events.length;
      const requestsBefore = plainServer.requests.length;
      const csv = join(dir, 'worker-deployed.csv');
      const { stopped, r } = await withFirstWorkerStopped(csv, () =>
        cli([
          '--operation', 'run_all', '--onnx_file', model, '--rep', '4', '--warmup', '0', '--splits', '1', '--timeout', '3',
          '--cloud', 'kubernetes', '--kube_mode', 'worker', '--kube_secret', secret, '--minio_bucket', 'deployed', '--kube_store_endpoint', store.endpoint, '--results_file', csv,
        ], plainServer.kubeconfig(join(dir, 'plain-kubeconfig')), { MINIO_ENDPOINT: store.endpoint, MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey }),
      );
      assert.equal(r.code, 0, r.err);
      const got = rows(csv);
      assert.deepEqual(got.map((x) => x.status), ['ok', 'ok', 'ok', 'ok'], got.map((x) => x.error).join('; '));
      assert.equal(got.reduce((n, x) => n + Number(x.cloud_restarts), 0), 1);
      const pods = [...new Set(got.map((x) => x.job_name))];
      assert.equal(pods[0], first, 'the first worker ran in the Deployment’s pod');
      assert.equal(pods.length, 2, pods.join(', '));
      assert.match(pods[1]!, new RegExp(`^${rsName}-[a-z0-9]{5}$`), 'the next one in the pod its ReplicaSet made');
      const requests = plainServer.requests.slice(requestsBefore);
      assert.deepEqual(requests.filter((x) => x.startsWith('POST /api/v1/namespaces/onnx-manager/pods')), [], 'the tool made no pod of its own');
      assert.ok(requests.some((x) => x.startsWith(`DELETE /api/v1/namespaces/onnx-manager/pods/${first}?gracePeriodSeconds=0`)), 'the killed worker’s pod deleted at once');
      const events = plainServer.events.slice(eventsBefore);
      const at = (e: string) => events.indexOf(e);
      const newExec = events.findIndex((e) => e.startsWith('exec ') && e.endsWith(` in ${pods[1]}`));
      assert.ok(at(`kill ${stopped}`) >= 0 && at(`kill ${stopped}`) < at(`create pod ${pods[1]}`) && at(`create pod ${pods[1]}`) < newExec, events.join('; '));
      assert.deepEqual(events.filter((e) => e.startsWith('create pod ')), [`create pod ${pods[1]}`], 'one pod made, by the ReplicaSet');
      assert.deepEqual(owned().map((p) => p.metadata.name), [pods[1]], 'the Deployment’s pod is left running');
    } finally {
      plainServer.removeReplicaSet('onnx-manager', rsName);
      await store.stop();
    }
  });

  it('profile in worker mode: the cloud side measured in the worker pod', async () => {
    const execsBefore = plainServer.execs.length;
    const results = join(dir, 'prof.csv');
    const r = await cli(['profile', '--onnx_file', model, '--rep', '2', '--cloud', 'kubernetes', '--kube_mode', 'worker', '--results_file', results], plainServer.kubeconfig(join(dir, 'plain-kubeconfig')));
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'prof.profile.csv'));
    assert.equal(p.settings.cloud.backend, 'kubernetes');
    assert.equal(p.nodes.filter((n) => n.side === 'cloud').length, 12);
    assert.equal(plainServer.execs.length, execsBefore + 1, 'onnx-cloud --serve exec’d in the pod');
    const cloudPid = Number(/^cloud .* \S+:(\d+) /m.exec(r.out)?.[1]);
    assert.ok(cloudPid > 0 && cloudPid !== process.pid, r.out);
  });

  it('profile in job mode: the cloud side measured in a Job of its own with the run’s threads and graph optimisation, then calibrated on Jobs; every Job deleted', async () => {
    const before = server.requests.filter((x) => x.startsWith(POST_JOB)).length;
    const specsBefore = server.podSpecs.length;
    const r = await cli(['profile', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--threads', '1', '--graph_opt', 'basic', '--cloud', 'kubernetes', '--results_file', join(dir, 'prof-job.csv')]);
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'prof-job.profile.csv'));
    assert.deepEqual(p.settings.cloud, { execType: 'CPU', graphOpt: 'basic', backend: 'kubernetes', threads: 1 });
    assert.equal(p.nodes.filter((n) => n.side === 'cloud').length, 12);
    assert.ok(p.nodes.filter((n) => n.side === 'cloud').every((n) => n.runs === 2));
    const cloudPid = Number(/^cloud .* \S+:(\d+) /m.exec(r.out)?.[1]);
    assert.ok(cloudPid > 0 && cloudPid !== process.pid, r.out);
    // The profile's Job ran onnx-cloud on the request's keys, as a cycle's Job does.
    const args = server.podSpecs.slice(specsBefore).map((spec) => [...(spec.containers[0].command ?? []), ...spec.containers[0].args] as string[]);
    const profileJob = args.find((a) => /\/profile\/0\.pb$/.test(a[a.indexOf('--input_key') + 1] ?? ''));
    assert.ok(profileJob, JSON.stringify(args[0]));
    assert.equal(profileJob[0], 'onnx-cloud');
    assert.deepEqual(decodeCloudConfig(profileJob[profileJob.indexOf('--cloud_config') + 1]!), { provider: { name: 'cpu' }, graphOptimizationLevel: 'basic', threads: 1, bucket: 'onnx-manager' });
    // One Job for the profile and one per calibration cycle (3 points, 3 cycles each).
    assert.equal(server.requests.filter((x) => x.startsWith(POST_JOB)).length - before, 1 + 3 * JOB_CALIBRATION_REP);
    assert.ok(p.fixed.cloud.cycle_scale!.medianMs >= 1);
    assert.equal(server.jobs.size, 0);
    assert.equal(server.pods.size, 0);
  });

  it('refuses wrong credentials, a missing namespace, --kube_ssh_psk and an embedded store with a remote cluster, each in one line', async () => {
    const jobsBefore = server.requests.filter((x) => x.startsWith(POST_JOB)).length;
    const base = ['--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--warmup', '0', '--cloud', 'kubernetes', '--results_file', join(dir, 'never.csv')];
    const wrong = await cli(base, server.kubeconfig(join(dir, 'wrong-token'), { token: 'not-the-token' }));
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /^onnx-manager: the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ rejected the credentials of context 'loopback' \(401 Unauthorized\)/);
    const ns = await cli([...base, '--kube_namespace', 'nowhere']);
    assert.equal(ns.code, 2);
    assert.match(ns.err, /namespace 'nowhere' does not exist .*kubectl create namespace nowhere/);
    const psk = await cli([...base, '--kube_ssh_host', 'me@bastion', '--kube_ssh_psk', 'hunter2']);
    assert.equal(psk.code, 2);
    assert.match(psk.err, /--kube_ssh_psk is refused: a password on the command line is visible .* process list .*SSH_PASSWORD_FILE.*ssh-agent/);
    assert.ok(!psk.err.includes('hunter2'));
    const remote = await cli(base, server.kubeconfig(join(dir, 'remote'), { server: 'https://10.255.255.1:6443' }));
    assert.equal(remote.code, 2);
    assert.match(remote.err, /the pods of the cluster at .* cannot reach the embedded store \(http:\/\/127\.0\.0\.1:\d+, .*\); give --minio_endpoint/);
    for (const x of [wrong, ns, psk, remote]) assert.equal(x.err.trim().split('\n').length, 1, x.err);
    assert.equal(server.requests.filter((x) => x.startsWith(POST_JOB)).length, jobsBefore, 'nothing was started');
  });

  it('--kube_ssh_host: the API server is reached through an SSH tunnel, its certificate checked against its own name', async () => {
    // An API server whose certificate names only "localhost", reachable from the jump host as
    // localhost:<port>; the client connects to the tunnel's 127.0.0.1 end and must still verify "localhost".
    const host = keyPair('ed25519', 'host');
    const user = keyPair('ed25519', 'tester');
    // Each server is stopped whatever fails after it started (a server left open keeps the test process alive).
    const api = await new KubeServer({ onnxCloud, tls: await selfSignedCert(dir, 'DNS:localhost') }).start();
    const ssh = await new TestSshServer({ hostKeys: [host], user: 'tester', authorized: [user] }).start().catch(async (err) => {
      await api.stop();
      throw err;
    });
    const store = await startEmbeddedStore({ bucket: 'tunnel' }).catch(async (err) => {
      await ssh.stop();
      await api.stop();
      throw err;
    });
    try {
      const keyFile = join(dir, 'id_tester');
      writeFileSync(keyFile, user.private, { mode: 0o600 });
      const knownHosts = join(dir, 'known_hosts');
      writeFileSync(knownHosts, `[127.0.0.1]:${ssh.port} ${host.public}\n`);
      const config = api.kubeconfig(join(dir, 'tunnel-kubeconfig'), { server: `https://localhost:${api.port}` });
      const csv = join(dir, 'tunnel.csv');
      const r = await cli(
        [
          '--operation', 'run_all', '--onnx_file', model, '--rep', '1', '--warmup', '0', '--splits', '4', '--cloud', 'kubernetes',
          '--kube_ssh_host', `tester@127.0.0.1:${ssh.port}`, '--ssh_known_hosts', knownHosts,
          '--minio_bucket', 'tunnel', '--kube_store_endpoint', store.endpoint, '--results_file', csv,
        ],
        config,
        { MINIO_ENDPOINT: store.endpoint, MINIO_ACCESS_KEY: store.accessKey, MINIO_SECRET_KEY: store.secretKey, SSH_KEY_FILE: keyFile, HOME: dir },
      );
      assert.equal(r.code, 0, r.err);
      const got = rows(csv);
      assert.deepEqual(got.map((x) => x.status), ['ok'], got[0]?.error);
      assert.ok(Number(got[0]!.max_abs_diff) <= 1e-5);
      assert.deepEqual(ssh.authAttempts.filter((m) => m === 'publickey').length > 0, true);
      // Every request came through the tunnel's local end, none to localhost:<port> directly.
      assert.ok(api.hosts.length > 0);
      for (const h of api.hosts) assert.match(h, /^127\.0\.0\.1:\d+$/);
      assert.ok(api.hosts.every((h) => h !== `127.0.0.1:${api.port}`));
      assert.equal(api.jobs.size, 0);
    } finally {
      await store.stop();
      await ssh.stop();
      await api.stop();
    }
  });

  it('the manifests in cloud/k8s are what the backend creates', () => {
    const k8s = join(projectRoot(), 'cloud', 'k8s');
    const fill = (text: string) => text.replace(/<RUN>/g, 'r').replace(/<SPLIT>/g, '3').replace(/<REP>/g, '0').replace(/<IMAGE>/g, 'img:1');
    const job = parseYaml(fill(readFileSync(join(k8s, 'job.yaml'), 'utf8'))) as any;
    const made = jobManifest({
      name: jobName('input/r/3/0.pb'), namespace: 'onnx-manager', image: 'img:1', secret: 'onnx-manager-store', instance: 'i',
      inputKey: 'input/r/3/0.pb', outputKey: 'output/r/3/0.pb', ttlSecondsAfterFinished: 600,
      cloud: { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'onnx-manager' },
    }) as any;
    assert.equal(job.metadata.name, made.metadata.name);
    const { template: t1, ...spec1 } = job.spec;
    const { template: t2, ...spec2 } = made.spec;
    assert.deepEqual(spec1, spec2);
    assert.deepEqual(t1.spec, t2.spec);
    const worker = parseYaml(fill(readFileSync(join(k8s, 'worker.yaml'), 'utf8'))) as any;
    const pod = workerPodManifest({ name: 'w', namespace: 'onnx-manager', image: 'img:1', secret: 'onnx-manager-store', instance: 'i' }) as any;
    assert.deepEqual(worker.spec.template.spec.containers, pod.spec.containers);
    for (const k of ['app', 'onnx-manager/component']) assert.equal(worker.spec.template.metadata.labels[k], pod.metadata.labels[k]);
    const secret = parseYaml(readFileSync(join(k8s, 'secret.example.yaml'), 'utf8')) as any;
    assert.deepEqual(Object.keys(secret.stringData).sort(), [...SECRET_KEYS].sort());
  });
});
