// EMQX 5's config value forms, as pure functions: durations ("15s", "2h", "500ms", "1d", "1h30m"),
// byte sizes ("64KB", "1MB") and listener binds ("1883", "127.0.0.1:1883", "[::1]:1883"). Numbers
// keep working as before (seconds, bytes). No zod here: gateways/gateway.ts re-exports these and is
// loaded by the daemon, which must not load zod (config is validated in a child, config/isolated.ts).
// Schemas use them as z.preprocess steps: an input they cannot read gets an issue naming the forms.

/** What z.preprocess hands its function; structural, so this module needs no zod import. */
export interface PreprocessCtx {
  addIssue(issue: { code: 'custom'; message: string; input?: unknown; path?: PropertyKey[] }): void;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/** A duration in milliseconds: "500ms", "15s", "2h", "1d", "1h30m" (case-insensitive, as HOCON). Null when not one. */
export function parseDurationMs(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (!DURATION_RE.test(s)) return null;
  let ms = 0;
  for (const m of s.matchAll(DURATION_PART_RE)) ms += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
  return ms;
}

// EMQX's bytesize: KB/MB/GB are powers of 1024 (HOCON's reading), with or without the B.
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/;

/** A byte size: "512B", "64KB", "1MB", "2GB" (1024-based, as EMQX); a plain number string is bytes. Null when not one. */
export function parseBytes(text: string): number | null {
  const m = SIZE_RE.exec(text.trim().toLowerCase());
  if (!m) return null;
  const mult = SIZE_UNITS[m[2]!];
  if (mult === undefined) return null;
  return Math.round(Number(m[1]) * mult);
}

const NUMERIC_RE = /^\s*\d+(?:\.\d+)?\s*$/;

/**
 * Preprocess step for a field in seconds: numbers (and numeric strings) are seconds, duration strings
 * are converted. Integer-second fields get durations rounded up ("500ms" -> 1), as EMQX's duration_s does.
 */
export function secondsFrom(integer: boolean): (v: unknown, ctx: PreprocessCtx) => unknown {
  return (v, ctx) => {
    if (typeof v !== 'string') return v;
    if (NUMERIC_RE.test(v)) return Number(v);
    const ms = parseDurationMs(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', input: v, message: `expected a duration such as "500ms", "15s", "2h", "1d" or a number of seconds, got "${v}"` });
      return v;
    }
    return integer ? Math.ceil(ms / 1000) : ms / 1000;
  };
}

/** Preprocess step for a field in milliseconds: numbers are milliseconds, duration strings are converted. */
export function millisecondsFrom(v: unknown, ctx: PreprocessCtx): unknown {
  if (typeof v !== 'string') return v;
  if (NUMERIC_RE.test(v)) return Number(v);
  const ms = parseDurationMs(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', input: v, message: `expected a duration such as "500ms", "15s", "2h" or a number of milliseconds, got "${v}"` });
    return v;
  }
  return Math.round(ms);
}

/** Preprocess step for a field in bytes: numbers are bytes, size strings ("64KB", "1MB") are converted. */
export function bytesFrom(v: unknown, ctx: PreprocessCtx): unknown {
  if (typeof v !== 'string') return v;
  const n = parseBytes(v);
  if (n === null) {
    ctx.addIssue({ code: 'custom', input: v, message: `expected a size such as "64KB", "1MB", "1GB" or a number of bytes, got "${v}"` });
    return v;
  }
  return n;
}

export interface BindAddress {
  /** Absent when the bind was only a port. IPv6 without brackets. */
  host?: string;
  /** Absent when the bind was only a host (Outpost's older `bind = "0.0.0.0"` plus `port`). */
  port?: number;
}

/**
 * A listener bind as EMQX writes it: 1883, "1883", "127.0.0.1:1883", "[::1]:1883", or (Outpost's
 * own form, with a separate `port`) a bare host "0.0.0.0" / "::". Null when it is none of these.
 */
export function parseBind(v: unknown): BindAddress | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 65535 ? { port: v } : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s === '') return null;
  const portOf = (p: string): number | null => (/^\d{1,5}$/.test(p) && Number(p) <= 65535 ? Number(p) : null);
  if (/^\d+$/.test(s)) {
    const port = portOf(s);
    return port === null ? null : { port };
  }
  if (s.startsWith('[')) {
    const m = /^\[([0-9a-fA-F:.%\w]+)\](?::(\d+))?$/.exec(s);
    if (!m) return null;
    if (m[2] === undefined) return { host: m[1]! };
    const port = portOf(m[2]);
    return port === null ? null : { host: m[1]!, port };
  }
  const colons = s.split(':').length - 1;
  // Two or more colons: a bare IPv6 address (a port needs the brackets).
  if (colons !== 1) return /\s/.test(s) ? null : { host: s };
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i);
  const port = portOf(s.slice(i + 1));
  if (host === '' || port === null || /\s/.test(host)) return null;
  return { host, port };
}

/**
 * Preprocess step for a listener object with `bind` and `port`: a bind that carries a port (EMQX's
 * form) sets `port`; `bind` keeps the host, or `fallbackHost` when the bind was only a port. A port in
 * both places is refused unless they agree. Anything unreadable is left for the schema to refuse.
 */
export function splitListenerBind(fallbackHost: string): (v: unknown, ctx: PreprocessCtx) => unknown {
  return (v, ctx) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    if (o.bind === undefined) return v;
    const b = parseBind(o.bind);
    if (b === null) {
      ctx.addIssue({ code: 'custom', path: ['bind'], input: o.bind, message: `expected a port (1883), "host:port" ("127.0.0.1:1883", "[::1]:1883") or a host, got ${JSON.stringify(o.bind)}` });
      return v;
    }
    if (b.port === undefined) return { ...o, bind: b.host };
    if (o.port !== undefined && o.port !== b.port) {
      ctx.addIssue({ code: 'custom', path: ['bind'], input: o.bind, message: `${JSON.stringify(o.bind)} names port ${b.port} but port is ${JSON.stringify(o.port)}: give the port once` });
      return v;
    }
    return { ...o, bind: b.host ?? fallbackHost, port: b.port };
  };
}

/**
 * Preprocess step for a field where 0 means no limit (or never): EMQX writes that as "infinity"
 * (max_subscriptions, max_mqueue_len, message_expiry_interval, a listener's max_connections).
 */
export function infinityAsZero(v: unknown): unknown {
  return typeof v === 'string' && v.trim().toLowerCase() === 'infinity' ? 0 : v;
}
