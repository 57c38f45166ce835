/**
 * Reading a JavaScript object literal (the subset minifiers write for JSON-like data) without
 * evaluating it: objects with identifier, string or number keys, arrays, double- or single-quoted
 * strings with escapes, numbers (`.5`, `-1e-3`, `0x1f`), `!0` / `!1` (true / false), `true`,
 * `false`, `null`, `void 0` (undefined). Anything else (a call, a variable, an operator) is
 * refused with its offset.
 */

export type Literal = null | undefined | boolean | number | string | Literal[] | { [key: string]: Literal };

export interface ParsedLiteral {
  value: Literal;
  /** Offset just after the literal. */
  end: number;
}

/** The literal starting at `start` in `text` (leading white space skipped). */
export function parseLiteral(text: string, start = 0): ParsedLiteral {
  const p = new LiteralParser(text, start);
  const value = p.value();
  return { value, end: p.at };
}

/**
 * The literal assigned by the first `<marker>` in `text` (e.g. `a.exports=` inside a bundler's
 * module function), refused when the marker is missing.
 */
export function literalAfter(text: string, marker: RegExp, what: string): Literal {
  const m = marker.exec(text);
  if (!m) throw new Error(`${what}: no ${marker} in the file`);
  return parseLiteral(text, m.index + m[0].length).value;
}

const IDENT_START = /[A-Za-z_$]/;
const IDENT = /[A-Za-z0-9_$]/;
const NUMBER = /^-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;

class LiteralParser {
  constructor(
    private readonly text: string,
    public at: number,
  ) {}

  private fail(what: string): never {
    throw new Error(`JavaScript literal: ${what} at offset ${this.at} (${JSON.stringify(this.text.slice(this.at, this.at + 20))})`);
  }

  private space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
  }

  private eat(s: string): boolean {
    this.space();
    if (this.text.startsWith(s, this.at)) {
      this.at += s.length;
      return true;
    }
    return false;
  }

  private expect(s: string): void {
    if (!this.eat(s)) this.fail(`expected '${s}'`);
  }

  value(): Literal {
    this.space();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"' || c === "'") return this.string();
    if (c === '!') {
      const m = /^!([01])/.exec(this.text.slice(this.at, this.at + 2));
      if (!m) this.fail('expected !0 or !1');
      this.at += 2;
      return m[1] === '0';
    }
    const num = NUMBER.exec(this.text.slice(this.at, this.at + 64));
    if (num) {
      this.at += num[0].length;
      const s = num[0];
      return /^-?0[xX]/.test(s) ? (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^-?0[xX]/, ''), 16) : Number(s);
    }
    const from = this.at;
    const word = this.identifier();
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (word === 'null') return null;
    if (word === 'void' && this.eat('0')) return undefined;
    this.at = from;
    return this.fail(`unexpected ${word ? `name '${word}'` : 'character'}`);
  }

  private identifier(): string {
    this.space();
    const from = this.at;
    if (!IDENT_START.test(this.text[this.at] ?? '')) return '';
    while (IDENT.test(this.text[this.at] ?? '')) this.at++;
    return this.text.slice(from, this.at);
  }

  private object(): { [key: string]: Literal } {
    this.expect('{');
    const out: { [key: string]: Literal } = {};
    if (this.eat('}')) return out;
    for (;;) {
      this.space();
      const c = this.text[this.at];
      let key: string;
      if (c === '"' || c === "'") key = this.string();
      else {
        const num = NUMBER.exec(this.text.slice(this.at, this.at + 64));
        if (num) {
          this.at += num[0].length;
          key = String(Number(num[0]));
        } else {
          key = this.identifier();
          if (!key) this.fail('expected a key');
        }
      }
      this.expect(':');
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      if (this.eat('}')) return out;
      this.expect(',');
    }
  }

  private array(): Literal[] {
    this.expect('[');
    const out: Literal[] = [];
    if (this.eat(']')) return out;
    for (;;) {
      out.push(this.value());
      if (this.eat(']')) return out;
      this.expect(',');
    }
  }

  private string(): string {
    const quote = this.text[this.at]!;
    this.at++;
    let out = '';
    for (;;) {
      const i = this.at;
      const c = this.text[i];
      if (c === undefined) this.fail('unterminated string');
      if (c === quote) {
        this.at++;
        return out;
      }
      if (c !== '\\') {
        // Copy a run of plain characters at once (the weights are one string of megabytes).
        let j = i;
        while (j < this.text.length && this.text[j] !== quote && this.text[j] !== '\\') j++;
        out += this.text.slice(i, j);
        this.at = j;
        continue;
      }
      const e = this.text[i + 1];
      this.at = i + 2;
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };
      if (e === undefined) this.fail('unterminated string');
      else if (e in simple) out += simple[e];
      else if (e === 'x' || e === 'u') {
        const braced = e === 'u' && this.text[this.at] === '{';
        const m = braced ? /^\{([0-9a-fA-F]+)\}/.exec(this.text.slice(this.at, this.at + 10)) : new RegExp(`^[0-9a-fA-F]{${e === 'x' ? 2 : 4}}`).exec(this.text.slice(this.at, this.at + 4));
        if (!m) this.fail(`bad \\${e} escape`);
        out += String.fromCodePoint(parseInt(braced ? m[1]! : m[0], 16));
        this.at += m[0].length;
      } else if (e === '\n') {
        // line continuation
      } else out += e;
    }
  }
}
