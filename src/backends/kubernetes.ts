/**
 * The kubernetes backend (being written).
 */
import { UsageError } from '../errors.js';
import type { BackendModule } from './index.js';

export const kubernetesModule: BackendModule = {
  create: async () => {
    throw new UsageError('--cloud kubernetes is not available yet');
  },
};
