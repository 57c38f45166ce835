/**
 * The backends by name, each imported only when used (each holds a heavy SDK or protocol).
 */
import { UsageError } from '../errors.js';
import type { ProviderChoice } from '../runtime/providers.js';
import type { ObjectStore, StoreConfig } from '../storage/store.js';
import type { CloudBackend } from './backend.js';

export interface BackendContext {
  /** The store the edge uses. */
  store: ObjectStore;
  /** How the cloud side reaches that store (endpoint, keys, bucket); handed to workers as secrets, never on a command line. */
  storeAccess: { endpoint: string; accessKey: string; secretKey: string; bucket: string; region?: string };
  /** True when the store is the embedded server on 127.0.0.1 (unreachable from a real cluster). */
  embeddedStore: boolean;
  provider: ProviderChoice;
  graphOptimizationLevel: string;
  threads?: number;
  env: NodeJS.ProcessEnv;
}

export interface BackendModule {
  /** The store to use when the user named none (OSCAR: the cluster's own MinIO). */
  defaultStore?(args: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<StoreConfig | undefined>;
  create(args: Record<string, unknown>, ctx: BackendContext): Promise<CloudBackend>;
}

export const BACKENDS = ['local', 'oscar', 'kubernetes', 'ssh'] as const;

export async function backendModule(name: string): Promise<BackendModule> {
  switch (name) {
    case 'local':
      return (await import('./local.js')).localModule;
    case 'oscar':
      return (await import('./oscar.js')).oscarModule;
    case 'kubernetes':
      return (await import('./kubernetes.js')).kubernetesModule;
    case 'ssh':
      return (await import('./ssh.js')).sshModule;
    default:
      throw new UsageError(`--cloud ${name} is not a backend (one of: ${BACKENDS.join(', ')})`);
  }
}
