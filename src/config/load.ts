// Loading: TOML file (or the embedded defaults), then OUTPOST_<SECTION>__<KEY> env overrides,
// then schema validation with errors that name the dotted key.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'OUTPOST_ERR_CONFIG_INVALID';
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, []);
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`${path}: invalid TOML: ${(err as Error).message}`, []);
  }
}

function parseEnvValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v.startsWith('[') || v.startsWith('{')) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

/** OUTPOST_MQTT__PORT=1884 -> { mqtt: { port: 1884 } }; nested with more `__`. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('OUTPOST_') || value === undefined) continue;
    const path = name.slice('OUTPOST_'.length).toLowerCase().split('__');
    if (path.length < 2 || path.some((p) => p === '')) continue;
    let node: Record<string, unknown> = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parseEnvValue(value);
  }
  return raw;
}

function formatIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => {
    let path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') path = i.keys.map((k) => (path ? `${path}.${k}` : k)).join(', ');
    return { path: path || '(root)', message: i.code === 'unrecognized_keys' ? 'unknown key' : i.message };
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

export function validateConfig(raw: unknown, source = 'config'): Config {
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issues = formatIssues(r.error);
    throw new ConfigError(`${source}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return deepFreeze(r.data);
}

export interface LoadOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  dataDir?: string | undefined;
}

export function loadConfig(opts: LoadOptions): Config {
  const raw = opts.file ? readConfigFile(opts.file) : {};
  applyEnvOverrides(raw, opts.env ?? process.env);
  if (opts.dataDir) {
    const node = (raw.node ??= {}) as Record<string, unknown>;
    node.data_dir = opts.dataDir;
  }
  return validateConfig(raw, opts.file ?? 'embedded defaults');
}
