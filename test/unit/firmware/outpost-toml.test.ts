// The default config flashed onto a box (firmware-config/outpost.toml): it passes the daemon's own
// check-config, ships the documented ports and a power-cut-safe store, carries no secret, and every
// commented "# key = value" line really is the built-in default (uncommenting it changes nothing).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TEXT = readFileSync(new URL('../../../firmware-config/outpost.toml', import.meta.url), 'utf8');
/** A commented default: exactly "# key = value" (prose and examples never start that way). */
const COMMENTED_DEFAULT = /^# ([a-z_][a-z0-9_]*) = (.+)$/;

function withoutOutpostEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OUTPOST_')));
}

describe('firmware-config/outpost.toml', () => {
  it('passes `node dist/src/runtime/main.js check-config firmware-config/outpost.toml`', () => {
    const r = spawnSync('node', ['dist/src/runtime/main.js', 'check-config', 'firmware-config/outpost.toml'], {
      cwd: ROOT,
      env: withoutOutpostEnv(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('firmware-config/outpost.toml: ok');
    expect(r.status).toBe(0);
  });

  it('check-config rejects the same file with an unknown key, naming it', () => {
    // Guards the test above: check-config does read and validate this file.
    const dir = mkdtempSync(join(tmpdir(), 'outpost-toml-'));
    const file = join(dir, 'outpost.toml');
    writeFileSync(file, TEXT.replace('[store]\n', '[store]\nsynchronus = "FULL"\n'));
    const r = spawnSync('node', ['dist/src/runtime/main.js', 'check-config', file], {
      cwd: ROOT,
      env: withoutOutpostEnv(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/store\.synchronus/);
  });

  const config = validateConfig(parse(TEXT), 'outpost.toml');

  it('ships MQTT on 1883, the API on 127.0.0.1:18083 with auth, CoAP 5683/udp and MQTT-SN 1884/udp enabled', () => {
    expect(config.mqtt.enable).toBe(true);
    expect(config.mqtt.port).toBe(1883);
    expect(config.api.bind).toBe('127.0.0.1');
    expect(config.api.port).toBe(18083);
    expect(config.api.auth).toBe(true);
    expect(config.gateway.coap.enable).toBe(true);
    expect(config.gateway.coap.listeners.udp.default).toMatchObject({ enable: true, port: 5683 });
    expect(config.gateway.mqttsn.enable).toBe(true);
    expect(config.gateway.mqttsn.listeners.udp).toEqual({ default: expect.objectContaining({ enable: true, port: 1884 }) });
    expect(Object.values(config.listeners.ssl).every((l) => !l.enable)).toBe(true);
    expect(Object.values(config.listeners.ws).every((l) => !l.enable)).toBe(true);
    expect(Object.values(config.listeners.wss).every((l) => !l.enable)).toBe(true);
  });

  it('keeps data in /var/lib/outpost with synchronous = FULL, and explains the cost', () => {
    expect(config.node.data_dir).toBe('/var/lib/outpost');
    expect(config.store.synchronous).toBe('FULL');
    const storeSection = TEXT.slice(TEXT.indexOf('[store]'), TEXT.indexOf('[retainer]'));
    expect(storeSection).toMatch(/power cut/);
    expect(storeSection).toMatch(/fsync/);
  });

  it('reads API keys from the file first boot writes', () => {
    expect(config.api.api_key_bootstrap_file).toBe('/etc/outpost/api-keys');
  });

  it('ships no password, secret or key value', () => {
    const found: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
      } else if (/(password|secret|token)$/i.test(path) && v !== '' && v !== undefined) found.push(path);
    };
    walk(parse(TEXT), '');
    expect(found).toEqual([]);
    expect(config.mqtt.use_username_as_clientid).toBe(false);
    expect(config.gateway.mqttsn.clientinfo_override).toEqual({});
  });

  it('lists every top-level section of the schema', () => {
    for (const key of Object.keys(configSchema.shape)) {
      const present = new RegExp(`^(# )?(\\[${key}[.\\]]|${key} = )`, 'm').test(TEXT) || new RegExp(`^#   \\[${key}\\.`, 'm').test(TEXT);
      expect(present, `section ${key}`).toBe(true);
    }
  });

  it('every "# key = value" line is the built-in default: uncommenting all of them changes nothing', () => {
    const lines = TEXT.split('\n');
    const commented = lines.filter((l) => COMMENTED_DEFAULT.test(l));
    expect(commented.length).toBeGreaterThan(150);
    const uncommented = lines.map((l) => (COMMENTED_DEFAULT.test(l) ? l.slice(2) : l)).join('\n');
    expect(validateConfig(parse(uncommented), 'uncommented')).toEqual(config);
  });

  it('every value that is set differs from the built-in default (else it would be commented)', () => {
    const defaults = validateConfig({}, 'defaults');
    const set = TEXT.split('\n').filter((l) => /^[a-z_]+ = /.test(l));
    expect(set.length).toBeGreaterThan(0);
    let section = '';
    const sectionOf = new Map<string, string>();
    for (const l of TEXT.split('\n')) {
      const h = /^\[([^\]]+)\]$/.exec(l);
      if (h) section = h[1]!;
      else if (/^[a-z_]+ = /.test(l)) sectionOf.set(l, section);
    }
    for (const l of set) {
      const [key] = l.split(' = ');
      const path = [...(sectionOf.get(l) ?? '').split('.').filter(Boolean), key!];
      const get = (o: unknown): unknown => path.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[k] : undefined), o);
      // The off TLS/WS listeners are spelled out: an empty [listeners.ssl.default] would turn one on.
      if (path[0] === 'listeners') continue;
      expect(get(config), path.join('.')).not.toEqual(get(defaults));
    }
  });
});
