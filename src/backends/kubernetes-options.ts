/**
 * Command-line options of the kubernetes backend (kept apart from the backend so that parsing
 * arguments does not load its SDK).
 */
import type { Options } from 'yargs';

export const kubernetesOptions: Record<string, Options> = {};
