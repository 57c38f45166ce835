/**
 * manifest.json for early exits: the manifest of split.ts (version 1, which has no
 * `manifest_version` field) with `manifest_version: 2` and an `early_exit` section. `splits` is
 * empty; readers of version 1 see a model with no split points. Parts are listed in execution
 * order; each part's inputs are model inputs or outputs of earlier parts, by name, and `from` /
 * `to` say which part feeds which.
 */
import type { Manifest } from './manifest.js';
import type { CutTensor } from './points.js';

export const EARLY_EXIT_MANIFEST_VERSION = 2;

export interface EarlyExitPartInput extends CutTensor {
  /** The part file that computes it, or 'input' for a model input. */
  from: string;
}

export interface EarlyExitPartOutput extends CutTensor {
  /** The later part files that read it. */
  to: string[];
  /** True when it is one of the exits. */
  exit: boolean;
}

export interface EarlyExitPart {
  /** File name relative to the manifest, e.g. part1.onnx. */
  file: string;
  /** The exits that need this part: all of them for the shared trunk, one for an exit's own head. */
  exits: string[];
  /** Data-dependent nodes in the part. */
  nodes: number;
  /** Nodes computed from weights alone, copied into the part. */
  constant_nodes: number;
  inputs: EarlyExitPartInput[];
  outputs: EarlyExitPartOutput[];
  /** Bytes of the part file plus its external data file, when it has one. */
  bytes: number;
}

export interface EarlyExit extends CutTensor {
  /** The part that computes this exit. */
  part: string;
  /** Every part this exit needs, in execution order (the shared ones included). */
  parts: string[];
  /** Data-dependent nodes this exit needs, over all its parts. */
  nodes: number;
}

export interface EarlyExitManifest extends Manifest {
  manifest_version: typeof EARLY_EXIT_MANIFEST_VERSION;
  early_exit: {
    /** In the order given: the shallowest first. */
    exits: EarlyExit[];
    parts: EarlyExitPart[];
  };
}
