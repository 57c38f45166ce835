/**
 * The ssh backend (being written).
 */
import { UsageError } from '../errors.js';
import type { BackendModule } from './index.js';

export const sshModule: BackendModule = {
  create: async () => {
    throw new UsageError('--cloud ssh is not available yet');
  },
};
