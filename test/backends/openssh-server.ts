/**
 * OpenSSH's own sshd on loopback for the tests, as a child of this process: a configuration, a
 * host key and an authorized key of its own in a temporary folder, public keys only, the user who
 * runs the tests as the only login (root included: sshd runs a login of the user who started it).
 * Nothing outside the folder is changed, except that sshd started as root needs its privilege
 * separation folder /run/sshd (its path is compiled into sshd: no configuration moves it), which
 * Debian's ssh.service would make: when absent it is made, empty, root's, mode 0755, as that
 * service makes it, and left in place. Removing it at the end would pull it from under any other
 * sshd on the machine, e.g. another test run's, whose logins then fail. Debian installs sshd with:
 * apt-get install openssh-server
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net.js';

export const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';

/** Why OpenSSH's sshd cannot run here (one line), or undefined. */
export function sshdMissing(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is not installed (apt-get install openssh-server)`;
  if (spawnSync('ssh-keygen', ['-?']).error) return 'ssh-keygen is not installed (apt-get install openssh-client)';
  if (spawnSync('ssh', ['-V']).error) return 'ssh is not installed (apt-get install openssh-client)';
  return undefined;
}


/** A new ed25519 key pair, unencrypted: `file` and `file.pub`. */
export function keygen(file: string, comment: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || r.error}`);
}

export class OpenSshServer {
  readonly user = userInfo().username;
  readonly dir = mkdtempSync(join(tmpdir(), 'onnx-manager-sshd-'));
  /** The client's private key (its public half is the only authorized key). */
  readonly keyFile = join(this.dir, 'id_client');
  /** known_hosts holding the host key for [127.0.0.1]:port (written by start()). */
  readonly knownHosts = join(this.dir, 'known_hosts');
  port = 0;
  private child?: ChildProcess;
  private logText = '';

  /** sshd's log so far (LogLevel VERBOSE, on its stderr). */
  log(): string {
    return this.logText;
  }

  /** How many exec sessions sshd started (each worker, each remote kill). */
  sessions(): number {
    return this.logText.match(/Starting session: command for /g)?.length ?? 0;
  }

  async start(): Promise<this> {
    const hostKey = join(this.dir, 'host_ed25519');
    keygen(hostKey, 'host');
    keygen(this.keyFile, 'client');
    writeFileSync(join(this.dir, 'authorized_keys'), readFileSync(`${this.keyFile}.pub`));
    const config = join(this.dir, 'sshd_config');
    writeFileSync(
      config,
      [
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${this.user}`,
        'StrictModes no',
        'UsePAM no',
        'PidFile none',
        'PrintMotd no',
        'X11Forwarding no',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    // Made when absent (another run may make it at the same moment: no error if it is there).
    if (process.getuid?.() === 0) mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    // A port taken between choosing and binding it: choose another.
    for (let attempt = 0; ; attempt++) {
      this.port = await freePort();
      this.logText = '';
      const child = spawn(SSHD, ['-D', '-e', '-f', config, '-p', String(this.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = child;
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (s: string) => (this.logText += s));
      const up = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 20_000);
        const check = () => {
          if (this.logText.includes('Server listening on')) {
            clearTimeout(timer);
            resolve(true);
          }
        };
        child.stderr!.on('data', check);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (up) break;
      await this.stopChild();
      if (attempt >= 3 || !/Address already in use/.test(this.logText)) throw new Error(`sshd did not start: ${this.logText.trim().split('\n').slice(-3).join(' | ')}`);
    }
    const pub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
    writeFileSync(this.knownHosts, `[127.0.0.1]:${this.port} ${pub[0]} ${pub[1]}\n`, { mode: 0o600 });
    return this;
  }

  /** Logs in with OpenSSH's own client and runs `true`: its exit code and stderr (0 when sshd took the login). */
  login(): Promise<{ code: number | null; stderr: string }> {
    const args = ['-i', this.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${this.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=20', '-p', String(this.port), `${this.user}@127.0.0.1`, 'true'];
    return new Promise((resolve) => {
      const c = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir } });
      let stderr = '';
      c.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      c.once('error', (err) => resolve({ code: null, stderr: String(err) }));
      c.once('close', (code) => resolve({ code, stderr }));
    });
  }

  private async stopChild(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
  }

  async stop(): Promise<void> {
    await this.stopChild();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TCP relay on loopback to a port whose connections can be cut (a dropped network path) and new ones refused. */
export class CuttableProxy {
  port = 0;
  /** Connections accepted so far. */
  connections = 0;
  /** Refuse (close at once) new connections. */
  refuse = false;
  private readonly sockets = new Set<Socket>();
  private server?: Server;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (this.refuse) return void client.destroy();
      this.connections++;
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Cuts every open connection. */
  drop(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
