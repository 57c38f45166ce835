/** Checks the encoder and the decoder share: host byte order, run ids, hashes, names in messages. */
import { endianness } from 'node:os';
import { PayloadError } from './errors.js';
import { MAX_RUN_ID_LENGTH } from './limits.js';

const LITTLE_ENDIAN = endianness() === 'LE';
export const SHA256_HEX = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkHost(): void {
  if (!LITTLE_ENDIAN) throw new PayloadError('payloads are little-endian; this big-endian host is not supported');
}

export function describeName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
}

/** Why a run id is not acceptable, or undefined. It becomes part of object keys. */
export function runIdProblem(runId: unknown): string | undefined {
  if (typeof runId !== 'string') return `run id must be a string, got ${typeof runId}`;
  if (runId.length > MAX_RUN_ID_LENGTH) return `run id longer than ${MAX_RUN_ID_LENGTH} characters`;
  if (runId.includes('/') || runId.includes('\\') || CONTROL.test(runId) || runId === '.' || runId === '..') {
    return `run id ${describeName(runId)} is not usable in an object key (no '/', '\\', control characters, '.' or '..')`;
  }
  return undefined;
}

export const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
