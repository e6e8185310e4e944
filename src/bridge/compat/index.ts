// Turns a bridge entry written in EMQX 5, NanoMQ or Mosquitto style into the native shape before
// schema validation (spec §6: all styles compile to one mapping model). Native keys given next to
// the compatible block override what the translation produced, section by section.
import { readFileSync } from 'node:fs';
import { fromEmqx } from './emqx.js';
import { fromMosquitto } from './mosquitto.js';
import { fromNanomq } from './nanomq.js';
import { parseHocon } from './hocon.js';
import { isRecord, Problems } from './units.js';

/** Text from an inline string or a file, as HOCON; null (with a problem) when unusable. */
function hoconText(text: string, where: string, p: Problems): Record<string, unknown> | null {
  const r = parseHocon(text);
  if (!r.ok) {
    p.add(where, `invalid HOCON: ${r.error}`);
    return null;
  }
  return r.value;
}

function readText(path: unknown, key: string, p: Problems): string | null {
  if (typeof path !== 'string') {
    p.add(key, 'expected a file path');
    return null;
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    p.add(key, `cannot read ${path}: ${(err as Error).message}`);
    return null;
  }
}

function onlyEntry(o: unknown, where: string, p: Problems, skip: string[] = []): Record<string, unknown> | null {
  const entries = isRecord(o) ? Object.entries(o).filter(([k, v]) => !skip.includes(k) && isRecord(v)) : [];
  if (entries.length !== 1) {
    p.add(where, `expected exactly one bridge, found ${entries.length}`);
    return null;
  }
  return entries[0]![1] as Record<string, unknown>;
}

/** An EMQX config text: 5.4+ connectors/actions/sources/rule_engine, or one 5.0–5.3 bridges.mqtt.<name>. */
function emqxFromText(root: Record<string, unknown>, where: string, p: Problems): unknown {
  const legacy = isRecord(root.bridges) ? root.bridges.mqtt : undefined;
  if (legacy !== undefined) return onlyEntry(legacy, `${where}: bridges.mqtt`, p) ?? {};
  return { connectors: root.connectors, actions: root.actions, sources: root.sources, rule_engine: root.rule_engine };
}

/** A NanoMQ config text: one bridges.mqtt.<name> (plus the shared bridges.mqtt.cache). */
function nanomqFromText(root: Record<string, unknown>, where: string, p: Problems): unknown {
  const mqttBlock = isRecord(root.bridges) ? root.bridges.mqtt : undefined;
  const entry = onlyEntry(mqttBlock, `${where}: bridges.mqtt`, p, ['cache']);
  if (!entry) return {};
  const cache = isRecord(mqttBlock) ? mqttBlock.cache : undefined;
  return cache !== undefined ? { ...entry, cache } : entry;
}

const COMPAT_KEYS = ['emqx', 'emqx_file', 'nanomq', 'nanomq_file', 'mosquitto', 'mosquitto_file'] as const;

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
    case 'emqx_file':
    case 'nanomq':
    case 'nanomq_file': {
      const emqx = key.startsWith('emqx');
      let block: unknown = raw[key];
      const text = key.endsWith('_file') ? readText(block, key, p) : typeof block === 'string' ? block : null;
      if (text !== null) {
        const where = key.endsWith('_file') ? String(raw[key]) : key;
        const root = hoconText(text, where, p);
        block = root ? (emqx ? emqxFromText(root, where, p) : nanomqFromText(root, where, p)) : {};
      } else if (key.endsWith('_file')) block = {};
      native = emqx ? fromEmqx(block, p) : fromNanomq(block, p);
      break;
    }
    case 'mosquitto':
      native = typeof raw.mosquitto === 'string' ? fromMosquitto(raw.mosquitto, p, 'mosquitto') : (p.add('mosquitto', 'expected the config lines as a string'), {});
      break;
    case 'mosquitto_file': {
      const text = readText(raw.mosquitto_file, 'mosquitto_file', p);
      native = text !== null ? fromMosquitto(text, p, String(raw.mosquitto_file)) : {};
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
