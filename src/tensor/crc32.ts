/**
 * CRC-32 (IEEE 802.3, zlib's) of payload bodies. Bodies of FAST_MIN bytes or more go through
 * @node-rs/crc32 (carry-less multiplication where the CPU has it: about four times zlib's
 * table-driven speed here), loaded on first use; shorter ones, and every body where that package
 * does not load, through node:zlib. Both give the same value for the same bytes and start value.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

type Crc32 = (data: Uint8Array, value?: number) => number;

/** Below this a native call costs about what it saves. */
const FAST_MIN = 4096;

let fast: Crc32 | null | undefined;

function fastCrc32(): Crc32 | null {
  if (fast === undefined) {
    try {
      fast = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32: Crc32 }).crc32;
    } catch {
      fast = null;
    }
  }
  return fast;
}

/** The CRC-32 of `data`, continuing from `value` (the CRC-32 of the bytes before it; 0 to start). */
export function crc32(data: Uint8Array, value = 0): number {
  if (data.length >= FAST_MIN) {
    const f = fastCrc32();
    if (f) return f(data, value) >>> 0;
  }
  return zlibCrc32(data, value);
}

/** Whether crc32 uses @node-rs/crc32 for long bodies here (false: node:zlib for all). */
export function fastCrc32Loaded(): boolean {
  return fastCrc32() !== null;
}
