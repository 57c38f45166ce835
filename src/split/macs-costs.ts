/**
 * A rough cut cost from the model alone, for list_layers --optimal: each node's time is its
 * multiply-accumulates over a throughput (the edge `slowdown` times slower than the cloud), a
 * tensor's transfer is its bytes over the link's rate, and a request to the cloud costs two round
 * trips (the upload and the result download). Operators without a MAC count (activations,
 * pooling, Concat) cost nothing here; measured per-node profiles (predict) replace all of this.
 */
import type { ModelAnalysis } from './analysis.js';
import type { CutCosts } from './min-cut.js';

export interface MacsLink {
  /** Edge throughput in GMAC/s. */
  edgeGmacs: number;
  /** How many times faster the cloud computes. */
  slowdown: number;
  /** Link rate in Mbit/s. */
  bandwidthMbit: number;
  /** Round-trip time in ms. */
  rttMs: number;
}

export const DEFAULT_MACS_LINK: Readonly<MacsLink> = { edgeGmacs: 10, slowdown: 10, bandwidthMbit: 50, rttMs: 20 };

export function macsCutCosts(a: ModelAnalysis, link: MacsLink): CutCosts {
  for (const [k, v] of Object.entries(link)) {
    const min = k === 'rttMs' ? '>= 0' : '> 0';
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (min === '> 0' && v === 0)) throw new RangeError(`${k} must be a finite number ${min}, got ${v}`);
  }
  // GMAC/s = 1e6 MAC per ms.
  const edgeMs = Float64Array.from(a.costs.macs, (m) => m / (link.edgeGmacs * 1e6));
  return {
    edgeMs,
    cloudMs: edgeMs.map((t) => t / link.slowdown),
    transferMs: (bytes) => (bytes * 8) / (link.bandwidthMbit * 1e3),
    fixedMs: 2 * link.rttMs,
  };
}
