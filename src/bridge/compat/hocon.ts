// A HOCON subset, enough for EMQX 5 and NanoMQ bridge blocks pasted as text: objects with `=`, `:`
// or no separator before `{`, dotted keys (`bridges.mqtt.cloud { … }`), arrays, quoted and
// triple-quoted strings, unquoted values (`60s`, `v5`), numbers, booleans, null, `#` and `//`
// comments, commas or newlines between fields, and deep merge of repeated objects. `include` and
// `${…}` substitutions outside strings are reported, not guessed. Pure; returns errors, never throws.

export type HoconValue = string | number | boolean | null | HoconValue[] | { [k: string]: HoconValue };
export type HoconResult = { ok: true; value: Record<string, HoconValue> } | { ok: false; error: string };

class ParseError extends Error {}

export function parseHocon(text: string): HoconResult {
  const p = new Parser(text);
  try {
    return { ok: true, value: p.root() };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, error: err.message };
    throw err;
  }
}

function isObj(v: HoconValue | undefined): v is { [k: string]: HoconValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(into: Record<string, HoconValue>, key: string, v: HoconValue): void {
  const cur = into[key];
  if (isObj(cur) && isObj(v)) {
    for (const [k, x] of Object.entries(v)) merge(cur, k, x);
  } else into[key] = v;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(msg: string): never {
    const before = this.s.slice(0, this.i);
    const line = before.split('\n').length;
    throw new ParseError(`line ${line}: ${msg}`);
  }

  /** Skips spaces and comments; with newlines=true also newlines and commas (field separators). */
  private skip(newlines: boolean): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && (c === '\n' || c === ','))) this.i++;
      else if (c === '#' || (c === '/' && this.s[this.i + 1] === '/')) {
        while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
      } else return;
    }
  }

  root(): Record<string, HoconValue> {
    this.skip(true);
    if (this.s[this.i] === '{') {
      this.i++;
      const o = this.fields('}');
      this.skip(true);
      if (this.i < this.s.length) this.fail('text after the closing brace');
      return o;
    }
    return this.fields(null);
  }

  private fields(close: '}' | null): Record<string, HoconValue> {
    const o: Record<string, HoconValue> = {};
    for (;;) {
      this.skip(true);
      if (this.i >= this.s.length) {
        if (close) this.fail(`missing "${close}"`);
        return o;
      }
      if (close && this.s[this.i] === close) {
        this.i++;
        return o;
      }
      const path = this.keyPath();
      if (path.length === 1 && path[0] === 'include') this.fail('include is not supported; paste the included text');
      this.skip(false);
      const c = this.s[this.i];
      let v: HoconValue;
      if (c === '{') v = this.value();
      else if (c === '=' || c === ':') {
        this.i++;
        this.skip(false);
        v = this.value();
      } else if (c === '+' && this.s[this.i + 1] === '=') this.fail('+= is not supported');
      else this.fail(`expected "=", ":" or "{" after key "${path.join('.')}"`);
      // a.b.c = v  is  a { b { c = v } }
      let nested: HoconValue = v;
      for (let k = path.length - 1; k > 0; k--) nested = { [path[k]!]: nested };
      merge(o, path[0]!, nested);
    }
  }

  private keyPath(): string[] {
    const parts: string[] = [];
    for (;;) {
      if (this.s[this.i] === '"') parts.push(this.quoted());
      else {
        const m = /^[A-Za-z0-9_\-$]+/.exec(this.s.slice(this.i, this.i + 256));
        if (!m) this.fail(`expected a key, found ${JSON.stringify(this.s[this.i])}`);
        parts.push(m[0]);
        this.i += m[0].length;
      }
      if (this.s[this.i] === '.') this.i++;
      else return parts;
    }
  }

  private value(): HoconValue {
    const c = this.s[this.i];
    if (c === '{') {
      this.i++;
      return this.fields('}');
    }
    if (c === '[') {
      this.i++;
      const arr: HoconValue[] = [];
      for (;;) {
        this.skip(true);
        if (this.s[this.i] === ']') {
          this.i++;
          return arr;
        }
        if (this.i >= this.s.length) this.fail('missing "]"');
        arr.push(this.value());
      }
    }
    if (c === '"') {
      if (this.s.startsWith('"""', this.i)) {
        const end = this.s.indexOf('"""', this.i + 3);
        if (end < 0) this.fail('unterminated """ string');
        const v = this.s.slice(this.i + 3, end);
        this.i = end + 3;
        return v;
      }
      return this.quoted();
    }
    if (c === '$' && this.s[this.i + 1] === '{') this.fail('substitutions (${…}) outside quotes are not supported; quote templates like "${topic}"');
    // Unquoted: up to the end of line, a separator or a closing bracket.
    const start = this.i;
    while (this.i < this.s.length) {
      const d = this.s[this.i]!;
      if (d === '\n' || d === ',' || d === '}' || d === ']' || d === '#' || (d === '/' && this.s[this.i + 1] === '/')) break;
      this.i++;
    }
    const raw = this.s.slice(start, this.i).trim();
    if (raw === '') this.fail('missing value');
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    if (raw === 'null') return null;
    if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
    return raw;
  }

  private quoted(): string {
    let out = '';
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i++]!;
      if (c === '"') return out;
      if (c === '\n') break;
      if (c === '\\') {
        const e = this.s[this.i++];
        if (e === 'n') out += '\n';
        else if (e === 't') out += '\t';
        else if (e === 'u') {
          out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 4), 16));
          this.i += 4;
        } else out += e ?? '';
      } else out += c;
    }
    this.fail('unterminated string');
  }
}
