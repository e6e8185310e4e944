// Reader for EMQX's acl.conf: a sequence of Erlang terms, each ending with '.', '%' comments.
// Only the term shapes acl.conf uses are accepted: tuples, lists, atoms (bare or 'quoted'),
// "strings" and integers. Errors carry the line so an operator can fix the file.
import { AuthError } from './errors.js';

export type Term =
  | { t: 'tuple'; items: Term[]; line: number }
  | { t: 'list'; items: Term[]; line: number }
  | { t: 'atom'; v: string; line: number }
  | { t: 'str'; v: string; line: number }
  | { t: 'int'; v: number; line: number };

type Tok = { k: '{' | '}' | '[' | ']' | ',' | '.' | 'atom' | 'str' | 'int'; v: string; line: number };

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '%') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '{' || c === '}' || c === '[' || c === ']' || c === ',' || c === '.') {
      out.push({ k: c, v: c, line });
      i++;
    } else if (c === '"' || c === "'") {
      const startLine = line;
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new AuthError('OUTPOST_ERR_AUTH_ACL_SYNTAX', `line ${startLine}: unterminated ${c === '"' ? 'string' : 'quoted atom'}`);
        const d = text[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n) {
          const e = text[i + 1]!;
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
          continue;
        }
        if (d === '\n') line++;
        v += d;
        i++;
      }
      out.push({ k: c === '"' ? 'str' : 'atom', v, line: startLine });
    } else if (c >= '0' && c <= '9') {
      let v = '';
      while (i < n && text[i]! >= '0' && text[i]! <= '9') v += text[i++];
      out.push({ k: 'int', v, line });
    } else if (c >= 'a' && c <= 'z') {
      let v = '';
      while (i < n && /[A-Za-z0-9_@]/.test(text[i]!)) v += text[i++];
      out.push({ k: 'atom', v, line });
    } else {
      throw new AuthError('OUTPOST_ERR_AUTH_ACL_SYNTAX', `line ${line}: unexpected character ${JSON.stringify(c)}`);
    }
  }
  return out;
}

/** Parse the whole file into its top-level terms (each was followed by '.'). */
export function parseTerms(text: string): Term[] {
  const toks = tokenize(text);
  let p = 0;
  const peek = (): Tok | undefined => toks[p];
  const fail = (msg: string, t?: Tok): never => {
    throw new AuthError('OUTPOST_ERR_AUTH_ACL_SYNTAX', `line ${t?.line ?? toks[toks.length - 1]?.line ?? 1}: ${msg}`);
  };
  const term = (): Term => {
    const t = toks[p++];
    if (!t) return fail('unexpected end of file');
    switch (t.k) {
      case 'atom':
        return { t: 'atom', v: t.v, line: t.line };
      case 'str':
        return { t: 'str', v: t.v, line: t.line };
      case 'int':
        return { t: 'int', v: Number(t.v), line: t.line };
      case '{':
      case '[': {
        const close = t.k === '{' ? '}' : ']';
        const items: Term[] = [];
        if (peek()?.k === close) {
          p++;
        } else {
          for (;;) {
            items.push(term());
            const sep = toks[p++];
            if (sep?.k === close) break;
            if (sep?.k !== ',') fail(`expected ',' or '${close}'`, sep ?? t);
          }
        }
        return t.k === '{' ? { t: 'tuple', items, line: t.line } : { t: 'list', items, line: t.line };
      }
      default:
        return fail(`unexpected '${t.v}'`, t);
    }
  };
  const out: Term[] = [];
  while (p < toks.length) {
    out.push(term());
    const dot = toks[p++];
    if (dot?.k !== '.') fail("expected '.' after a rule", dot ?? toks[p - 2]);
  }
  return out;
}
