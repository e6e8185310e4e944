// Static checks on a bridge config: templates must compile, and an ingress mapping must not write
// local topics that an egress filter of the same bridge forwards back upstream (spec §5.7).
import { parseFilter } from '../broker/topic.js';
import type { BridgeConfig } from './config.js';
import { compileTemplate, render, TemplateError } from './mapping.js';

/** Do two topic filters have a topic in common? Level by level; '#' swallows the rest. */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') {
      // '$'-topics are not matched by a leading wildcard [MQTT-4.7.2-1].
      if (i === 0) return !(p === '#' ? q ?? '' : p ?? '').startsWith('$');
      return true;
    }
    if (p === undefined || q === undefined) return false;
    if (p === '+' || q === '+') {
      if (i === 0 && (p.startsWith('$') || q.startsWith('$'))) return false;
      continue;
    }
    if (p !== q) return false;
  }
  return true;
}

/** The set of local topics an ingress mapping can produce, as a filter (placeholders become wildcards). */
export function ingressLocalPattern(m: BridgeConfig['ingress'][number]): string {
  const remote = parseFilter(m.filter)?.filter ?? m.filter;
  const stripped = m.strip_prefix !== '' && remote.startsWith(m.strip_prefix) ? remote.slice(m.strip_prefix.length) : remote;
  const t = compileTemplate(m.topic);
  const out = render(t, {
    topic: stripped,
    qos: 0,
    retain: false,
    clientid: '+',
    username: '+',
    payload: Buffer.alloc(0),
    ts: 0,
    captures: { plus: ['+', '+', '+', '+', '+', '+', '+', '+'], hash: '#' },
  });
  // Rendered qos/retain values are single levels: widen them so the check stays conservative.
  const rendered = m.prefix + out + m.suffix;
  return rendered
    .split('/')
    .map((lvl) => (lvl.includes('#') ? '#' : lvl.includes('+') || t.parts.some((p) => p.k === 'qos' || p.k === 'retain') && /^(0|1|2|true|false)$/.test(lvl) ? '+' : lvl))
    .join('/');
}

export function templateProblems(b: BridgeConfig): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const check = (path: (string | number)[], src: string, payload = false) => {
    try {
      compileTemplate(src, payload);
    } catch (err) {
      if (err instanceof TemplateError) out.push({ path, message: err.message });
      else throw err;
    }
  };
  b.egress.forEach((e, i) => {
    check(['egress', i, 'topic'], e.topic);
    if (e.payload !== '' && e.payload !== '${payload}') check(['egress', i, 'payload'], e.payload, true);
  });
  b.ingress.forEach((m, i) => check(['ingress', i, 'topic'], m.topic));
  return out;
}

export function findLoops(b: BridgeConfig): { ingress: number; egress: number; filter: string }[] {
  if (templateProblems(b).length > 0) return [];
  const loops: { ingress: number; egress: number; filter: string }[] = [];
  b.ingress.forEach((m, i) => {
    const local = ingressLocalPattern(m);
    b.egress.forEach((e, j) => {
      if (filtersOverlap(local, e.filter)) loops.push({ ingress: i, egress: j, filter: e.filter });
    });
  });
  return loops;
}
