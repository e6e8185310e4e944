// Uri-Path / Uri-Query interpretation for the EMQX URI layout (gateways/coap/SPEC.md §2, §2.1).
import { type CoapFrame, Opt, optionStrings } from '../codecs/coap/frame.js';
import type { QoS } from '../gateway.js';

/** Short query names expand to the long ones before use (§2.1). */
const SHORT: Record<string, string> = { c: 'clientid', u: 'username', p: 'password', t: 'token', q: 'qos', r: 'retain' };

export type Query = Map<string, string>;

export function parseQuery(f: CoapFrame): Query {
  const q: Query = new Map();
  for (const item of optionStrings(f, Opt.URI_QUERY)) {
    const eq = item.indexOf('=');
    const k = eq < 0 ? item : item.slice(0, eq);
    const v = eq < 0 ? '' : item.slice(eq + 1);
    q.set(SHORT[k] ?? k, v);
  }
  return q;
}

/** Percent-decodes one segment; a segment that is not valid percent-encoding is taken literally. */
function decodeSegment(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function uriPath(f: CoapFrame): string[] {
  return optionStrings(f, Opt.URI_PATH).map(decodeSegment);
}

/** Strict integer parse (§2.1: a non-integer qos/nl/rh is a 4.00). undefined when absent, null when invalid. */
export function intParam(q: Query, key: string, max: number): number | undefined | null {
  const v = q.get(key);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) return null;
  const n = Number(v);
  return n <= max ? n : null;
}

/** `coap` mode: CON -> QoS 1, NON -> QoS 0 (§1). */
export function qosFor(mode: 'qos0' | 'qos1' | 'qos2' | 'coap', type: CoapFrame['type']): QoS {
  switch (mode) {
    case 'qos0':
      return 0;
    case 'qos1':
      return 1;
    case 'qos2':
      return 2;
    case 'coap':
      return type === 'CON' ? 1 : 0;
  }
}
