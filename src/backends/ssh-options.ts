/**
 * Command-line options of the ssh backend (kept apart from the backend so that parsing
 * arguments does not load its SDK). Secrets never come from the command line: the password, the
 * key's passphrase and the store's keys come from the environment or from files (see docs/ssh.md).
 */
import type { Options } from 'yargs';
import { UsageError } from '../errors.js';

/** The remote command run by default: the cloud worker over the channel's stdin/stdout. */
export const DEFAULT_SSH_COMMAND = 'onnx-cloud --serve';

export const sshOptions: Record<string, Options> = {
  ssh_host: {
    type: 'string',
    describe: '--cloud ssh: user@host[:port] that runs the cloud worker (onnx-cloud --serve)',
  },
  ssh_key: {
    type: 'string',
    describe: 'Private key file for SSH (or SSH_KEY_FILE; passphrase from SSH_KEY_PASSPHRASE_FILE); also tried: ssh-agent (SSH_AUTH_SOCK), SSH_PASSWORD_FILE',
  },
  ssh_known_hosts: {
    type: 'string',
    describe: 'known_hosts file to check the SSH host key against (default ~/.ssh/known_hosts)',
  },
  ssh_insecure_no_host_check: {
    type: 'boolean',
    default: false,
    describe: 'Do not check the SSH host key (anyone on the path can impersonate the host and read the store keys)',
  },
  ssh_command: {
    type: 'string',
    default: DEFAULT_SSH_COMMAND,
    describe: 'Remote worker command, words separated by spaces (no shell syntax), e.g. "node /srv/onnx-manager/dist/cloud/onnx-cloud.js --serve"',
  },
  ssh_password: {
    type: 'string',
    hidden: true,
    describe: 'Refused: a password on the command line is visible to every user of the machine',
    coerce: (): never => {
      throw new UsageError(
        '--ssh_password is refused: a password on the command line is visible to every user of this machine; put it in a file readable only by you and set SSH_PASSWORD_FILE, or use --ssh_key or ssh-agent',
      );
    },
  },
};

/** The words of --ssh_command: separated by spaces, no shell syntax (quotes, $, ;, |, &, redirections). */
export function commandWords(command: string): string[] {
  const text = String(command ?? '').trim();
  if (!text) throw new UsageError('--ssh_command is empty');
  if (/['"`$\\;|&<>(){}\n\r]/.test(text)) {
    throw new UsageError(
      `--ssh_command '${text.split(/\r?\n/)[0]}' has shell syntax; it takes words separated by spaces (e.g. "node /srv/onnx-manager/dist/cloud/onnx-cloud.js --serve"); put anything more in a script on the host and name the script`,
    );
  }
  return text.split(/\s+/);
}

/** How to reach and trust an SSH host, as connectSsh (ssh-connect.ts) takes it. */
export interface SshConnectOptions {
  /** Private key file (else SSH_KEY_FILE, else the default identities in ~/.ssh). */
  keyFile?: string;
  /** known_hosts file (else ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** Skip the host key check (a warning line is written). */
  insecureNoHostCheck?: boolean;
  /** Where warnings go (default: stderr). */
  warn?: (line: string) => void;
  /** How long to wait for the connection and authentication (default 20000 ms). */
  readyTimeoutMs?: number;
}

/** The connection options from parsed command-line flags (--ssh_key, --ssh_known_hosts, --ssh_insecure_no_host_check). */
export function sshConnectOptions(args: Readonly<Record<string, unknown>>): SshConnectOptions {
  const o: SshConnectOptions = {};
  const str = (flag: string): string | undefined => {
    const v = args[flag];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${flag} needs a file name`);
    return v;
  };
  const key = str('ssh_key');
  const knownHosts = str('ssh_known_hosts');
  if (key !== undefined) o.keyFile = key;
  if (knownHosts !== undefined) o.knownHostsFile = knownHosts;
  if (args.ssh_insecure_no_host_check === true) o.insecureNoHostCheck = true;
  return o;
}

/** What --cloud ssh is given: the host, the worker's command words, how to connect. */
export interface SshSettings {
  host: string;
  command: string[];
  connect: SshConnectOptions;
}

/** The ssh backend's settings from parsed flags (--ssh_host, --ssh_command, the connection flags). */
export function sshSettings(args: Readonly<Record<string, unknown>>): SshSettings {
  const host = args.ssh_host;
  if (typeof host !== 'string' || !host.trim()) throw new UsageError('--cloud ssh needs --ssh_host user@host[:port]');
  return { host, command: commandWords(typeof args.ssh_command === 'string' ? args.ssh_command : DEFAULT_SSH_COMMAND), connect: sshConnectOptions(args) };
}
