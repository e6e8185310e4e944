// application/link-format (40), RFC 6690 §2: `<target>;attr;attr=token;attr="quoted",<target>...`.
// Used by Register/Update object lists (LwM2M 1.1 Transport §6.2.1 / 1.0 §5.3.1) and Discover answers.

import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import { formatPath, parsePath } from './model.js';

export const LINK_FORMAT_CONTENT_FORMAT = 40;

export interface LinkAttribute {
  readonly name: string;
  /** Absent for a bare flag (`;obs`). */
  readonly value?: string;
  /** Written as a quoted-string (RFC 6690 `rt="oma.lwm2m"`), kept so a link re-serialises as it came. */
  readonly quoted?: boolean;
}

export interface Link {
  readonly target: string;
  readonly attributes: readonly LinkAttribute[];
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** RFC 5987/6690 parmname characters plus "*"; LwM2M attributes are simple tokens. */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 46 || c === 42 || c === 33 || c === 36 || c === 38 || c === 43 || c === 94 || c === 96 || c === 124 || c === 126;
}

export function parseLinks(buf: Buffer | string): Result<Link[]> {
  const s = typeof buf === 'string' ? buf : buf.toString('utf8');
  const links: Link[] = [];
  let i = 0;
  const skip = () => {
    while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  };
  const fail = (what: string) => lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `link-format: ${what} at offset ${i}`);
  skip();
  if (i === s.length) return ok(links);
  for (;;) {
    skip();
    if (s.charCodeAt(i) !== 60) return fail('expected "<"');
    const close = s.indexOf('>', i + 1);
    if (close < 0) return fail('unclosed "<"');
    const target = s.slice(i + 1, close);
    i = close + 1;
    const attributes: LinkAttribute[] = [];
    skip();
    while (s.charCodeAt(i) === 59) {
      i++;
      skip();
      const start = i;
      while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
      if (i === start) return fail('empty attribute name');
      const name = s.slice(start, i);
      skip();
      if (s.charCodeAt(i) !== 61) {
        attributes.push({ name });
        continue;
      }
      i++;
      skip();
      if (s.charCodeAt(i) === 34) {
        let value = '';
        i++;
        for (;;) {
          if (i >= s.length) return fail('unclosed quoted-string');
          const c = s.charCodeAt(i);
          if (c === 34) break;
          if (c === 92 && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
        attributes.push({ name, value, quoted: true });
      } else {
        const vstart = i;
        while (i < s.length) {
          const c = s.charCodeAt(i);
          if (c === 44 || c === 59 || isSpace(c)) break;
          i++;
        }
        attributes.push({ name, value: s.slice(vstart, i) });
      }
      skip();
    }
    links.push({ target, attributes });
    skip();
    if (i === s.length) return ok(links);
    if (s.charCodeAt(i) !== 44) return fail('expected "," or ";"');
    i++;
  }
}

export function formatLink(link: Link): string {
  let out = `<${link.target}>`;
  for (const a of link.attributes) {
    if (a.value === undefined) out += `;${a.name}`;
    else if (a.quoted === true) out += `;${a.name}="${a.value.replace(/["\\]/g, '\\$&')}"`;
    else out += `;${a.name}=${a.value}`;
  }
  return out;
}

export function formatLinks(links: readonly Link[]): Buffer {
  return Buffer.from(links.map(formatLink).join(','), 'utf8');
}

export function linkAttribute(link: Link, name: string): string | undefined {
  return link.attributes.find((a) => a.name === name)?.value;
}

export interface RegisteredObject {
  /** "/3/0" or "/5", relative to the alternate path. */
  readonly path: string;
  readonly objectId: number;
  readonly instanceId?: number;
  /** `ver` attribute (LwM2M 1.1 Transport §6.2.1.1), e.g. "1.1". */
  readonly version?: string;
}

export interface RegistrationLinks {
  /** "/" unless a link with rt="oma.lwm2m" names another root (1.0 §5.3.1). */
  readonly alternatePath: string;
  /** Content formats the device advertised with `ct` on the root link (may be a quoted list "60 110"). */
  readonly contentFormats: readonly number[];
  readonly objects: readonly RegisteredObject[];
}

/** The object list of a Register/Update payload; links outside the root or not /O[/I] are skipped. */
export function registrationLinks(links: readonly Link[]): RegistrationLinks {
  let alternatePath = '/';
  const contentFormats: number[] = [];
  for (const l of links) {
    if (linkAttribute(l, 'rt') !== 'oma.lwm2m') continue;
    const root = l.target.replace(/\/+$/, '');
    alternatePath = root === '' ? '/' : root.startsWith('/') ? root : '/' + root;
    for (const ct of (linkAttribute(l, 'ct') ?? '').split(' ')) if (/^\d{1,5}$/.test(ct)) contentFormats.push(Number(ct));
  }
  const prefix = alternatePath === '/' ? '' : alternatePath;
  const objects: RegisteredObject[] = [];
  for (const l of links) {
    if (linkAttribute(l, 'rt') === 'oma.lwm2m') continue;
    if (prefix !== '' && !l.target.startsWith(prefix + '/')) continue;
    const ids = parsePath(l.target.slice(prefix.length));
    if (ids === undefined || ids.length < 1 || ids.length > 2) continue;
    const version = linkAttribute(l, 'ver');
    const o: { path: string; objectId: number; instanceId?: number; version?: string } = { path: formatPath(ids), objectId: ids[0]! };
    if (ids.length === 2) o.instanceId = ids[1]!;
    if (version !== undefined) o.version = version;
    objects.push(o);
  }
  return { alternatePath, contentFormats, objects };
}
