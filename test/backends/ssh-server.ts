/**
 * A real SSH server on loopback for the tests (ssh2's Server, in this process): host keys, public
 * key and password authentication, exec (the command goes to /bin/sh -c as sshd runs it through
 * the user's shell, with a PATH where `onnx-cloud` is this project's dist/cloud/onnx-cloud.js), and
 * direct-tcpip forwarding (ssh -L). As OpenSSH's sshd, it leaves a command running when its channel
 * or connection closes (openssh.test.ts runs the backend against sshd itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey } from 'ssh2';
import { projectRoot } from '../models/zoo.js';

const { Server, utils } = ssh2;

export interface KeyPair {
  private: string;
  public: string;
  parsed: ParsedKey;
  /** The public key blob (SSH wire format). */
  blob: Buffer;
}

export function keyPair(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', comment = 'test'): KeyPair {
  const opts = type === 'rsa' ? { bits: 2048, comment } : type === 'ecdsa' ? { bits: 256, comment } : { comment };
  // ssh2's generator writes a malformed ed25519 key about once in 300 (ssh-keygen -y refuses it
  // too: "error in libcrypto"): such a key is generated again rather than failing a test.
  for (let attempt = 0; ; attempt++) {
    const kp = (utils.generateKeyPairSync as (t: string, o: object) => { private: string; public: string })(type, opts);
    const parsed = utils.parseKey(kp.private);
    if (!(parsed instanceof Error) && !Array.isArray(parsed)) return { private: kp.private, public: kp.public, parsed, blob: parsed.getPublicSSH() };
    if (attempt >= 20) throw new Error(`ssh2 generated ${attempt + 1} ${type} keys it cannot parse: ${String(parsed)}`);
  }
}

export interface ExecRecord {
  command: string;
  /** The first lines the command read on stdin (up to 3). */
  firstLines: string[];
  child: ChildProcess;
  /** The SSH connection the command runs on. */
  connection: Connection;
}

export interface TestSshServerOptions {
  hostKeys: KeyPair[];
  user: string;
  /** Public keys allowed for `user`. */
  authorized: KeyPair[];
  /** A password allowed for `user` (password and keyboard-interactive), if any. */
  password?: string;
  /** How the password is taken (default: both password and keyboard-interactive). */
  passwordVia?: 'password' | 'keyboard-interactive';
  /**
   * Called with each line the client sends to an exec'd command; return 'kill' to kill the command
   * instead of passing the line, 'drop' to cut the whole SSH connection.
   */
  onLine?: (line: string, exec: ExecRecord) => 'kill' | 'drop' | void;
}

export class TestSshServer {
  readonly execs: ExecRecord[] = [];
  readonly authAttempts: string[] = [];
  private readonly connections = new Set<Connection>();
  private readonly children = new Set<ChildProcess>();
  private server!: InstanceType<typeof Server>;
  private binDir!: string;
  port = 0;
  options: TestSshServerOptions;

  constructor(options: TestSshServerOptions) {
    this.options = options;
  }

  async start(): Promise<this> {
    this.binDir = mkdtempSync(join(tmpdir(), 'onnx-manager-sshbin-'));
    const shim = join(this.binDir, 'onnx-cloud');
    writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${join(projectRoot(), 'dist', 'cloud', 'onnx-cloud.js')}' "$@"\n`);
    chmodSync(shim, 0o755);
    this.server = new Server({ hostKeys: this.options.hostKeys.map((k) => k.private) }, (client) => this.onClient(client));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private onClient(client: Connection): void {
    this.connections.add(client);
    client.on('close', () => this.connections.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      this.authAttempts.push(ctx.method);
      const o = this.options;
      const pw: ('password' | 'keyboard-interactive')[] = !o.password ? [] : o.passwordVia ? [o.passwordVia] : ['password', 'keyboard-interactive'];
      const methods: ('publickey' | 'password' | 'keyboard-interactive')[] = ['publickey', ...pw];
      if (ctx.username !== o.user) return ctx.reject(methods);
      if (ctx.method === 'publickey') {
        const k = o.authorized.find((a) => a.parsed.type === ctx.key.algo && a.blob.length === ctx.key.data.length && timingSafeEqual(a.blob, ctx.key.data));
        if (!k) return ctx.reject(methods);
        if (ctx.signature && ctx.blob) {
          if (k.parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(methods);
        }
        return ctx.accept();
      }
      if (ctx.method === 'password' && o.password && pw.includes('password')) return ctx.password === o.password ? ctx.accept() : ctx.reject(methods);
      if (ctx.method === 'keyboard-interactive' && o.password && pw.includes('keyboard-interactive')) {
        return ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) => (answers[0] === o.password ? ctx.accept() : ctx.reject(methods)));
      }
      return ctx.reject(methods);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let running: ChildProcess | undefined;
        session.on('signal', (accept, _reject, info) => {
          accept?.();
          running?.kill(`SIG${info.name}` as NodeJS.Signals);
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${this.binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
          for (const k of Object.keys(env)) if (k.startsWith('MINIO_') || k.startsWith('SSH_')) delete env[k];
          const child = spawn('/bin/sh', ['-c', info.command], { env, stdio: ['pipe', 'pipe', 'pipe'] });
          this.children.add(child);
          running = child;
          const rec: ExecRecord = { command: info.command, firstLines: [], child, connection: client };
          this.execs.push(rec);
          child.stdin.on('error', () => undefined);
          const lines = createInterface({ input: channel, crlfDelay: Infinity });
          lines.on('line', (line) => {
            if (rec.firstLines.length < 3) rec.firstLines.push(line);
            const what = this.options.onLine?.(line, rec);
            if (what === 'kill') {
              child.kill('SIGKILL');
              return;
            }
            if (what === 'drop') {
              client.end();
              return;
            }
            if (child.stdin.writable) child.stdin.write(`${line}\n`);
          });
          lines.on('close', () => child.stdin.end());
          child.stdout.pipe(channel, { end: false });
          child.stderr.pipe(channel.stderr, { end: false });
          // As OpenSSH's sshd: a closed channel (or connection) leaves its command running, with its stdin at its end.
          child.on('close', (code, signal) => {
            this.children.delete(child);
            try {
              if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
              else channel.exit(code ?? 0);
              channel.end();
            } catch {
              // the client went away
            }
          });
        });
      });
      client.on('tcpip', (accept, reject, info) => {
        const sock = netConnect(info.destPort, info.destIP);
        sock.once('connect', () => {
          const stream = accept();
          sock.pipe(stream).pipe(sock);
          stream.on('error', () => sock.destroy());
        });
        sock.once('error', () => reject());
      });
    });
  }

  async stop(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    for (const c of this.connections) c.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.binDir, { recursive: true, force: true });
  }
}
