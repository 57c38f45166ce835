/**
 * Command-line options of the oscar backend (kept apart from the backend so that parsing
 * arguments does not load its SDK).
 */
import type { Options } from 'yargs';

export const oscarOptions: Record<string, Options> = {};
