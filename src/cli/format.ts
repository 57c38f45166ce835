/**
 * Text output helpers: aligned tables and human-readable sizes.
 */

/** `n` in the largest unit of `base` that keeps it at least 1, with 3 significant digits. */
function scaled(n: number, base: number, units: readonly string[], sep: string): string {
  let v = n / base;
  let u = 0;
  while (v >= base && u < units.length - 1) {
    v /= base;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)}${sep}${units[u]}`;
}

/** Sizes in binary units: 3.06 KiB, 18.4 MiB. */
/** "1 part", "3 parts": a count with its noun (plural by an s unless given). */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function humanBytes(n: number): string {
  return n < 1024 ? `${n} B` : scaled(n, 1024, ['KiB', 'MiB', 'GiB', 'TiB'], ' ');
}

/** Large counts with SI suffixes: 1.2M, 3.4G. */
export function humanCount(n: number): string {
  return n < 1000 ? String(n) : scaled(n, 1000, ['K', 'M', 'G', 'T'], '');
}

/** An aligned text table; columns whose header starts with '>' are right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const heads = headers.map((h) => h.replace(/^>/, ''));
  const cells = rows.map((r) => r.map(String));
  const widths = heads.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(heads), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
