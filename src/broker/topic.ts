// Topic names and filters (MQTT 5 §4.7). Scans with charCodeAt; no split on the hot path.

const SLASH = 47; // '/'
const PLUS = 43; // '+'
const HASH = 35; // '#'
const DOLLAR = 36; // '$'

/** Number of levels in a topic or filter. */
export function levelCount(t: string): number {
  let n = 1;
  for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) === SLASH) n++;
  return n;
}

/** A topic name a client may publish to: non-empty, no wildcards, no NUL [MQTT-4.7.3-1, -2, 4.7.1-1]. */
export function isValidTopicName(t: string, maxLevels = 65535): boolean {
  if (t.length === 0 || t.length > 65535) return false;
  let levels = 1;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === PLUS || c === HASH || c === 0) return false;
    if (c === SLASH && ++levels > maxLevels) return false;
  }
  return true;
}

/** A topic filter: '#' only as the whole last level, '+' only as a whole level [MQTT-4.7.1-1, -2]. */
export function isValidFilter(f: string, maxLevels = 65535): boolean {
  if (f.length === 0 || f.length > 65535) return false;
  let levels = 1;
  for (let i = 0; i < f.length; i++) {
    const c = f.charCodeAt(i);
    if (c === 0) return false;
    if (c === SLASH) {
      if (++levels > maxLevels) return false;
    } else if (c === PLUS) {
      if ((i > 0 && f.charCodeAt(i - 1) !== SLASH) || (i + 1 < f.length && f.charCodeAt(i + 1) !== SLASH)) return false;
    } else if (c === HASH) {
      if (i !== f.length - 1 || (i > 0 && f.charCodeAt(i - 1) !== SLASH)) return false;
    }
  }
  return true;
}

export function hasWildcard(f: string): boolean {
  for (let i = 0; i < f.length; i++) {
    const c = f.charCodeAt(i);
    if (c === PLUS || c === HASH) return true;
  }
  return false;
}

export interface ParsedFilter {
  /** The filter that is matched against topics (without $share/{group}/ or $queue/ or $exclusive/). */
  filter: string;
  /** Shared-subscription group, or null. '$queue' for $queue/ subscriptions. */
  group: string | null;
  exclusive: boolean;
}

/**
 * Splits `$share/{group}/{filter}`, `$queue/{filter}` and `$exclusive/{filter}`. Returns null for an
 * invalid shared subscription (empty group, wildcard or '/' in the group, empty filter) [MQTT-4.8.2-1, -2].
 */
export function parseFilter(raw: string): ParsedFilter | null {
  if (raw.charCodeAt(0) === DOLLAR) {
    if (raw.startsWith('$share/')) {
      const slash = raw.indexOf('/', 7);
      if (slash <= 7) return null;
      const group = raw.slice(7, slash);
      if (group.includes('+') || group.includes('#')) return null;
      const filter = raw.slice(slash + 1);
      if (filter.length === 0) return null;
      return { filter, group, exclusive: false };
    }
    if (raw.startsWith('$queue/')) {
      const filter = raw.slice(7);
      if (filter.length === 0) return null;
      return { filter, group: '$queue', exclusive: false };
    }
    if (raw.startsWith('$exclusive/')) {
      const filter = raw.slice(11);
      if (filter.length === 0) return null;
      return { filter, group: null, exclusive: true };
    }
  }
  return { filter: raw, group: null, exclusive: false };
}

/**
 * Does `filter` match `topic`? Topics starting with '$' are not matched by a filter starting with a
 * wildcard [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  const fl = filter.length;
  const tl = topic.length;
  if (topic.charCodeAt(0) === DOLLAR) {
    const f0 = filter.charCodeAt(0);
    if (f0 === PLUS || f0 === HASH) return false;
  }
  let fi = 0;
  let ti = 0;
  while (fi < fl) {
    const c = filter.charCodeAt(fi);
    if (c === HASH) return true; // matches the parent level too: 'a/#' matches 'a'
    if (c === PLUS) {
      if (ti > tl) return false;
      while (ti < tl && topic.charCodeAt(ti) !== SLASH) ti++;
      fi++;
    } else {
      // literal level: compare up to the next '/'
      while (fi < fl && filter.charCodeAt(fi) !== SLASH) {
        if (ti >= tl || topic.charCodeAt(ti) !== filter.charCodeAt(fi)) return false;
        fi++;
        ti++;
      }
      if (ti < tl && topic.charCodeAt(ti) !== SLASH) return false;
    }
    // both at a level end
    if (fi === fl) return ti === tl;
    // filter has '/', move past it
    fi++;
    if (ti === tl) {
      // topic ended: only a trailing '#' can still match ('a/#' vs 'a')
      return filter.charCodeAt(fi) === HASH && fi === fl - 1;
    }
    ti++;
  }
  return ti >= tl;
}

/** Replace ${clientid} / ${username} / ${endpoint_name} placeholders; null when a used value is missing. */
export function renderPlaceholders(tpl: string, vars: Record<string, string | null | undefined>): string | null {
  if (!tpl.includes('${')) return tpl;
  let missing = false;
  const out = tpl.replace(/\$\{([a-z_.]+)\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === null || v === undefined) {
      missing = true;
      return '';
    }
    return v;
  });
  return missing ? null : out;
}
