/**
 * The Pareto set: split points that no other beats on every objective at once (all minimised).
 */

/** Indexes of `items` not dominated: no other item is <= on every objective and < on one. */
export function paretoSet<T>(items: readonly T[], objectives: readonly ((x: T) => number)[]): number[] {
  const v = items.map((x) => objectives.map((f) => f(x)));
  const dominates = (a: number[], b: number[]) => a.every((x, i) => x <= b[i]!) && a.some((x, i) => x < b[i]!);
  return items.map((_, i) => i).filter((i) => !v.some((other, j) => j !== i && dominates(other, v[i]!)));
}
