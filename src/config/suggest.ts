// Did-you-mean for unknown config keys: the known keys at the same place in the schema, nearest by
// edit distance. Reads zod's schema definitions (the one schema is the list of keys), so a new key
// needs no list kept here.
import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas `s` may be once wrappers (default, prefault, optional, pipes, unions) are taken off. */
function objectsOf(s: z.ZodType, depth = 0): Record<string, z.ZodType>[] {
  if (depth > 20) return [];
  const d = defOf(s);
  switch (d.type) {
    case 'object':
      return d.shape ? [d.shape] : [];
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'readonly':
    case 'catch':
      return d.innerType ? objectsOf(d.innerType, depth + 1) : [];
    case 'pipe':
      return [...(d.out ? objectsOf(d.out, depth + 1) : []), ...(d.in ? objectsOf(d.in, depth + 1) : [])];
    case 'union':
      return (d.options ?? []).flatMap((o) => objectsOf(o, depth + 1));
    default:
      return [];
  }
}

/** The schemas at one step down from `s` along `key` (a record's or array's entries take any key). */
function childrenOf(s: z.ZodType, key: string, depth = 0): z.ZodType[] {
  if (depth > 20) return [];
  const d = defOf(s);
  switch (d.type) {
    case 'object':
      return d.shape?.[key] ? [d.shape[key]] : [];
    case 'record':
      return d.valueType ? [d.valueType] : [];
    case 'array':
      return d.element ? [d.element] : [];
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'readonly':
    case 'catch':
      return d.innerType ? childrenOf(d.innerType, key, depth + 1) : [];
    case 'pipe':
      return [...(d.out ? childrenOf(d.out, key, depth + 1) : []), ...(d.in ? childrenOf(d.in, key, depth + 1) : [])];
    case 'union':
      return (d.options ?? []).flatMap((o) => childrenOf(o, key, depth + 1));
    default:
      return [];
  }
}

/** The known keys of the object at `path` in `schema`. */
export function knownKeys(schema: z.ZodType, path: readonly string[]): string[] {
  let here = [schema];
  for (const k of path) here = here.flatMap((s) => childrenOf(s, k));
  return [...new Set(here.flatMap((s) => objectsOf(s)).flatMap((shape) => Object.keys(shape)))];
}

/** The known key nearest to `key` at `path`, if it is close enough to be a likely typo. */
export function suggestKey(schema: z.ZodType, path: readonly string[], key: string): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const k = key.toLowerCase();
  for (const cand of knownKeys(schema, path)) {
    const d = distance(k, cand.toLowerCase());
    if (d < bestD) {
      best = cand;
      bestD = d;
    }
  }
  // A third of the key's length (at least 2) keeps "synchronus" -> "synchronous" and drops unrelated names.
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}
