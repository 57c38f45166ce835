/**
 * The ssh backend (--cloud ssh --ssh_host user@host[:port]): the cloud worker (`onnx-cloud
 * --serve`) runs on another machine over one SSH exec channel, speaking the same JSON-lines
 * protocol as the local worker (src/runner/serve.ts), sessions kept warm by part hash.
 *
 * Store secrets: the remote command line is fixed by us and every word is quoted; it carries no
 * secret. The store endpoint and keys go as the first three lines of the channel's stdin, read by
 * a small POSIX sh wrapper into the worker's environment before it execs the worker, so they never
 * appear in a process list, a file or sshd's AcceptEnv list, and the worker protocol is unchanged
 * (the worker never sees those lines). See docs/ssh.md.
 *
 * Ending a worker: closing its channel (or losing the connection) does not end the command (sshd
 * leaves it running, and a stopped one stays stopped), and a signal sent through the channel is
 * honoured only by some servers: OpenSSH signals the command's process group for most users but
 * refuses outright for a root login (no privilege separation after authentication). So a worker
 * the backend kills (it missed a deadline) is also ended by the process id its 'ready' line gave,
 * with `kill -KILL <pid>` over the same connection, before another worker starts. The kill checks
 * first that the process still runs the worker (its command line holds the worker's
 * --cloud_config): a worker whose connection dropped ends by itself at the end of its stdin, and
 * its number may belong to another process by the time the backend has reconnected.
 */
import type { ClientChannel } from 'ssh2';
import { cloudConfigArgs, encodeCloudConfig, type CloudConfig } from '../config/cloud-config.js';
import { UsageError, warnOnStderr } from '../errors.js';
import { isLoopbackHost } from '../net.js';
import type { BackendModule, StoreAccess } from './backend.js';
import { checkStoreReach } from './reach.js';
import { connectSsh, parseSshTarget, type SshClient, type SshConnectOptions, type SshTarget } from './ssh-connect.js';
import { commandWords } from './ssh-options.js';
import { withTimeout } from './timers.js';
import { BackendError, WorkerBackend, type WorkerStreams } from './worker-client.js';

export { BackendError } from './worker-client.js';
export { commandWords };

/** Quotes one word for a POSIX shell (bare when it has only safe characters). */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins words into a command line for a POSIX shell, each word quoted. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}

/**
 * Run by `sh -c` on the host: reads the store endpoint and keys from the first three lines of
 * stdin into the environment, then execs the worker (which inherits the rest of stdin). `read`
 * consumes a pipe one byte at a time, so nothing of the worker protocol is swallowed. Single-quoted
 * as one word, it has no single quotes or backslashes, so any login shell (sh, bash, zsh, fish,
 * csh) passes it to sh unchanged.
 */
export const STORE_PREAMBLE_SCRIPT =
  'unset MINIO_ACCESS_KEY_FILE MINIO_SECRET_KEY_FILE; ' +
  'IFS= read -r MINIO_ENDPOINT && IFS= read -r MINIO_ACCESS_KEY && IFS= read -r MINIO_SECRET_KEY && ' +
  'export MINIO_ENDPOINT MINIO_ACCESS_KEY MINIO_SECRET_KEY || ' +
  '{ echo "onnx-manager: no store settings on stdin" >&2; exit 2; }; ' +
  'exec "$@"';

/**
 * Run by `sh -c` on the host with a process id and the worker's --cloud_config text: SIGKILLs the
 * process only while its command line holds that text (from /proc, else `ps`), exit 3 when it
 * does not (the worker ended, or the number now belongs to another process), 4 without grep. No
 * single quotes or backslashes, as STORE_PREAMBLE_SCRIPT.
 */
export const REMOTE_KILL_SCRIPT =
  'command -v grep >/dev/null || { echo "grep is not installed" >&2; exit 4; }; ' +
  'if [ -r "/proc/$1/cmdline" ]; then grep -F -q -e "$2" "/proc/$1/cmdline"; else ps -ww -o args= -p "$1" | grep -F -q -e "$2"; fi || exit 3; ' +
  'kill -KILL "$1"';

/** The command that ends the worker with this process id on the host (REMOTE_KILL_SCRIPT), every word quoted. */
export function remoteKillCommand(pid: number, cloud: CloudConfig): string {
  return shellJoin(['sh', '-c', REMOTE_KILL_SCRIPT, 'onnx-manager-kill', String(pid), encodeCloudConfig(cloud)]);
}

export interface SshBackendOptions {
  /** user@host[:port]. */
  target: string;
  connect: SshConnectOptions;
  env: Record<string, string | undefined>;
  /** The worker command's words (default onnx-cloud --serve); --serve is added when missing. */
  command: string[];
  /** Endpoint and keys go on the channel's stdin; the bucket is in `cloud`. */
  store: Pick<StoreAccess, 'endpoint' | 'accessKey' | 'secretKey'>;
  /** The run's cloud configuration, the worker's --cloud_config. */
  cloud: CloudConfig;
  /**
   * Where the worker's own stderr lines go, prefixed with the host (default: this process's
   * stderr, as the local worker's stderr is inherited); not warnings of the backend.
   */
  stderr?: (line: string) => void;
}

/** The full remote command: the preamble wrapper, then the worker's fixed argument list, each word quoted. */
export function remoteCommand(o: Pick<SshBackendOptions, 'command' | 'cloud'>): string {
  const worker = [...o.command];
  if (!worker.includes('--serve')) worker.push('--serve');
  return shellJoin(['sh', '-c', STORE_PREAMBLE_SCRIPT, 'onnx-manager-worker', ...worker, ...cloudConfigArgs(o.cloud)]);
}

export class SshBackend extends WorkerBackend {
  readonly name = 'ssh';
  protected readonly label: string;
  readonly target: SshTarget;
  /** The command line the host runs (no secrets in it). */
  readonly command: string;
  private client?: SshClient;
  private connecting?: Promise<SshClient>;
  private shut = false;
  /** The remote kill of a worker the backend ended, which the next worker waits for. */
  private ending?: Promise<void>;

  constructor(private readonly options: SshBackendOptions) {
    super(options.cloud);
    this.target = parseSshTarget(options.target, options.env);
    this.label = `the cloud worker on ${this.target.label}`;
    for (const [k, v] of Object.entries({ endpoint: options.store.endpoint, 'access key': options.store.accessKey, 'secret key': options.store.secretKey })) {
      if (/[\r\n]/.test(v)) throw new UsageError(`the store's ${k} contains a line break, which --cloud ssh cannot pass`);
    }
    this.command = remoteCommand(options);
  }

  /** Connects (or returns the open connection); the host key and credentials are checked here. */
  async connect(): Promise<SshClient> {
    if (this.client) return this.client;
    if (this.shut) throw new BackendError(`${this.label}: the backend is closed`);
    this.connecting ??= connectSsh(this.options.target, this.options.env, this.options.connect)
      .then((c) => {
        this.client = c;
        c.on('error', () => undefined);
        c.once('close', () => {
          if (this.client === c) this.client = undefined;
        });
        return c;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** Ends the worker with this process id on the host (SIGKILL) if it still runs there; a failure is a warning, not an error. */
  private async killRemote(pid: number): Promise<void> {
    if (!Number.isSafeInteger(pid) || pid <= 1) return;
    const warn = this.options.connect.warn ?? warnOnStderr;
    try {
      const client = await this.connect();
      const ended = new Promise<{ how: string; said: string }>((resolve, reject) => {
        client.exec(remoteKillCommand(pid, this.options.cloud), (err, ch) => {
          if (err) return reject(err);
          let code = '';
          let said = '';
          ch.on('error', () => undefined);
          ch.on('exit', (c: number | null, signal?: string) => (code = signal ? `signal ${signal}` : `code ${c}`));
          ch.resume();
          ch.stderr.setEncoding('utf8');
          ch.stderr.on('data', (t: string) => (said = (said + t).slice(0, 300)));
          ch.once('close', () => resolve({ how: code, said: said.trim().split(/\r?\n/)[0]! }));
        });
      });
      const { how, said } = await withTimeout(ended, 10_000, () => new BackendError('no answer within 10 s'));
      // 'code 3': no such worker (it had ended); 'code 1': it ended between the check and the kill.
      if (how !== 'code 0' && how !== 'code 1' && how !== 'code 3') {
        warn(`${this.label}: kill -KILL ${pid} on the host ended with ${how || 'no status'}${said ? `: ${said}` : ''}`);
      }
    } catch (err) {
      warn(`${this.label}: could not end the old worker (pid ${pid}) on the host: ${(err as Error).message}`);
    }
  }

  protected async spawnWorker(): Promise<WorkerStreams> {
    // A worker killed after a deadline is ended on the host before its successor starts.
    await this.ending;
    const client = await this.connect();
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.exec(this.command, (err, ch) =>
        err ? reject(new BackendError(`${this.label}: the host refused to run the worker: ${err.message}`, { cause: err })) : resolve(ch),
      );
    });
    channel.on('error', () => undefined);
    const { store } = this.options;
    channel.write(`${store.endpoint}\n${store.accessKey}\n${store.secretKey}\n`);
    const out = this.options.stderr ?? ((line: string) => void process.stderr.write(`${line}\n`));
    const forward = (line: string) => out(`[${this.target.label}] ${line}`);
    let lastErr = '';
    let partial = '';
    channel.stderr.setEncoding('utf8');
    channel.stderr.on('data', (s: string) => {
      const lines = (partial + s).split(/\r?\n/);
      partial = lines.pop()!;
      for (const l of lines) {
        if (!l.trim()) continue;
        lastErr = l.trim().slice(0, 300);
        forward(l);
      }
    });
    let how: string | undefined;
    let endedRemote = false;
    const endRemote = () => {
      const pid = streams.pid;
      if (endedRemote || pid === undefined) return;
      endedRemote = true;
      const before = this.ending;
      this.ending = (async () => {
        await before;
        await this.killRemote(pid);
      })();
    };
    channel.on('exit', (code: number | null, signal?: string) => {
      how = signal ? `signal ${signal}` : `code ${code}`;
    });
    const exited = new Promise<string>((resolve) => {
      let done = false;
      const finish = (fallback: string) => {
        if (done) return;
        done = true;
        client.removeListener('close', onConnectionClose);
        if (partial.trim()) lastErr = partial.trim().slice(0, 300);
        // The connection went without the command's exit status: the worker may still run there.
        if (how === undefined) endRemote();
        let text = how ?? fallback;
        if (lastErr) text += `: ${lastErr}`;
        if (how === 'code 127') text += ` (is '${this.options.command[0]}' on the PATH of ${this.target.user}'s non-interactive shell? see --ssh_command)`;
        resolve(text);
      };
      const onConnectionClose = () => finish('the SSH connection closed');
      channel.once('close', () => finish('the channel closed'));
      client.once('close', onConnectionClose);
    });
    const streams: WorkerStreams = {
      stdin: channel,
      stdout: channel,
      exited,
      kill: () => {
        try {
          channel.signal('KILL');
        } catch {
          // the channel may be gone already
        }
        channel.close();
        endRemote();
      },
    };
    return streams;
  }

  /** Starts the worker now, so a wrong command or an unreachable store fails the run before the sweep. */
  async check(timeoutMs = 120_000): Promise<void> {
    await withTimeout(
      this.prepare([]),
      timeoutMs,
      () => new BackendError(`${this.label} did not start within ${Math.round(timeoutMs / 1000)} s (no 'ready' line from: ${this.options.command.join(' ')})`),
    );
  }

  override async close(): Promise<void> {
    this.shut = true;
    try {
      await super.close();
    } finally {
      await this.ending;
      const c = this.client ?? (await this.connecting?.catch(() => undefined));
      this.client = undefined;
      c?.end();
    }
  }
}

export const sshModule: BackendModule = {
  create: async (ctx) => {
    const settings = ctx.config.backend;
    if (settings.name !== 'ssh') throw new UsageError(`the ssh backend was given the settings of --cloud ${settings.name}`);
    const { host, command, connect } = settings;
    const target = parseSshTarget(host, ctx.env);
    checkStoreReach(ctx, { who: `the worker on ${target.label}`, remote: !isLoopbackHost(target.host), loopback: 'warn' });
    const backend = new SshBackend({
      target: host,
      connect: { ...connect, warn: ctx.warn },
      env: ctx.env,
      command,
      store: ctx.storeAccess,
      cloud: ctx.cloud,
    });
    backend.deadlineMs = ctx.config.timeoutMs;
    try {
      await backend.connect();
      await backend.check();
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
    return backend;
  },
};
