/**
 * Command-line options of the kubernetes backend (kept apart from the backend so that parsing
 * arguments does not load its SDK). See docs/kubernetes.md.
 */
import type { Options } from 'yargs';
import type { CloudConfig } from '../../config/cloud-config.js';
import { UsageError } from '../../errors.js';
import { sshConnectOptions, type SshConnectOptions } from '../ssh-options.js';

export const DEFAULT_KUBE_NAMESPACE = 'onnx-manager';
/** The image cloud/Dockerfile builds (`docker build -f cloud/Dockerfile -t onnx-cloud:0.1.0 .`); push it and give --kube_image. */
export const DEFAULT_KUBE_IMAGE = 'onnx-cloud:0.1.0';
export const DEFAULT_KUBE_SECRET = 'onnx-manager-store';
export const KUBE_MODES = ['job', 'worker'] as const;
export type KubeMode = (typeof KUBE_MODES)[number];

export const KUBE_SSH_PSK_REFUSED =
  '--kube_ssh_psk is refused: a password on the command line is visible to every user of this machine in the process list (ps) and stays in the shell history; ' +
  'put it in a file readable only by you and set SSH_PASSWORD_FILE (or SSH_PASSWORD in the environment), or better use a key (--ssh_key or SSH_KEY_FILE) or ssh-agent (SSH_AUTH_SOCK)';

export const kubernetesOptions: Record<string, Options> = {
  kube_namespace: {
    type: 'string',
    default: DEFAULT_KUBE_NAMESPACE,
    describe: '--cloud kubernetes: namespace of the Jobs, the worker pod and the store Secret (must exist)',
  },
  kube_context: {
    type: 'string',
    describe: 'kubeconfig context to use (default: the current context of $KUBECONFIG or ~/.kube/config)',
  },
  kube_image: {
    type: 'string',
    default: DEFAULT_KUBE_IMAGE,
    describe: 'Cloud image (built from cloud/Dockerfile) that provides onnx-cloud; pin a tag or digest your cluster can pull',
  },
  kube_mode: {
    type: 'string',
    choices: [...KUBE_MODES],
    default: 'job',
    describe: 'job: a batch/v1 Job per payload (cold starts included); worker: one pod serving every payload over exec (warm sessions)',
  },
  kube_ssh_host: {
    type: 'string',
    describe: 'user@host[:port] of a jump host to reach the API server through (an SSH tunnel; keys from --ssh_key, SSH_KEY_FILE or ssh-agent)',
  },
  kube_ssh_psk: {
    type: 'string',
    hidden: true,
    describe: 'Refused: a password on the command line is visible to every user of the machine',
    coerce: (): never => {
      throw new UsageError(KUBE_SSH_PSK_REFUSED);
    },
  },
  kube_keep_jobs: {
    type: 'boolean',
    default: false,
    describe: 'Keep finished Jobs (and the worker pod) for inspection with kubectl instead of deleting them',
  },
  kube_store_endpoint: {
    type: 'string',
    describe: "The store's endpoint as the cluster's pods reach it, when it differs from the edge's (e.g. http://minio.minio:9000)",
  },
  kube_secret: {
    type: 'string',
    default: DEFAULT_KUBE_SECRET,
    describe: 'Name of the Secret the backend writes the store endpoint, keys and bucket into',
  },
};

export interface KubeArgs {
  namespace: string;
  context?: string;
  image: string;
  mode: KubeMode;
  sshHost?: string;
  keepJobs: boolean;
  storeEndpoint?: string;
  secret: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function optionalString(args: Record<string, unknown>, flag: string): string | undefined {
  const v = args[flag];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${flag} needs a value`);
  return v.trim();
}

/** The backend's settings from parsed flags (defaults applied for callers that skip yargs). */
export function kubeArgs(args: Readonly<Record<string, unknown>>): KubeArgs {
  if (args.kube_ssh_psk !== undefined) throw new UsageError(KUBE_SSH_PSK_REFUSED);
  const namespace = optionalString(args, 'kube_namespace') ?? DEFAULT_KUBE_NAMESPACE;
  if (!DNS_LABEL.test(namespace)) throw new UsageError(`--kube_namespace '${namespace}' is not a namespace name (lower-case letters, digits and '-', at most 63)`);
  const secret = optionalString(args, 'kube_secret') ?? DEFAULT_KUBE_SECRET;
  if (!DNS_SUBDOMAIN.test(secret)) throw new UsageError(`--kube_secret '${secret}' is not a Secret name (lower-case letters, digits, '-' and '.')`);
  const image = optionalString(args, 'kube_image') ?? DEFAULT_KUBE_IMAGE;
  if (/\s/.test(image)) throw new UsageError(`--kube_image '${image}' is not an image reference`);
  const mode = (optionalString(args, 'kube_mode') ?? 'job') as KubeMode;
  if (!KUBE_MODES.includes(mode)) throw new UsageError(`--kube_mode must be one of: ${KUBE_MODES.join(', ')}`);
  const o: KubeArgs = { namespace, image, mode, secret, keepJobs: args.kube_keep_jobs === true };
  const context = optionalString(args, 'kube_context');
  const sshHost = optionalString(args, 'kube_ssh_host');
  const storeEndpoint = optionalString(args, 'kube_store_endpoint');
  if (context !== undefined) o.context = context;
  if (sshHost !== undefined) o.sshHost = sshHost;
  if (storeEndpoint !== undefined) {
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(storeEndpoint)) {
      throw new UsageError('--kube_store_endpoint must not contain credentials; the keys come from MINIO_ACCESS_KEY and MINIO_SECRET_KEY');
    }
    o.storeEndpoint = storeEndpoint;
  }
  return o;
}

/** What the Job and worker backends are given. */
export interface KubeSettings {
  args: KubeArgs;
  /** Labels what this run creates (onnx-manager/instance). */
  instance: string;
  /** The run's cloud configuration, onnx-cloud's --cloud_config in every pod. */
  cloud: CloudConfig;
  warn(line: string): void;
}

/** The kubernetes backend's flags, and how to connect to --kube_ssh_host. */
export function kubeSettings(args: Readonly<Record<string, unknown>>): { kube: KubeArgs; ssh: SshConnectOptions } {
  return { kube: kubeArgs(args), ssh: sshConnectOptions(args) };
}
