/**
 * Text widths for laying out charts in Node. Without a canvas, vega guesses 0.8 em per
 * character, about a third too wide for the charts' font, which leaves wide empty margins; this
 * measures with the advance widths of DejaVu Sans (the font the charts name and librsvg draws
 * them with), in 1/2048 em, checked against librsvg's rendering here. Bold is about 12% wider.
 */

const ASCII_WIDTHS = [
  // ' ' to '/'
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690,
  // '0' to '?'
  1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087,
  // '@' to 'O'
  2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612,
  // 'P' to '_'
  1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024,
  // '`' to 'o'
  1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253,
  // 'p' to '~'
  1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];
/** Any other character: about an average capital. */
const OTHER = 1400;
const BOLD = 1.12;

export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)! - 32;
    units += c >= 0 && c < ASCII_WIDTHS.length ? ASCII_WIDTHS[c]! : OTHER;
  }
  return (units / 2048) * fontSize * (bold ? BOLD : 1);
}

/**
 * `text` broken into lines no wider than `maxWidth` at `fontSize`: at spaces, and inside a word
 * (a long path) only where the word alone is wider. Nothing is dropped.
 */
export function wrapText(text: string, maxWidth: number, fontSize: number, bold = false): string[] {
  const fits = (s: string) => textWidth(s, fontSize, bold) <= maxWidth;
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(' ')) {
    if (line !== '' && fits(`${line} ${word}`)) {
      line = `${line} ${word}`;
      continue;
    }
    if (line !== '') lines.push(line);
    while (!fits(word) && word.length > 1) {
      let n = word.length - 1;
      while (n > 1 && !fits(word.slice(0, n))) n--;
      lines.push(word.slice(0, n));
      word = word.slice(n);
    }
    line = word;
  }
  lines.push(line);
  return lines;
}

/** vega's text-metrics item: what the width of a text mark depends on. */
interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

/** A replacement for vega's textMetrics.width. */
export function vegaTextWidth(item: TextItem, text: unknown): number {
  const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
  const s = text == null ? '' : String(text).trim();
  const w = textWidth(s, size, item.fontWeight === 'bold' || Number(item.fontWeight) >= 600);
  return item.limit && item.limit > 0 ? Math.min(w, item.limit) : w;
}
