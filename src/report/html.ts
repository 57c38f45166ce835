/**
 * Small HTML builders for the report page: everything that comes from a file goes through
 * esc(); only the page's own markup and the charts' SVG (made by vega, which escapes its text)
 * are put in as they are.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A cell value: numbers sort as numbers (data-v), text as text. */
export type Cell = string | number | { text: string; value: number | string };

export interface TableOptions {
  id?: string;
  /** Header names whose cells align right (numbers). */
  numeric?: ReadonlySet<string>;
  /** A class per row (e.g. 'best'), by row index. */
  rowClass?: (i: number) => string | undefined;
  /** Sortable by clicking a header. */
  sortable?: boolean;
}

function cellHtml(c: Cell, numeric: boolean): string {
  const cls = numeric ? ' class="num"' : '';
  if (typeof c === 'object') return `<td${cls} data-v="${esc(c.value)}">${esc(c.text)}</td>`;
  if (typeof c === 'number') return `<td${cls} data-v="${esc(c)}">${esc(formatNumber(c))}</td>`;
  return `<td${cls}>${breakable(c)}</td>`;
}

/** Up to 3 decimals, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

/** Text that may break after its underscores (`predicted_<wbr>total_<wbr>ms`): narrow columns for wide tables. */
function breakable(text: string): string {
  return esc(text).replace(/_/g, '_<wbr>');
}

export function tableHtml(headers: readonly string[], rows: readonly (readonly Cell[])[], o: TableOptions = {}): string {
  const num = o.numeric ?? new Set<string>();
  const head = headers
    .map((h) => (o.sortable ? `<th scope="col" class="${num.has(h) ? 'num ' : ''}sortable" aria-sort="none"><button type="button">${breakable(h)}</button></th>` : `<th scope="col"${num.has(h) ? ' class="num"' : ''}>${breakable(h)}</th>`))
    .join('');
  const body = rows
    .map((r, i) => {
      const cls = o.rowClass?.(i);
      return `<tr${cls ? ` class="${esc(cls)}"` : ''}>${r.map((c, j) => cellHtml(c, num.has(headers[j]!))).join('')}</tr>`;
    })
    .join('\n');
  return `<table${o.id ? ` id="${esc(o.id)}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A two-column table of facts (name, value). */
export function factsHtml(facts: readonly (readonly [string, string])[]): string {
  return `<table class="facts"><tbody>${facts.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

export function section(id: string, title: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
}

export function para(text: string, cls?: string): string {
  return `<p${cls ? ` class="${esc(cls)}"` : ''}>${esc(text)}</p>`;
}
