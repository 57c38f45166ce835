/**
 * The ssh backend against a real SSH server on loopback (ssh2's Server in this process, see
 * ssh-server.ts): run_all through the CLI with the worker on the "remote" host, host key checks
 * (hashed and plain known_hosts, mismatch, unknown host), key, agent and password authentication,
 * refused --ssh_password, a worker killed mid-sweep, and a TCP tunnel.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { commandWords, REMOTE_KILL_SCRIPT, remoteCommand, remoteKillCommand, shellJoin, STORE_PREAMBLE_SCRIPT } from '../../src/backends/ssh.js';
import { decodeCloudConfig, encodeCloudConfig } from '../../src/config/cloud-config.js';
import {
  checkKnownHosts,
  connectSsh,
  fingerprint,
  hostKeyAlgorithms,
  openSshTunnel,
  parseSshTarget,
  type SshClient,
} from '../../src/backends/ssh-connect.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { readRows } from '../../src/profile/csv.js';
import { readProfile } from '../../src/profile/layer-profile.js';
import { cli } from '../cli-helper.js';
import { zoo } from '../models/zoo.js';
import { endsWithin, running, until, workerProcesses } from '../processes.js';
import { keyPair, TestSshServer, type KeyPair } from './ssh-server.js';
import { assertSweepOk } from './ssh-sweep.js';

const { AgentProtocol } = ssh2;
const USER = 'tester';

let dir: string;
let server: TestSshServer;
let hostKey: KeyPair;
let clientKey: KeyPair;
let otherKey: KeyPair;
let model: string;
let keyFile: string;
let otherKeyFile: string;
let knownHosts: string;
const savedEnv: Record<string, string | undefined> = {};
const ENV_KEYS = ['HOME', 'SSH_AUTH_SOCK', 'SSH_KEY_FILE', 'SSH_KEY_PASSPHRASE', 'SSH_KEY_PASSPHRASE_FILE', 'SSH_PASSWORD', 'SSH_PASSWORD_FILE', 'MINIO_ENDPOINT'];

function hashedEntry(name: string, key: KeyPair): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')} ${key.parsed.type} ${key.blob.toString('base64')}`;
}

function plainEntry(hosts: string, key: KeyPair): string {
  return `${hosts} ${key.parsed.type} ${key.blob.toString('base64')} comment`;
}

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

const target = () => `${USER}@127.0.0.1:${server.port}`;
const runAll = (results: string, ...extra: string[]) => [
  '--operation', 'run_all', '--onnx_file', model, '--warmup', '0', '--results_file', join(dir, results),
  '--cloud', 'ssh', '--ssh_host', target(), ...extra,
];

before(async () => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  for (const k of ENV_KEYS) delete process.env[k];
  dir = mkdtempSync(join(tmpdir(), 'onnx-manager-ssh-'));
  process.env.HOME = dir; // no default identities or known_hosts of the machine's user
  hostKey = keyPair('ed25519', 'host');
  clientKey = keyPair('ed25519', 'client');
  otherKey = keyPair('ed25519', 'other');
  keyFile = file('id_client', clientKey.private);
  otherKeyFile = file('id_other', otherKey.private);
  model = join(dir, 'lenet5.onnx');
  writeFileSync(model, encodeModel(zoo.find((z) => z.name === 'lenet5')!.build()));
  server = await new TestSshServer({ hostKeys: [hostKey], user: USER, authorized: [clientKey] }).start();
  knownHosts = file('known_hosts', `# test\n${plainEntry('example.org', otherKey)}\n${hashedEntry(`[127.0.0.1]:${server.port}`, hostKey)}\n`);
});

after(async () => {
  await server?.stop();
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('ssh backend: pieces', () => {
  it('known_hosts: plain, hashed, [host]:port, wildcards, negation, @revoked, key types', () => {
    const ed = keyPair('ed25519');
    const ec = keyPair('ecdsa');
    const rsa = keyPair('rsa');
    const text = [
      '# comment',
      '',
      plainEntry('alpha.example,10.0.0.1', ed),
      hashedEntry('beta.example', ec),
      plainEntry('[gamma.example]:2222', rsa),
      plainEntry('*.farm.example,!bad.farm.example', ed),
      `@revoked ${plainEntry('delta.example', ec)}`,
      plainEntry('delta.example', ed),
      `@cert-authority ${plainEntry('*.ca.example', rsa)}`,
      'garbage line',
    ].join('\n');
    assert.equal(checkKnownHosts(text, 'alpha.example', 22, ed.blob).status, 'ok');
    assert.equal(checkKnownHosts(text, 'ALPHA.example', 22, ed.blob).status, 'ok', 'host names are case-insensitive');
    assert.equal(checkKnownHosts(text, '10.0.0.1', 22, ed.blob).status, 'ok');
    assert.equal(checkKnownHosts(text, 'alpha.example', 2222, ed.blob).status, 'unknown', 'another port is another host');
    assert.equal(checkKnownHosts(text, 'beta.example', 22, ec.blob).status, 'ok', 'hashed entry');
    assert.equal(checkKnownHosts(text, 'gamma.example', 2222, rsa.blob).status, 'ok', '[host]:port');
    assert.equal(checkKnownHosts(text, 'gamma.example', 22, rsa.blob).status, 'unknown');
    assert.equal(checkKnownHosts(text, 'node7.farm.example', 22, ed.blob).status, 'ok', 'wildcard');
    assert.equal(checkKnownHosts(text, 'bad.farm.example', 22, ed.blob).status, 'unknown', 'negated pattern');
    assert.equal(checkKnownHosts(text, 'delta.example', 22, ec.blob).status, 'revoked');
    assert.equal(checkKnownHosts(text, 'delta.example', 22, ed.blob).status, 'ok');
    assert.equal(checkKnownHosts(text, 'x.ca.example', 22, rsa.blob).status, 'unknown', 'CA keys do not vouch for plain host keys');
    const wrong = checkKnownHosts(text, 'beta.example', 22, ed.blob);
    assert.deepEqual(wrong, { status: 'mismatch', line: 4, knownTypes: ['ecdsa-sha2-nistp256'] });
    assert.match(fingerprint(ed.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.equal(hostKeyAlgorithms(['ecdsa-sha2-nistp256'])[0], 'ecdsa-sha2-nistp256');
  });

  it('known_hosts hashed by OpenSSH (ssh-keygen -H) match, when ssh-keygen is installed', (t) => {
    const ed = keyPair('ed25519');
    const f = file('kh_openssh', `${plainEntry('[127.0.0.1]:2299', ed)}\n${plainEntry('build.example', ed)}\n`);
    const r = spawnSync('ssh-keygen', ['-H', '-f', f], { encoding: 'utf8' });
    if (r.error) return t.skip('ssh-keygen is not installed');
    assert.equal(r.status, 0, r.stderr);
    const hashed = readFileSync(f, 'utf8');
    assert.match(hashed, /^\|1\|/);
    assert.ok(!hashed.includes('build.example'));
    assert.equal(checkKnownHosts(hashed, '127.0.0.1', 2299, ed.blob).status, 'ok');
    assert.equal(checkKnownHosts(hashed, 'BUILD.example', 22, ed.blob).status, 'ok');
    assert.equal(checkKnownHosts(hashed, '127.0.0.1', 22, ed.blob).status, 'unknown');
    const fp = spawnSync('ssh-keygen', ['-lf', '-'], { input: `${ed.parsed.type} ${ed.blob.toString('base64')}\n`, encoding: 'utf8' });
    assert.ok(fp.stdout.includes(fingerprint(ed.blob)), fp.stdout);
  });

  it('targets, command words and shell quoting (checked by a real sh)', () => {
    assert.deepEqual(parseSshTarget('u@h.example:2200'), { user: 'u', host: 'h.example', port: 2200, label: 'u@h.example:2200' });
    assert.deepEqual(parseSshTarget('u@[::1]:2200'), { user: 'u', host: '::1', port: 2200, label: 'u@[::1]:2200' });
    assert.equal(parseSshTarget('h', { USER: 'me' }).label, 'me@h');
    for (const bad of ['u@', 'u@h:99999', 'u@-oProxyCommand=x', 'u@h;rm', 'u@h/x']) assert.throws(() => parseSshTarget(bad), /--ssh_host|port/);
    assert.deepEqual(commandWords('  node /srv/a b.js --serve '), ['node', '/srv/a', 'b.js', '--serve']);
    for (const bad of ['onnx-cloud; rm -rf /', 'onnx-cloud $(id)', "a 'b c'", 'a && b', 'a > f']) assert.throws(() => commandWords(bad), /shell syntax/);
    const nasty = ["it's", 'a b', '$HOME', '`id`', '"q"', '\\', '', '!x', '*', 'semi;colon', 'new\nline'];
    const r = spawnSync('sh', ['-c', `printf '%s\\0' ${shellJoin(nasty)}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), nasty);
    const cloud = { provider: { name: 'cuda', deviceId: 1 }, graphOptimizationLevel: 'basic', threads: 4, bucket: "my'bucket" } as const;
    const cmd = remoteCommand({ command: ['onnx-cloud'], cloud });
    assert.doesNotMatch(cmd, /top-secret-value|AKIA-visible|s3\.example/, 'no store coordinates on the command line');
    assert.ok(!STORE_PREAMBLE_SCRIPT.includes("'") && !STORE_PREAMBLE_SCRIPT.includes('\\'));
    // What the host's shell turns the command into: sh -c <script> $0 <worker words...>
    const argv = spawnSync('sh', ['-c', `printf '%s\\0' ${cmd}`], { encoding: 'utf8' }).stdout.split('\0').slice(0, -1);
    assert.deepEqual(argv, [
      'sh', '-c', STORE_PREAMBLE_SCRIPT, 'onnx-manager-worker',
      'onnx-cloud', '--serve', '--cloud_config', encodeCloudConfig(cloud),
    ]);
    assert.deepEqual(decodeCloudConfig(argv.at(-1)!), cloud);
    // The preamble puts the three stdin lines in the environment and leaves the rest of stdin to the worker.
    const script = cmd.replace(/ onnx-cloud .*$/, ` sh -c 'echo "$MINIO_ENDPOINT|$MINIO_ACCESS_KEY|$MINIO_SECRET_KEY"; cat'`);
    const run = spawnSync('sh', ['-c', script], { input: 'http://e:1\nak\ns e c\n{"type":"stop"}\n', encoding: 'utf8' });
    assert.equal(run.stdout, 'http://e:1|ak|s e c\n{"type":"stop"}\n', run.stderr);
  });

  it('the remote kill ends a process only while its command line holds the worker configuration (checked by a real sh)', async () => {
    assert.ok(!REMOTE_KILL_SCRIPT.includes("'") && !REMOTE_KILL_SCRIPT.includes('\\'));
    const cloud = { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: `kill-${randomBytes(3).toString('hex')}` } as const;
    const other = { ...cloud, bucket: `${cloud.bucket}-other` };
    const hold = 'setTimeout(() => {}, 60000)';
    const worker = spawn(process.execPath, ['-e', hold, '--', '--serve', '--cloud_config', encodeCloudConfig(cloud)], { stdio: 'ignore' });
    const stranger = spawn(process.execPath, ['-e', hold, '--', '--serve', '--cloud_config', encodeCloudConfig(other)], { stdio: 'ignore' });
    const kill = (pid: number) => spawnSync('sh', ['-c', remoteKillCommand(pid, cloud)], { encoding: 'utf8' });
    try {
      await until(() => [worker, stranger].every((c) => readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').includes('--cloud_config')), 10_000);
      const s = kill(stranger.pid!);
      assert.equal(s.status, 3, s.stderr);
      assert.ok(running(stranger.pid!), 'a process with another configuration is left alone');
      const w = kill(worker.pid!);
      assert.equal(w.status, 0, w.stderr);
      assert.ok(await endsWithin(worker.pid!, 5000), 'the worker is killed');
      const gone = kill(worker.pid!);
      assert.equal(gone.status, 3, 'an ended worker: exit 3');
      // A host without grep: the kill says so (the backend warns with it) instead of passing for an ended worker.
      const bin = join(dir, 'bin-without-grep');
      mkdirSync(bin, { recursive: true });
      if (!existsSync(join(bin, 'sh'))) symlinkSync('/bin/sh', join(bin, 'sh'));
      const bare = spawnSync('/bin/sh', ['-c', remoteKillCommand(stranger.pid!, cloud)], { encoding: 'utf8', env: { PATH: bin } });
      assert.deepEqual([bare.status, bare.stderr.trim()], [4, 'grep is not installed']);
      assert.ok(running(stranger.pid!));
    } finally {
      worker.kill('SIGKILL');
      stranger.kill('SIGKILL');
    }
  });
});

describe('ssh backend: a real SSH server on loopback', () => {
  it('profile with the worker over SSH: the cloud side measured in the remote worker process', async () => {
    const r = await cli(['profile', '--onnx_file', model, '--rep', '2', '--results_file', join(dir, 'prof.csv'), '--cloud', 'ssh', '--ssh_host', target(), '--ssh_key', keyFile, '--ssh_known_hosts', knownHosts]);
    assert.equal(r.code, 0, r.err);
    const p = await readProfile(join(dir, 'prof.profile.csv'));
    assert.equal(p.settings.cloud.backend, 'ssh');
    assert.equal(p.nodes.filter((n) => n.side === 'cloud').length, 12);
    const pids = [...r.out.matchAll(/^(edge|cloud) .* \S+:(\d+) /gm)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(pids.map((x) => x[0]), ['edge', 'cloud']);
    assert.equal(pids[0]![1], process.pid);
    assert.notEqual(pids[1]![1], process.pid);
  });

  it('run_all with the worker over SSH: rows ok, results equal the full model, backend ssh, no secret on the command line', async () => {
    const execsBefore = server.execs.length;
    const r = await cli([...runAll('ok.csv', '--rep', '2'), '--ssh_key', keyFile, '--ssh_known_hosts', knownHosts]);
    assert.equal(r.code, 0, r.err);
    const rows = await assertSweepOk(join(dir, 'ok.csv'), 13 * 2);
    assert.ok(rows.filter((x) => x.backend === 'ssh').length >= 24);
    // One worker, kept warm for the whole sweep; the store keys went on stdin, not the command line.
    const execs = server.execs.slice(execsBefore);
    assert.equal(execs.length, 1);
    assert.match(execs[0]!.command, /^sh -c '.*' onnx-manager-worker onnx-cloud --serve --cloud_config '\{"v":1,.*"bucket":"onnx-manager"\}'$/);
    assert.match(execs[0]!.firstLines[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
    const secret = execs[0]!.firstLines[2]!;
    assert.ok(secret.length > 0);
    assert.ok(!execs[0]!.command.includes(secret));
  });

  it('a host key that does not match known_hosts fails with one line naming host and fingerprint', async () => {
    const kh = file('kh_mismatch', `${plainEntry(`[127.0.0.1]:${server.port}`, otherKey)}\n`);
    const r = await cli([...runAll('mismatch.csv', '--rep', '1'), '--ssh_key', keyFile, '--ssh_known_hosts', kh]);
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1, r.err);
    assert.ok(!r.errLines[0]!.includes('\n'));
    assert.match(r.errLines[0]!, /host key of \[127\.0\.0\.1\]:\d+ does not match known_hosts/);
    assert.ok(r.errLines[0]!.includes(fingerprint(hostKey.blob)), r.errLines[0]);
    assert.ok(!r.errLines[0]!.includes(fingerprint(otherKey.blob)));
  });

  it('an unknown host fails with one line naming the fingerprint it offered', async () => {
    const kh = file('kh_unknown', `${plainEntry('127.0.0.1', hostKey)}\n${plainEntry(`[127.0.0.1]:${server.port + 1}`, hostKey)}\n`);
    const r = await cli([...runAll('unknown.csv', '--rep', '1'), '--ssh_key', keyFile, '--ssh_known_hosts', kh]);
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1);
    assert.match(r.errLines[0]!, /^onnx-manager: SSH host \[127\.0\.0\.1\]:\d+ is not in known_hosts/);
    assert.ok(r.errLines[0]!.includes(`ssh-ed25519 key ${fingerprint(hostKey.blob)}`), r.errLines[0]);
    // The default known_hosts (~/.ssh/known_hosts, absent here) is used without --ssh_known_hosts.
    await assert.rejects(connectSsh(target(), { HOME: dir }, { keyFile }), /is not in known_hosts \(.*\.ssh\/known_hosts\)/);
  });

  it('--ssh_insecure_no_host_check connects to an unknown host with a warning line', async () => {
    const warnings: string[] = [];
    const c = await connectSsh(target(), { HOME: dir }, { keyFile, insecureNoHostCheck: true, warn: (l) => warnings.push(l) });
    c.end();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^--ssh_insecure_no_host_check: not checking the host key .* SHA256:/);
  });

  it('a key the server does not accept fails authentication in one line', async () => {
    const r = await cli([...runAll('wrongkey.csv', '--rep', '1'), '--ssh_key', otherKeyFile, '--ssh_known_hosts', knownHosts]);
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1);
    assert.match(r.errLines[0]!, /SSH authentication to tester@127\.0\.0\.1:\d+ failed \(tried: key .*id_other\)/);
    const none = await cli([...runAll('nokey.csv', '--rep', '1'), '--ssh_known_hosts', knownHosts]);
    assert.equal(none.code, 2);
    assert.match(none.errLines[0]!, /no way to authenticate to tester@127\.0\.0\.1:\d+/);
  });

  it('password from SSH_PASSWORD_FILE (password and keyboard-interactive); --ssh_password is refused', async () => {
    const pwServer = await new TestSshServer({ hostKeys: [hostKey], user: USER, authorized: [], password: 'pa ss\'word' }).start();
    try {
      const kh = file('kh_pw', `${plainEntry(`[127.0.0.1]:${pwServer.port}`, hostKey)}\n`);
      const pwFile = file('pw', "pa ss'word\n");
      for (const via of ['password', 'keyboard-interactive'] as const) {
        pwServer.options.passwordVia = via;
        const c = await connectSsh(`${USER}@127.0.0.1:${pwServer.port}`, { HOME: dir, SSH_PASSWORD_FILE: pwFile }, { knownHostsFile: kh });
        assert.equal(await execText(c, 'echo hello from $0'), 'hello from /bin/sh\n');
        c.end();
        assert.equal(pwServer.authAttempts.at(-1), via);
      }
      const wrongPw = file('pw_wrong', 'nope\n');
      await assert.rejects(
        connectSsh(`${USER}@127.0.0.1:${pwServer.port}`, { HOME: dir, SSH_PASSWORD_FILE: wrongPw }, { knownHostsFile: kh }),
        /SSH authentication to .* failed \(tried: password from SSH_PASSWORD_FILE\)/,
      );
    } finally {
      await pwServer.stop();
    }
    const r = await cli([...runAll('pw.csv', '--rep', '1'), '--ssh_password', 'hunter2']);
    assert.equal(r.code, 2);
    assert.match(r.errLines[0]!, /--ssh_password is refused: .*SSH_PASSWORD_FILE/);
    assert.ok(!r.err.includes('hunter2'));
  });

  it('ssh-agent (SSH_AUTH_SOCK) authenticates', async () => {
    const sock = join(dir, 'agent.sock');
    const agent = createServer((s) => {
      const proto = new AgentProtocol(false);
      proto.on('identities', (req) => proto.getIdentitiesReply(req, [clientKey.parsed]));
      proto.on('sign', (req, _pub, data, flags) => proto.signReply(req, clientKey.parsed.sign(data, flags.hash)));
      s.pipe(proto).pipe(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => agent.listen(sock, resolve));
    try {
      const c = await connectSsh(target(), { HOME: dir, SSH_AUTH_SOCK: sock }, { knownHostsFile: knownHosts });
      assert.equal(await execText(c, 'echo agent'), 'agent\n');
      c.end();
    } finally {
      agent.close();
    }
  });

  it('the remote worker dying mid-sweep on every attempt fails that row after three attempts, and the sweep goes on with a new worker', async () => {
    const execsBefore = server.execs.length;
    server.options.onLine = (line) => (/"type":"job".*"inputKey":"input\/[^"]*\/2\/1(-again\d+)?\.pb"/.test(line) ? 'kill' : undefined);
    try {
      const r = await cli([...runAll('crash.csv', '--rep', '2', '--splits', '1', '2', '3'), '--ssh_key', keyFile, '--ssh_known_hosts', knownHosts]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /onnx-manager: \d+ of \d+ rows failed; see the status and error columns/, 'failed rows make the exit code 1');
    } finally {
      server.options.onLine = undefined;
    }
    const rows = await readRows(join(dir, 'crash.csv'));
    assert.deepEqual(
      rows.map((x) => `${x.split_index}/${x.rep}:${x.status}`),
      ['1/0:ok', '1/1:ok', '2/0:ok', '2/1:error', '3/0:ok', '3/1:ok'],
    );
    assert.match(rows[3]!.error!, /the cloud worker on tester@127\.0\.0\.1:\d+ exited \(signal SIGKILL/);
    // The cycle runs again on a fresh worker after each death (three attempts, each killed here).
    assert.equal(rows[3]!.cloud_restarts, '3');
    assert.equal(server.execs.length - execsBefore, 4, 'the worker was restarted after each death');
  });

  it('a dropped SSH connection on every attempt fails that row after three attempts; the backend reconnects and the sweep goes on', async () => {
    const execsBefore = server.execs.length;
    server.options.onLine = (line) => (/"type":"job".*"inputKey":"input\/[^"]*\/2\/0(-again\d+)?\.pb"/.test(line) ? 'drop' : undefined);
    try {
      const r = await cli([...runAll('drop.csv', '--rep', '1', '--splits', '1', '2', '3'), '--ssh_key', keyFile, '--ssh_known_hosts', knownHosts]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /onnx-manager: \d+ of \d+ rows failed; see the status and error columns/, 'failed rows make the exit code 1');
    } finally {
      server.options.onLine = undefined;
    }
    const rows = await readRows(join(dir, 'drop.csv'));
    assert.deepEqual(
      rows.map((x) => `${x.split_index}:${x.status}`),
      ['1:ok', '2:error', '3:ok'],
    );
    assert.match(rows[1]!.error!, /the cloud worker on tester@127\.0\.0\.1:\d+ exited/);
    const execs = server.execs.slice(execsBefore).filter((e) => e.command.includes('onnx-manager-worker'));
    // The cycle runs again on a fresh worker after each drop (three attempts, each dropped here).
    assert.equal(rows[1]!.cloud_restarts, '3');
    assert.equal(execs.length, 4);
    // A connection lost without the worker's exit status: the worker is ended on the host by its pid.
    const anyPid = (command: string) => command.replace(/ onnx-manager-kill \d+ /, ' onnx-manager-kill PID ');
    const kill = anyPid(remoteKillCommand(1234, workerConfig(execs[0]!.command)));
    assert.deepEqual(
      server.execs.slice(execsBefore).filter((e) => !e.command.includes('onnx-manager-worker')).map((e) => anyPid(e.command)),
      [kill, kill, kill],
    );
    assert.notEqual(execs[0]!.connection, execs[1]!.connection, 'a new SSH connection');
  });

  it('a remote worker stopped (SIGSTOP) misses the deadline and is ended on the host by its pid before a new one starts: no old worker process remains', { timeout: 120_000 }, async () => {
    const bucket = `ssh-stopped-${randomBytes(3).toString('hex')}`;
    const execsBefore = server.execs.length;
    let stopped: number | undefined;
    let oldAtRestart: Promise<boolean> | undefined;
    let seen: number[] = [];
    server.options.onLine = (line, exec) => {
      // Split 2's second repetition: the worker is stopped before it reads the job.
      if (stopped === undefined && /"type":"job".*"inputKey":"input\/[^"]*\/2\/1(-again\d+)?\.pb"/.test(line)) {
        seen = workerProcesses(bucket);
        stopped = seen[0]!;
        process.kill(stopped, 'SIGSTOP');
      } else if (stopped !== undefined && oldAtRestart === undefined && exec !== server.execs[execsBefore] && exec.command.includes('onnx-manager-worker')) {
        // SIGKILL takes the stopped process down in a moment, not at once: it must be gone soon after the restart.
        oldAtRestart = endsWithin(stopped, 2000).then((ended) => !ended);
      }
    };
    try {
      const r = await cli([...runAll('stopped.csv', '--rep', '3', '--splits', '2', '--timeout', '3', '--minio_bucket', bucket), '--ssh_key', keyFile, '--ssh_known_hosts', knownHosts]);
      assert.equal(r.code, 0, r.err);
    } finally {
      server.options.onLine = undefined;
      if (stopped !== undefined && running(stopped)) process.kill(stopped, 'SIGKILL');
    }
    const rows = await readRows(join(dir, 'stopped.csv'));
    assert.deepEqual(
      rows.map((x) => `${x.rep}:${x.status}:${x.cloud_restarts}`),
      ['0:ok:0', '1:ok:1', '2:ok:0'],
      'the cycle the stopped worker held runs again on a fresh one',
    );
    assert.equal(seen.length, 1, `one worker running when stopped: ${seen.join(', ')}`);
    assert.ok(stopped !== undefined, 'the worker was stopped');
    assert.equal(await oldAtRestart, false, 'the stopped worker was ended as the new one started');
    assert.deepEqual(workerProcesses(bucket), [], 'no worker process of the run remains');
    const kills = server.execs.slice(execsBefore).filter((e) => !e.command.includes('onnx-manager-worker'));
    assert.deepEqual(
      kills.map((e) => e.command),
      [remoteKillCommand(stopped, workerConfig(server.execs[execsBefore]!.command))],
      'one kill by pid, a fixed command holding only the number and the worker configuration',
    );
  });

  it('the host key type known for the host is the one negotiated (rsa, ecdsa beside ed25519)', async () => {
    const rsa = keyPair('rsa', 'host-rsa');
    const ecdsa = keyPair('ecdsa', 'host-ecdsa');
    const multi = await new TestSshServer({ hostKeys: [hostKey, rsa, ecdsa], user: USER, authorized: [clientKey] }).start();
    try {
      for (const k of [rsa, ecdsa, hostKey]) {
        const kh = file('kh_multi', `${hashedEntry(`[127.0.0.1]:${multi.port}`, k)}\n`);
        const c = await connectSsh(`${USER}@127.0.0.1:${multi.port}`, { HOME: dir }, { keyFile, knownHostsFile: kh });
        assert.equal(await execText(c, 'echo ok'), 'ok\n', k.parsed.type);
        c.end();
      }
    } finally {
      await multi.stop();
    }
  });

  it('a worker command missing on the host fails the run in one line before the sweep', async () => {
    const r = await cli([...runAll('nocmd.csv', '--rep', '1'), '--ssh_key', keyFile, '--ssh_known_hosts', knownHosts, '--ssh_command', 'no-such-onnx-cloud --serve']);
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1, r.err);
    assert.match(r.errLines[0]!, /the cloud worker on .* exited \(code 127: .*no-such-onnx-cloud.*not found.*PATH/);
  });

  it('the embedded store is refused for a host that is not this machine', async () => {
    const r = await cli(['--operation', 'run_all', '--onnx_file', model, '--results_file', join(dir, 'far.csv'), '--cloud', 'ssh', '--ssh_host', 'u@far.example']);
    assert.equal(r.code, 2);
    assert.match(r.errLines[0]!, /the worker on .* cannot reach the embedded store .*--minio_endpoint/);
  });

  it('openSshTunnel forwards TCP connections through the host', async () => {
    const echo: Server = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const tunnel = await openSshTunnel(target(), '127.0.0.1', (echo.address() as AddressInfo).port, { HOME: dir }, { keyFile, knownHostsFile: knownHosts });
    try {
      for (const msg of ['first', 'second']) {
        const got = await new Promise<string>((resolve, reject) => {
          const s = netConnect(tunnel.localPort, '127.0.0.1', () => s.end(msg));
          let data = '';
          s.setEncoding('utf8');
          s.on('data', (d) => (data += d));
          s.on('end', () => resolve(data));
          s.on('error', reject);
        });
        assert.equal(got, msg);
      }
    } finally {
      await tunnel.close();
      echo.close();
    }
  });
});

/** The cloud configuration a worker command passed in --cloud_config. */
function workerConfig(command: string) {
  const m = / --cloud_config '([^']*)'$/.exec(command);
  assert.ok(m, command);
  return decodeCloudConfig(m[1]!);
}

function execText(c: SshClient, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      let out = '';
      ch.setEncoding('utf8');
      ch.on('data', (d: string) => (out += d));
      ch.on('close', () => resolve(out));
      ch.end();
    });
  });
}
