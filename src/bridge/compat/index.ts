// Turns a bridge entry written in EMQX 5, NanoMQ or Mosquitto style into the native shape before
// schema validation (spec §6: all styles compile to one mapping model). Native keys given next to
// the compatible block override what the translation produced, section by section.
import { readFileSync } from 'node:fs';
import { fromEmqx } from './emqx.js';
import { fromMosquitto } from './mosquitto.js';
import { fromNanomq } from './nanomq.js';
import { isRecord, Problems } from './units.js';

const COMPAT_KEYS = ['emqx', 'nanomq', 'mosquitto', 'mosquitto_file'] as const;

export interface Translation {
  value: unknown;
  problems: string[];
}

export function translateCompat(raw: unknown): Translation {
  if (!isRecord(raw)) return { value: raw, problems: [] };
  const present = COMPAT_KEYS.filter((k) => raw[k] !== undefined);
  if (present.length === 0) return { value: raw, problems: [] };
  const p = new Problems();
  if (present.length > 1) {
    p.add(present.join(', '), 'give only one compatible block per bridge');
    return { value: raw, problems: p.list };
  }
  const key = present[0]!;
  let native: Record<string, unknown>;
  switch (key) {
    case 'emqx':
      native = fromEmqx(raw.emqx, p);
      break;
    case 'nanomq':
      native = fromNanomq(raw.nanomq, p);
      break;
    case 'mosquitto':
      native = typeof raw.mosquitto === 'string' ? fromMosquitto(raw.mosquitto, p, 'mosquitto') : (p.add('mosquitto', 'expected the config lines as a string'), {});
      break;
    case 'mosquitto_file': {
      const path = raw.mosquitto_file;
      native = {};
      if (typeof path !== 'string') p.add('mosquitto_file', 'expected a file path');
      else {
        try {
          native = fromMosquitto(readFileSync(path, 'utf8'), p, path);
        } catch (err) {
          p.add('mosquitto_file', `cannot read ${path}: ${(err as Error).message}`);
        }
      }
      break;
    }
  }
  const out: Record<string, unknown> = { ...native };
  for (const [k, v] of Object.entries(raw)) {
    if (k === key) continue;
    // Section objects merge key by key so `buffer = { max_messages = 10 }` keeps the translated rest.
    out[k] = isRecord(v) && isRecord(out[k]) ? { ...(out[k] as Record<string, unknown>), ...v } : v;
  }
  return { value: out, problems: p.list };
}
