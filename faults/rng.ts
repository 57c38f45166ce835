/** A seeded pseudo-random generator (mulberry32): the same seed gives the same faults on every machine. */
import { seededRandom } from '../src/tensor/host.js';

export class Rng {
  private readonly rand: () => number;
  constructor(seed: number) {
    this.rand = seededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.rand();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** A generator for item `i` of a corpus made with `seed`, independent of every other item. */
  static forItem(seed: number, i: number): Rng {
    return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35));
  }
}

/** Byte-level damage shared by the model and payload corpora. */
export function byteMutation(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } {
  const b = Uint8Array.from(bytes);
  switch (rng.int(4)) {
    case 0: {
      const n = 1 + rng.int(8);
      for (let k = 0; k < n; k++) {
        const at = rng.int(b.length);
        b[at]! ^= 1 << rng.int(8);
      }
      return { bytes: b, what: `${n} bit flip(s)` };
    }
    case 1: {
      const len = rng.int(b.length);
      return { bytes: b.subarray(0, len), what: `truncated to ${len} of ${b.length} bytes` };
    }
    case 2: {
      const at = rng.int(b.length + 1);
      const n = 1 + rng.int(16);
      const extra = Uint8Array.from({ length: n }, () => rng.int(256));
      const out = new Uint8Array(b.length + n);
      out.set(b.subarray(0, at), 0);
      out.set(extra, at);
      out.set(b.subarray(at), at + n);
      return { bytes: out, what: `${n} random bytes inserted at ${at}` };
    }
    default: {
      const at = rng.int(b.length);
      const n = Math.min(b.length - at, 1 + rng.int(64));
      const v = rng.pick([0x00, 0xff, rng.int(256)]);
      b.fill(v, at, at + n);
      return { bytes: b, what: `${n} bytes at ${at} set to ${v}` };
    }
  }
}
