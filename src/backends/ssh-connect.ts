/**
 * SSH connections for the backends (the only module that imports ssh2 at run time): connecting
 * with a checked host key and a key file, ssh-agent or a password from the environment, and a
 * local TCP port forwarded through the connection.
 *
 * Trust: the host key must be in known_hosts (~/.ssh/known_hosts or --ssh_known_hosts: plain and
 * hashed `|1|salt|hash` entries, `[host]:port`, wildcards and negations, @revoked) unless the user
 * passes --ssh_insecure_no_host_check. Secrets never come from the command line.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { homedir, userInfo } from 'node:os';
import * as path from 'node:path';
import ssh2 from 'ssh2';
import type { AuthMethod, Client as SshClient, ConnectConfig, ParsedKey, ServerHostKeyAlgorithm } from 'ssh2';
import { FileError, OnnxManagerError, UsageError, warnOnStderr } from '../errors.js';
import type { SshConnectOptions } from './ssh-options.js';
import { secretFromEnv } from '../secrets.js';

export type { SshConnectOptions } from './ssh-options.js';
export type { Client as SshClient } from 'ssh2';

const { Client, utils } = ssh2;

/** The SSH connection failed: unreachable host, unknown or changed host key, rejected credentials. */
export class SshError extends OnnxManagerError {}

type Env = Record<string, string | undefined>;

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** user@host:port for messages. */
  label: string;
}

/** Parses user@host[:port], host, [v6addr]:port; the user defaults to $USER. */
export function parseSshTarget(target: string, env: Env = process.env): SshTarget {
  const text = String(target ?? '').trim();
  const bad = () => new UsageError(`--ssh_host '${target}' is not user@host[:port]`);
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : (env.USER || env.LOGNAME || safeUserName());
  const rest = at >= 0 ? text.slice(at + 1) : text;
  let host: string;
  let portText: string | undefined;
  let m: RegExpExecArray | null;
  if ((m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest))) {
    host = m[1]!;
    portText = m[2];
    if (isIP(host) !== 6) throw bad();
  } else if (isIP(rest) === 6) {
    host = rest;
  } else if ((m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?::(\d+))?$/.exec(rest))) {
    host = m[1]!;
    portText = m[2];
  } else {
    throw bad();
  }
  if (!user) throw new UsageError(`--ssh_host '${target}' names no user (user@host)`);
  if (/[\s@\x00-\x1f]/.test(user)) throw bad();
  const port = portText !== undefined ? Number(portText) : 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--ssh_host '${target}': port ${portText} is not 1..65535`);
  const hostText = isIP(host) === 6 ? `[${host}]` : host;
  return { user, host, port, label: `${user}@${hostText}${port === 22 ? '' : `:${port}`}` };
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}


/** OpenSSH's fingerprint of a public key blob: SHA256:<base64 without padding>. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written at the start of a public key blob (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256...). */
export function keyBlobType(blob: Buffer): string {
  if (blob.length < 4) return '?';
  const n = blob.readUInt32BE(0);
  if (n > blob.length - 4 || n > 64) return '?';
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** How a host is written in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export interface KnownHostEntry {
  line: number;
  marker?: '@revoked' | '@cert-authority';
  hosts: string;
  keyType: string;
  key: Buffer;
}

/** The entries of a known_hosts file (comments, blank and malformed lines skipped). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const tokens = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (tokens[0]!.startsWith('@')) {
      const mk = tokens.shift()!.toLowerCase();
      if (mk !== '@revoked' && mk !== '@cert-authority') return;
      marker = mk;
    }
    const [hosts, keyType, key64] = tokens;
    if (!hosts || !keyType || !key64 || !/^[A-Za-z0-9+/]+=*$/.test(key64)) return;
    const e: KnownHostEntry = { line: i + 1, hosts, keyType, key: Buffer.from(key64, 'base64') };
    if (marker) e.marker = marker;
    entries.push(e);
  });
  return entries;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\[/g, '\\[').replace(/\]/g, '\\]').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** Whether an entry's host field (hashed, or a comma-separated pattern list) names the host. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt64, hash64] = field.split('|');
    if (!salt64 || !hash64) return false;
    const want = Buffer.from(hash64, 'base64');
    const got = createHmac('sha1', Buffer.from(salt64, 'base64')).update(name).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let matched = false;
  for (const p of field.split(',')) {
    if (!p) continue;
    if (p.startsWith('!')) {
      if (wildcardMatch(p.slice(1), name)) return false;
    } else if (wildcardMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

export type HostKeyVerdict =
  | { status: 'ok'; line: number }
  | { status: 'unknown' }
  | { status: 'revoked'; line: number }
  | { status: 'mismatch'; line: number; knownTypes: string[] };

/** Checks an offered host key blob against known_hosts text for host:port. */
export function checkKnownHosts(text: string, host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const type = keyBlobType(blob);
  const entries = parseKnownHosts(text).filter((e) => e.marker !== '@cert-authority' && hostFieldMatches(e.hosts, name));
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key.equals(blob));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const plain = entries.filter((e) => !e.marker);
  const same = plain.find((e) => e.key.equals(blob));
  if (same) return { status: 'ok', line: same.line };
  if (plain.length === 0) return { status: 'unknown' };
  const sameType = plain.find((e) => e.keyType === type);
  return { status: 'mismatch', line: (sameType ?? plain[0]!).line, knownTypes: [...new Set(plain.map((e) => e.keyType))] };
}

const ALL_HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Host key algorithms with those of the key types known for this host first (as OpenSSH orders them). */
export function hostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const first: ServerHostKeyAlgorithm[] = [];
  for (const t of knownTypes) {
    const algos = (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]) as ServerHostKeyAlgorithm[];
    for (const a of algos) if (ALL_HOST_KEY_ALGORITHMS.includes(a) && !first.includes(a)) first.push(a);
  }
  return [...first, ...ALL_HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}


function homeDir(env: Env): string {
  return env.HOME || homedir();
}

function readKey(file: string, passphrase: string | undefined, explicit: boolean): ParsedKey | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if (!explicit) return undefined;
    throw new FileError(`${file}: cannot read the SSH key (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err, file });
  }
  const parsed = utils.parseKey(bytes, passphrase);
  if (parsed instanceof Error) {
    if (!explicit) return undefined;
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    if (encrypted && passphrase === undefined) {
      throw new UsageError(`SSH key ${file} is encrypted: set SSH_KEY_PASSPHRASE_FILE (a file holding the passphrase) or SSH_KEY_PASSPHRASE, or load the key into ssh-agent`);
    }
    throw new UsageError(`SSH key ${file} cannot be read${encrypted || passphrase !== undefined ? ' (wrong passphrase?)' : ''}: ${parsed.message.split('\n')[0]}`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) {
    if (!explicit) return undefined;
    throw new UsageError(`SSH key ${file} is not a private key (give the private key file, not the .pub)`);
  }
  return key;
}

/** The authentication methods to try, in order, and a description of each for messages. */
export function authMethods(user: string, env: Env, options: SshConnectOptions = {}): { methods: AuthMethod[]; tried: string[] } {
  const methods: AuthMethod[] = [];
  const tried: string[] = [];
  const pass = secretFromEnv(env, 'SSH_KEY_PASSPHRASE');
  const keyFile = options.keyFile ?? (env.SSH_KEY_FILE || undefined);
  if (keyFile) {
    const key = readKey(keyFile, pass?.value, true)!;
    methods.push({ type: 'publickey', username: user, key } as AuthMethod);
    tried.push(`key ${keyFile}`);
  }
  if (env.SSH_AUTH_SOCK) {
    methods.push({ type: 'agent', username: user, agent: env.SSH_AUTH_SOCK } as AuthMethod);
    tried.push('ssh-agent');
  }
  if (!keyFile) {
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const file = path.join(homeDir(env), '.ssh', name);
      if (!existsSync(file)) continue;
      const key = readKey(file, pass?.value, false);
      if (!key) continue;
      methods.push({ type: 'publickey', username: user, key } as AuthMethod);
      tried.push(`key ${file}`);
    }
  }
  const password = secretFromEnv(env, 'SSH_PASSWORD');
  if (password) {
    const pw = password.value;
    methods.push({ type: 'password', username: user, password: pw } as AuthMethod);
    // Servers that take passwords only through PAM's keyboard-interactive: answer one hidden prompt.
    methods.push({
      type: 'keyboard-interactive',
      username: user,
      prompt: (_name: string, _instructions: string, _lang: string, prompts: { prompt: string; echo?: boolean }[], finish: (answers: string[]) => void) =>
        finish(prompts.length === 1 && !prompts[0]!.echo ? [pw] : prompts.map(() => '')),
    } as AuthMethod);
    tried.push(`password from ${password.from}`);
  }
  return { methods, tried };
}

function readKnownHosts(options: SshConnectOptions, env: Env): { file: string; text: string } {
  if (options.knownHostsFile) {
    try {
      return { file: options.knownHostsFile, text: readFileSync(options.knownHostsFile, 'utf8') };
    } catch (err) {
      throw new FileError(`${options.knownHostsFile}: cannot read --ssh_known_hosts (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause: err,
        file: options.knownHostsFile,
      });
    }
  }
  const file = path.join(homeDir(env), '.ssh', 'known_hosts');
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch {
    return { file, text: '' };
  }
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function hostKeyProblem(t: SshTarget, verdict: HostKeyVerdict, file: string, blob: Buffer): string | undefined {
  const offered = `${keyBlobType(blob)} key ${fingerprint(blob)}`;
  const name = knownHostsName(t.host, t.port);
  switch (verdict.status) {
    case 'ok':
      return undefined;
    case 'unknown':
      return (
        `SSH host ${name} is not in known_hosts (${file}); it offered ${offered}. If that is the host's key (check on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
        `add it with ssh-keyscan${t.port === 22 ? '' : ` -p ${t.port}`} ${shellWord(t.host)} >> ${shellWord(file)}, or give --ssh_known_hosts`
      );
    case 'revoked':
      return `SSH host ${name} offered ${offered}, which ${file} line ${verdict.line} marks @revoked; refusing to connect`;
    case 'mismatch':
      return (
        `SSH host key of ${name} does not match known_hosts (${file} line ${verdict.line}, ${verdict.knownTypes.join('/')}): the server offered ${offered}. ` +
        `Someone may be intercepting the connection; if the host key was changed on purpose, remove the old entry (ssh-keygen -R ${shellWord(name)} -f ${shellWord(file)})`
      );
  }
}

/** Turns an ssh2 connection error into one line naming the host. */
function connectError(t: SshTarget, err: Error & { level?: string; code?: string }, tried: string[]): SshError {
  const where = `${t.label}`;
  switch (err.level) {
    case 'client-authentication':
      return new SshError(`SSH authentication to ${where} failed (tried: ${tried.join(', ')}); check the user, the key (--ssh_key or SSH_KEY_FILE) and the server's authorized_keys`, {
        cause: err,
      });
    case 'client-timeout':
      return new SshError(`SSH connection to ${where} timed out before authentication finished`, { cause: err });
    case 'client-dns':
      return new SshError(`SSH host ${t.host} cannot be resolved (${err.code ?? err.message})`, { cause: err });
    case 'client-socket':
      return new SshError(`cannot connect to ${where} over SSH: ${String(err.message).split('\n')[0]}`, { cause: err });
    default:
      return new SshError(`SSH connection to ${where} failed: ${String(err.message).split('\n')[0]}`, { cause: err });
  }
}

/**
 * Connects to `target` (user@host[:port]) and authenticates with, in order: the key file
 * (options.keyFile or SSH_KEY_FILE; passphrase from SSH_KEY_PASSPHRASE[_FILE]), ssh-agent
 * (SSH_AUTH_SOCK), the default keys in ~/.ssh when no key file was given, then a password from
 * SSH_PASSWORD or SSH_PASSWORD_FILE. The host key must be in known_hosts unless
 * options.insecureNoHostCheck. Rejects with one-line SshError/UsageError/FileError messages.
 */
export async function connectSsh(target: string, env: Env = process.env, options: SshConnectOptions = {}): Promise<SshClient> {
  const t = parseSshTarget(target, env);
  const { methods, tried } = authMethods(t.user, env, options);
  if (methods.length === 0) {
    throw new UsageError(
      `no way to authenticate to ${t.label}: give --ssh_key FILE (or SSH_KEY_FILE), run ssh-agent (SSH_AUTH_SOCK), or put the password in a file and set SSH_PASSWORD_FILE`,
    );
  }
  const warn = options.warn ?? warnOnStderr;
  const known = options.insecureNoHostCheck ? undefined : readKnownHosts(options, env);
  const name = knownHostsName(t.host, t.port);
  const knownTypes = known
    ? [...new Set(parseKnownHosts(known.text).filter((e) => !e.marker && hostFieldMatches(e.hosts, name)).map((e) => e.keyType))]
    : [];
  let hostProblem: string | undefined;
  const config: ConnectConfig = {
    host: t.host,
    port: t.port,
    username: t.user,
    authHandler: methods,
    readyTimeout: options.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) },
    hostVerifier: (key: Buffer) => {
      if (!known) {
        warn(
          `--ssh_insecure_no_host_check: not checking the host key of ${name} (it offered ${keyBlobType(key)} key ${fingerprint(key)}); anyone on the network path can impersonate it and read the store keys`,
        );
        return true;
      }
      hostProblem = hostKeyProblem(t, checkKnownHosts(known.text, t.host, t.port, key), known.file, key);
      return hostProblem === undefined;
    },
  };
  const client = new Client();
  return new Promise<SshClient>((resolve, reject) => {
    let settled = false;
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(hostProblem ? new SshError(hostProblem, { cause: err }) : connectError(t, err, tried));
    });
    client.once('close', () => {
      if (settled) return;
      settled = true;
      reject(hostProblem ? new SshError(hostProblem) : new SshError(`SSH connection to ${t.label} closed during the handshake`));
    });
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      resolve(client);
    });
    try {
      client.connect(config);
    } catch (err) {
      settled = true;
      reject(new SshError(`SSH connection to ${t.label} cannot start: ${(err as Error).message}`, { cause: err }));
    }
  });
}

export interface SshTunnel {
  /** The port on 127.0.0.1 that reaches remoteHost:remotePort through the SSH host. */
  localPort: number;
  close(): Promise<void>;
}

/**
 * A local TCP server on 127.0.0.1 (a free port) whose every connection is forwarded through the
 * SSH host to remoteHost:remotePort (like ssh -L). Used to reach an API server behind a jump host.
 */
export async function openSshTunnel(
  target: string,
  remoteHost: string,
  remotePort: number,
  env: Env = process.env,
  options: SshConnectOptions = {},
): Promise<SshTunnel> {
  if (!remoteHost || !Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
    throw new UsageError(`SSH tunnel target ${remoteHost}:${remotePort} is not host:port`);
  }
  const client = await connectSsh(target, env, options);
  const sockets = new Set<Socket>();
  let closed = false;
  // Half-open: a client that ends its side still gets the rest of the answer (as with ssh -L).
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pause();
    client.forwardOut(socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0, remoteHost, remotePort, (err, stream) => {
      if (err) {
        socket.destroy();
        return;
      }
      stream.on('error', () => socket.destroy());
      // The channel closes after its last data; end (not destroy) lets that data reach the socket.
      stream.once('close', () => socket.end());
      socket.once('close', () => stream.destroy());
      socket.pipe(stream).pipe(socket);
      socket.resume();
    });
  });
  client.on('error', () => undefined);
  client.once('close', () => {
    for (const s of sockets) s.destroy();
    if (!closed) server.close();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  }).catch((err) => {
    client.end();
    throw new SshError(`cannot open a local port for the SSH tunnel: ${(err as Error).message}`, { cause: err });
  });
  const localPort = (server.address() as { port: number }).port;
  return {
    localPort,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.end();
    },
  };
}
