/** The suite's table: one line per scenario, every figure of which must be 0 but the faults injected. */
export interface TableRow {
  scenario: string;
  store: string;
  faults: number;
  rowsLost: number;
  rowsDuplicated: number;
  rowsWronglyOk: number;
  mishandled: number;
}

const HEAD = ['scenario', 'store', 'faults injected', 'rows lost', 'rows duplicated', 'rows wrongly ok', 'bad inputs mishandled'];

export function tableText(rows: readonly TableRow[]): string {
  const cells = rows.map((r) => [r.scenario, r.store, r.faults, r.rowsLost, r.rowsDuplicated, r.rowsWronglyOk, r.mishandled].map(String));
  const total = ['total', '', ...[2, 3, 4, 5, 6].map((k) => String(cells.reduce((s, c) => s + Number(c[k]), 0)))];
  const all = [HEAD, ...cells, total];
  const width = HEAD.map((_, k) => Math.max(...all.map((c) => c[k]!.length)));
  const line = (c: string[]) => c.map((x, k) => (k < 2 ? x.padEnd(width[k]!) : x.padStart(width[k]!))).join('  ');
  const rule = width.map((w) => '-'.repeat(w)).join('  ');
  return [line(HEAD), rule, ...cells.map(line), rule, line(total)].join('\n');
}

/** The figures that must be 0 are. */
export function allZero(rows: readonly TableRow[]): boolean {
  return rows.every((r) => r.rowsLost === 0 && r.rowsDuplicated === 0 && r.rowsWronglyOk === 0 && r.mishandled === 0);
}
