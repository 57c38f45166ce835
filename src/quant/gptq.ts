/**
 * Data-aware rounding of a layer's weights (GPTQ: Frantar et al., "GPTQ: Accurate Post-Training
 * Quantization for Generative Pre-trained Transformers", 2023), which minimises the layer's output
 * error on calibration inputs instead of each weight's own error.
 *
 * One output channel's weights w (D of them, one per input element the channel reads: a Conv's
 * input channels times kernel taps, a MatMul's K) meet inputs x; the error of its output is
 * (w - q)ᵀ x, whose mean square over the calibration inputs is (w - q)ᵀ H (w - q) with
 * H = E[x xᵀ]. The weights are rounded one at a time, and each rounding error is moved onto the
 * weights not yet rounded in the proportion that cancels it best under H (the rows of the upper
 * Cholesky factor U of H⁻¹): after rounding w_i, w_j -= (w_i - q_i) / U_ii * U_ij for j > i.
 * Scales stay what the weight range gives (no weight is clipped by them); a weight pushed past
 * the range by the corrections is clamped to it.
 *
 * H is damped by 1% of its mean diagonal, so that it is invertible even where the calibration
 * inputs span too few directions, and an input that was always zero gets a diagonal of 1 (its
 * weight is rounded to nearest and moves nothing).
 */

/** Per node label: the inverse factors of its input moments, one per input group (./calibrate.ts makes it). */
export type Calibration = Map<string, { dim: number; factors: Float64Array[] }>;

/** E[x xᵀ] of one group of a layer's inputs, accumulated over calibration rows. */
export class InputMoments {
  readonly sum: Float64Array;
  rows = 0;

  constructor(readonly dim: number) {
    this.sum = new Float64Array(dim * dim);
  }

  /** Adds one input row x (length dim): the upper triangle of x xᵀ. */
  add(x: Float64Array): void {
    const d = this.dim;
    const s = this.sum;
    for (let a = 0; a < d; a++) {
      const xa = x[a]!;
      if (xa === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) s[row + b]! += xa * x[b]!;
    }
    this.rows++;
  }
}

/**
 * The upper Cholesky factor U of (H + damping)⁻¹ (row-major dim x dim), or undefined when H
 * is not positive definite even damped (then the caller rounds to nearest).
 */
export function inverseFactor(m: InputMoments): Float64Array | undefined {
  const d = m.dim;
  const h = new Float64Array(d * d);
  const rows = Math.max(1, m.rows);
  let diag = 0;
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = m.sum[a * d + b]! / rows;
      h[a * d + b] = v;
      h[b * d + a] = v;
    }
    diag += h[a * d + a]!;
  }
  const damp = diag > 0 ? (0.01 * diag) / d : 1;
  for (let a = 0; a < d; a++) {
    if (h[a * d + a] === 0) h[a * d + a] = 1;
    h[a * d + a]! += damp;
  }
  // H = L Lᵀ; H⁻¹ = L⁻ᵀ L⁻¹; its upper factor U (H⁻¹ = Uᵀ U) is the Cholesky factor of the
  // reversed matrix, found here as the lower factor of H⁻¹ with rows and columns reversed.
  const l = cholesky(h, d);
  if (!l) return undefined;
  const li = lowerInverse(l, d);
  // H⁻¹ = liᵀ li.
  const inv = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      let s = 0;
      for (let k = b; k < d; k++) s += li[k * d + a]! * li[k * d + b]!;
      inv[a * d + b] = s;
      inv[b * d + a] = s;
    }
  }
  const lu = cholesky(inv, d);
  if (!lu) return undefined;
  // Upper factor: U = Lᵀ of inv's Cholesky (inv = L Lᵀ = Uᵀ U with U = Lᵀ).
  const u = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) u[b * d + a] = lu[a * d + b]!;
  return u;
}

/** Lower Cholesky factor of a symmetric positive definite matrix, or undefined. */
function cholesky(a: Float64Array, d: number): Float64Array | undefined {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j]!;
      }
    }
  }
  return l;
}

function lowerInverse(l: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    out[j * d + j] = 1 / l[j * d + j]!;
    for (let i = j + 1; i < d; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * d + k]! * out[k * d + j]!;
      out[i * d + j] = -s / l[i * d + i]!;
    }
  }
  return out;
}

/** Where one output channel's D weights are in the weight tensor, and which input group they read. */
export interface RowLayout {
  rows: number;
  dim: number;
  /** Index in the tensor of weight j of row r. */
  at(r: number, j: number): number;
  /** The input group (index into the factors) row r reads. */
  group(r: number): number;
}

/**
 * Rounds `values` into `data` row by row as above: weight j of row r becomes
 * clamp(round(w / scale) + zeroPoint) with the row's channel scale and zero point.
 */
export function gptqRound(
  values: Float32Array,
  data: Int8Array | Uint8Array,
  layout: RowLayout,
  factors: readonly Float64Array[],
  scaleOf: (index: number) => number,
  zeroPointOf: (index: number) => number,
  lo: number,
  hi: number,
): void {
  const d = layout.dim;
  const w = new Float64Array(d);
  for (let r = 0; r < layout.rows; r++) {
    const u = factors[layout.group(r)]!;
    for (let j = 0; j < d; j++) w[j] = values[layout.at(r, j)]!;
    for (let i = 0; i < d; i++) {
      const at = layout.at(r, i);
      const scale = scaleOf(at);
      const zp = zeroPointOf(at);
      const q = Math.min(hi, Math.max(lo, Math.round(w[i]! / scale) + zp));
      data[at] = q;
      const e = (w[i]! - (q - zp) * scale) / u[i * d + i]!;
      if (e === 0) continue;
      const row = i * d;
      for (let j = i + 1; j < d; j++) w[j]! -= e * u[row + j]!;
    }
  }
}
