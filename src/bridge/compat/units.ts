// Value forms used by EMQX (HOCON durations/sizes like "160s", "256MB"), NanoMQ and Mosquitto,
// turned into the numbers the native schema takes. Pure, never throw: null means "not understood".

/** "160s", "1m", "500ms", "2h", "1d" or a bare number (seconds) -> seconds; null when malformed. */
export function parseSeconds(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(v);
  if (!m) return v.trim() === 'infinity' ? 0 : null;
  const n = Number(m[1]);
  switch ((m[2] ?? 's').toLowerCase()) {
    case 'ms':
      return n / 1000;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
    default:
      return n;
  }
}

/** "256MB", "1GB", "512KB", "100B" or a number (bytes) -> bytes; null when malformed. */
export function parseBytes(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(v);
  if (!m) return null;
  const mult: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024, gb: 1024 * 1024 * 1024 };
  return Math.floor(Number(m[1]) * mult[(m[2] ?? 'b').toLowerCase()]!);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects translation problems with the dotted key they belong to. */
export class Problems {
  readonly list: string[] = [];
  add(path: string, msg: string): void {
    this.list.push(`${path}: ${msg}`);
  }
}

/** Reads an optional string. */
export function str(o: Record<string, unknown>, k: string, p: Problems, path: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    p.add(`${path}.${k}`, 'expected a string');
    return undefined;
  }
  return v;
}

export function secs(o: Record<string, unknown>, k: string, p: Problems, path: string): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  const s = parseSeconds(v);
  if (s === null) p.add(`${path}.${k}`, `not a duration: ${JSON.stringify(v)}`);
  return s ?? undefined;
}

export function bool(o: Record<string, unknown>, k: string, p: Problems, path: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  p.add(`${path}.${k}`, 'expected true or false');
  return undefined;
}
