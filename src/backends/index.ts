/**
 * The backends by name, each imported only when used (each holds a heavy SDK or protocol).
 */
import { BACKENDS, type BackendName } from '../config/run-config.js';
import { UsageError } from '../errors.js';
import type { BackendModule } from './backend.js';

export { BACKENDS };

export async function backendModule(name: BackendName | string): Promise<BackendModule> {
  switch (name) {
    case 'local':
      return (await import('./local.js')).localModule;
    case 'oscar':
      return (await import('./oscar.js')).oscarModule;
    case 'kubernetes':
      return (await import('./kube/module.js')).kubernetesModule;
    case 'ssh':
      return (await import('./ssh.js')).sshModule;
    default:
      throw new UsageError(`--cloud ${name} is not a backend (one of: ${BACKENDS.join(', ')})`);
  }
}
