/**
 * The ssh backend against OpenSSH's own sshd on loopback (openssh-server.ts), with the worker
 * command a user gives for a host without onnx-cloud on its PATH (node and this project's
 * dist/cloud/onnx-cloud.js): a whole sweep, where the store keys live on the host, a missing
 * worker command and a refused key, a worker stopped (SIGSTOP) past --timeout, a worker busy
 * computing past --timeout, the SSH connection dropped under a stopped worker, and a connection
 * lost for good; and two test servers at once, as two test runs on one machine start them.
 * Skipped, with the reason, where sshd is not installed (apt-get install openssh-server).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { SshBackend } from '../../src/backends/ssh.js';
import { encodeModel } from '../../src/onnx/codec.js';
import type { ModelProto } from '../../src/onnx/types.js';
import { GraphBuilder } from '../models/builder.js';
import { startEmbeddedStore } from '../../src/storage/embedded.js';
import { cli } from '../cli-helper.js';
import { projectRoot, zoo } from '../models/zoo.js';
import { commandLines, endsWithin, running, until, workerProcesses } from '../processes.js';
import { CuttableProxy, keygen, OpenSshServer, sshdMissing } from './openssh-server.js';
import { assertSweepOk } from './ssh-sweep.js';

const WORKER_WORDS = [process.execPath, join(projectRoot(), 'dist', 'cloud', 'onnx-cloud.js'), '--serve'];
const WORKER = WORKER_WORDS.join(' ');
const missing = sshdMissing() ?? (WORKER_WORDS.some((w) => /\s/.test(w)) ? `the worker command '${WORKER}' has a space in a path, which --ssh_command cannot name` : undefined);

let dir: string;
let sshd: OpenSshServer;
let model: string;

/** Rows written to a results CSV so far (the header not counted). */
function rowsSoFar(csv: string): number {
  if (!existsSync(csv)) return 0;
  return Math.max(0, readFileSync(csv, 'utf8').split('\n').filter((l) => l.trim()).length - 1);
}

function environ(pid: number): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) vars[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return vars;
}

/** A process's state letter and CPU time so far (user + system, in clock ticks), from /proc; undefined once it is gone. */
function procStat(pid: number): { state: string; cpuTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state (3rd field of the line), ..., utime (14th), stime (15th).
    return { state: fields[0]!, cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** A process's command line (arguments joined by NUL), '' once it is gone. */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** `n` x `n` input multiplied by itself `k` times in a chain, then averaged: compute without weights. */
function matmulChain(n: number, k: number): ModelProto {
  const g = new GraphBuilder('matmul_chain');
  let t = g.input('x', [n, n]);
  for (let i = 0; i < k; i++) t = g.matmul(t, t);
  g.output(g.reduceMean(t, [0, 1], false), 'y');
  return g.build();
}

const bucketName = (what: string) => `openssh-${what}-${randomBytes(3).toString('hex')}`;

function runAll(results: string, port: number, bucket: string, ...extra: string[]): string[] {
  return [
    '--operation', 'run_all', '--onnx_file', model, '--warmup', '0', '--results_file', join(dir, results), '--minio_bucket', bucket,
    '--cloud', 'ssh', '--ssh_host', `${sshd.user}@127.0.0.1:${port}`, '--ssh_command', WORKER,
    '--ssh_key', sshd.keyFile, '--ssh_known_hosts', sshd.knownHosts, ...extra,
  ];
}

/** The run's environment: no agent, no key or password of the machine's user, no store settings. */
const ENV = { SSH_AUTH_SOCK: undefined, SSH_KEY_FILE: undefined, SSH_PASSWORD: undefined, SSH_PASSWORD_FILE: undefined, MINIO_ENDPOINT: undefined };

/** A relay to sshd that the test can cut, with a known_hosts naming the relay's port. */
async function relay(name: string): Promise<{ proxy: CuttableProxy; knownHosts: string }> {
  const proxy = await new CuttableProxy(sshd.port).start();
  const knownHosts = join(dir, `kh_${name}`);
  writeFileSync(knownHosts, readFileSync(sshd.knownHosts, 'utf8').replace(`:${sshd.port} `, `:${proxy.port} `));
  return { proxy, knownHosts };
}

/**
 * run_all of split 2, 40 repetitions, --timeout 3, through the SSH server on `port`; once two rows
 * are written the worker is stopped (SIGSTOP) and `then` runs. Checks that every row is ok with
 * one restart recorded, that the stopped worker is gone from the machine and no worker of the run
 * remains; returns how many exec sessions sshd started meanwhile.
 */
async function stoppedMidSweep(name: string, port: number, knownHosts: string, then?: () => void): Promise<{ sessions: number }> {
  const bucket = bucketName(name);
  const csv = join(dir, `${name}.csv`);
  const rep = 40;
  const sessionsBefore = sshd.sessions();
  let stopped: number | undefined;
  let rowsAtStop = 0;
  const args = runAll(`${name}.csv`, port, bucket, '--rep', String(rep), '--splits', '2', '--timeout', '3');
  args[args.indexOf('--ssh_known_hosts') + 1] = knownHosts;
  const run = cli(args, { env: ENV });
  try {
    await until(() => rowsSoFar(csv) >= 2, 120_000);
    [stopped] = workerProcesses(bucket);
    rowsAtStop = rowsSoFar(csv);
    if (stopped !== undefined) process.kill(stopped, 'SIGSTOP');
    then?.();
  } finally {
    const r = await run;
    assert.equal(r.code, 0, r.err);
  }
  try {
    assert.ok(stopped !== undefined && rowsAtStop < rep, `the worker was stopped mid-sweep (after ${rowsAtStop} of ${rep} rows)`);
    const rows = await assertSweepOk(csv, rep);
    assert.equal(rows.reduce((n, x) => n + Number(x.cloud_restarts), 0), 1, 'one restart, recorded');
    assert.ok(await endsWithin(stopped, 5000), `the stopped worker (pid ${stopped}) is gone from the host`);
    assert.deepEqual(workerProcesses(bucket), [], 'no worker of the run remains');
    return { sessions: sshd.sessions() - sessionsBefore };
  } finally {
    if (stopped !== undefined && running(stopped)) process.kill(stopped, 'SIGKILL');
  }
}

// First, before the suite below starts its own server: the two servers here are then the only ones of this run.
describe('OpenSSH sshd test servers side by side', { skip: missing ?? false }, () => {
  it('two at once (as two test runs on one machine): stopping one leaves the other taking logins', { timeout: 120_000 }, async () => {
    const a = await new OpenSshServer().start();
    const b = await new OpenSshServer().start();
    try {
      const first = await b.login();
      assert.equal(first.code, 0, `a login before: ${first.stderr.trim()}`);
      await a.stop();
      const after = await b.login();
      assert.equal(after.code, 0, `a login after the other server stopped: ${after.stderr.trim()} | sshd: ${b.log().trim().split('\n').slice(-2).join(' | ')}`);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('ssh backend against OpenSSH sshd', { skip: missing ?? false }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onnx-manager-openssh-'));
    model = join(dir, 'lenet5.onnx');
    writeFileSync(model, encodeModel(zoo.find((z) => z.name === 'lenet5')!.build()));
    sshd = await new OpenSshServer().start();
  });

  after(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('run_all: every row ok and equal to the full model, one worker session, the store keys only in the worker environment', async () => {
    const bucket = bucketName('ok');
    const sessionsBefore = sshd.sessions();
    let seen: { pid: number; cmdline: string; env: Record<string, string>; all: string[] } | undefined;
    const watch = setInterval(() => {
      if (seen) return;
      const [pid] = workerProcesses(bucket);
      if (pid === undefined) return;
      try {
        const env = environ(pid);
        if (env.MINIO_SECRET_KEY) seen = { pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8'), env, all: commandLines() };
      } catch {
        // It ended meanwhile.
      }
    }, 20);
    const r = await cli(runAll('ok.csv', sshd.port, bucket, '--rep', '2'), { env: ENV }).finally(() => clearInterval(watch));
    assert.equal(r.code, 0, r.err);
    const rows = await assertSweepOk(join(dir, 'ok.csv'), 13 * 2);
    assert.deepEqual(rows.filter((x) => x.cloud_restarts !== '0'), []);
    assert.equal(sshd.sessions() - sessionsBefore, 1, 'one worker, kept for the whole sweep');
    assert.ok(seen, 'the worker was seen running on the host');
    assert.match(seen.env.MINIO_ENDPOINT!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(seen.env.MINIO_ACCESS_KEY && seen.env.MINIO_SECRET_KEY!.length >= 16);
    // The embedded store's access key is its fixed name ('onnx-manager'); the secret key is the secret.
    const secret = seen.env.MINIO_SECRET_KEY!;
    assert.ok(!seen.cmdline.includes(secret));
    assert.deepEqual(seen.all.filter((c) => c.includes(secret)), [], 'no command line on the machine holds the secret key');
    assert.ok(!sshd.log().includes(secret), "sshd's log does not hold the secret key");
    assert.deepEqual(workerProcesses(bucket), [], 'the worker ended with the run');
  });

  it('a worker command missing on the host, and a key sshd does not accept, each fail the run in one line before the sweep', async () => {
    const args = runAll('nocmd.csv', sshd.port, bucketName('nocmd'), '--rep', '1');
    args[args.indexOf('--ssh_command') + 1] = 'no-such-onnx-cloud --serve';
    const r = await cli(args, { env: ENV });
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1, r.err);
    assert.match(r.errLines[0]!, /the cloud worker on .* exited \(code 127: .*no-such-onnx-cloud.*not found.*PATH of .*non-interactive shell/);
    const other = join(dir, 'id_other');
    if (!existsSync(other)) keygen(other, 'other');
    const wrong = runAll('wrongkey.csv', sshd.port, bucketName('wrongkey'), '--rep', '1');
    wrong[wrong.indexOf('--ssh_key') + 1] = other;
    const w = await cli(wrong, { env: ENV });
    assert.equal(w.code, 1);
    assert.equal(w.errLines.length, 1, w.err);
    assert.match(w.errLines[0]!, /SSH authentication to .*@127\.0\.0\.1:\d+ failed \(tried: key .*id_other\)/);
  });

  it('a worker stopped (SIGSTOP) misses --timeout, is ended on the host and replaced; every row ok, nothing left running', { timeout: 180_000 }, async () => {
    const { sessions } = await stoppedMidSweep('stopped', sshd.port, sshd.knownHosts);
    assert.equal(sessions, 3, 'the old worker, its kill by pid, the new worker');
    // sshd refuses a channel's signal for a root login (no privilege separation after authentication): the kill by pid ended it.
    if (process.getuid?.() === 0) assert.match(sshd.log(), /session signalling requires privilege separation/);
  });

  it('a worker busy (running, not stopped) on a part longer than --timeout: the cycle times out, the worker is ended on the host each time, nothing left running', { timeout: 300_000 }, async () => {
    // A part of 48 MatMuls of 2048 x 2048 (about 820 GFLOP: seconds of one core even on a fast
    // machine; 12 of them took 1.0 s on one, as long as the deadline) against a deadline of 1 s:
    // the worker is computing, not stopped, when it passes.
    const slow = join(dir, 'slow_part.onnx');
    writeFileSync(slow, encodeModel(matmulChain(2048, 48)));
    const bucket = bucketName('busy');
    const csv = join(dir, 'busy.csv');
    const sessionsBefore = sshd.sessions();
    const args = runAll('busy.csv', sshd.port, bucket, '--rep', '1', '--splits', '0', '--timeout', '1', '--threads', '1');
    args[args.indexOf('--onnx_file') + 1] = slow;
    // Every process of the run's workers (a login shell may wait above a worker), the workers
    // themselves (node, once the shells have exec'd it), and those seen computing: running ('R')
    // with CPU time growing.
    const seen = new Set<number>();
    const workers = new Set<number>();
    const busy = new Set<number>();
    const last = new Map<number, number>();
    const watch = setInterval(() => {
      for (const pid of workerProcesses(bucket)) {
        seen.add(pid);
        if (commandOf(pid).startsWith(`${process.execPath}\0`)) workers.add(pid);
        const stat = procStat(pid);
        if (!stat) continue;
        if (stat.state === 'R' && stat.cpuTicks > (last.get(pid) ?? Infinity)) busy.add(pid);
        last.set(pid, stat.cpuTicks);
      }
    }, 50);
    const r = await cli(args, { env: ENV }).finally(() => clearInterval(watch));
    try {
      assert.equal(r.code, 1, `the sweep fails its row: ${r.err}`);
      assert.match(r.err, /1 of 1 rows failed/);
      const [row, ...more] = parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
      assert.equal(more.length, 0);
      assert.equal(row!.status, 'timeout', `the row: ${row!.status} ${row!.error}`);
      assert.match(row!.error!, /did not appear within 1000 ms/, 'the deadline is named');
      assert.ok(busy.size >= 1, `a worker was seen computing (workers ${[...seen].join(', ')})`);
      // The timed-out cycle ran again on a fresh worker (a stopped worker would have been the cause),
      // and timed out again; on a loaded machine a fresh worker's load of the part can miss the
      // deadline too, so more workers than two may have been started.
      assert.ok(workers.size >= 2 && Number(row!.cloud_restarts) >= 1, `the worker was replaced: ${workers.size} workers, cloud_restarts ${row!.cloud_restarts}`);
      assert.ok([...busy].every((pid) => workers.has(pid)), 'the processes seen computing are workers');
      for (const pid of seen) assert.ok(await endsWithin(pid, 5000), `process ${pid}${busy.has(pid) ? ' (a worker seen computing)' : ''} is gone from the host`);
      assert.deepEqual(workerProcesses(bucket), [], 'no worker of the run remains');
      assert.deepEqual(commandLines().filter((c) => c.includes(bucket)), [], 'no process of the run remains');
      // Each worker's session, and beside them a kill by pid (sshd refuses a root login's channel signal) for each one seen computing past the deadline.
      const kills = sshd.sessions() - sessionsBefore - workers.size;
      assert.ok(kills >= busy.size && kills <= workers.size, `${kills} kill session(s) for ${workers.size} workers, ${busy.size} seen computing`);
      assert.doesNotMatch(r.err, /could not end the old worker|kill -KILL \d+ on the host ended with/, 'every kill on the host went through');
    } finally {
      for (const pid of seen) if (running(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('the SSH connection dropped under a stopped worker: the backend reconnects, kills the old worker by its pid, every row ok, nothing left running', { timeout: 180_000 }, async () => {
    const { proxy, knownHosts } = await relay('drop');
    try {
      const { sessions } = await stoppedMidSweep('drop', proxy.port, knownHosts, () => proxy.drop());
      assert.ok(proxy.connections >= 2, 'the backend connected again');
      assert.equal(sessions, 3, 'the old worker, its kill by pid, the new worker');
    } finally {
      await proxy.stop();
    }
  });

  it('a connection lost for good (the edge gone): the idle worker on the host ends by itself', { timeout: 120_000 }, async () => {
    const { proxy, knownHosts } = await relay('lost');
    const bucket = bucketName('lost');
    const store = await startEmbeddedStore({ bucket });
    const warnings: string[] = [];
    const backend = new SshBackend({
      target: `${sshd.user}@127.0.0.1:${proxy.port}`,
      connect: { keyFile: sshd.keyFile, knownHostsFile: knownHosts, warn: (l) => warnings.push(l) },
      env: {},
      command: WORKER_WORDS,
      store: { endpoint: store.endpoint, accessKey: store.accessKey, secretKey: store.secretKey },
      cloud: { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket },
      stderr: () => undefined,
    });
    let pid: number | undefined;
    try {
      await backend.check();
      [pid] = workerProcesses(bucket);
      assert.ok(pid !== undefined, 'the worker runs on the host');
      proxy.refuse = true;
      proxy.drop();
      assert.ok(await endsWithin(pid, 60_000), `the worker (pid ${pid}) ended when its connection went`);
    } finally {
      await backend.close().catch(() => undefined);
      await proxy.stop();
      await store.stop();
      if (pid !== undefined && running(pid)) process.kill(pid, 'SIGKILL');
    }
    assert.deepEqual(workerProcesses(bucket), []);
  });
});
