/**
 * The oscar backend (being written).
 */
import { UsageError } from '../errors.js';
import type { BackendModule } from './index.js';

export const oscarModule: BackendModule = {
  create: async () => {
    throw new UsageError('--cloud oscar is not available yet');
  },
};
