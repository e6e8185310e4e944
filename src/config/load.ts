// Loading: TOML file (or the embedded defaults), then OUTPOST_<SECTION>__<KEY> env overrides,
// then schema validation with errors that name the dotted key.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError, deepFreeze } from './result.js';
import { configSchema, type Config } from './schema.js';
import { suggestKey } from './suggest.js';

export { ConfigError } from './result.js';

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

/**
 * OUTPOST_MQTT__PORT=1884 -> { mqtt: { port: 1884 } }; nested with more `__`. `origins`, when given,
 * records which variable set each dotted key, so an error can blame the variable rather than the file.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, origins?: Map<string, string>): Record<string, unknown> {
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
    origins?.set(path.join('.'), name);
  }
  return raw;
}

export interface ConfigIssue {
  path: string;
  message: string;
  /** The OUTPOST_* variable that set this key (or a key above it), when the value came from the environment. */
  env?: string;
}

/** The variable that set `path` or one of its parents. */
function envOrigin(path: string, origins: ReadonlyMap<string, string> | undefined): string | undefined {
  if (!origins) return undefined;
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const o = origins.get(p);
    if (o) return o;
  }
  return undefined;
}

function formatIssues(error: z.ZodError, origins?: ReadonlyMap<string, string>): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const push = (path: string, message: string) => {
    const env = envOrigin(path, origins);
    out.push(env ? { path, message, env } : { path: path || '(root)', message });
  };
  for (const i of error.issues) {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') {
      // One issue per key, each with the nearest known key when there is a likely one.
      for (const k of i.keys) {
        const hint = suggestKey(configSchema, at, k);
        push([...at, k].join('.'), hint ? `unknown key (did you mean ${[...at, hint].join('.')}?)` : 'unknown key');
      }
    } else push(at.join('.'), i.message);
  }
  return out;
}

/** One line for all issues: those from the file under its name, those from the environment under the variable. */
function describeIssues(issues: ConfigIssue[], source: string): string {
  const fromFile = issues.filter((i) => !i.env).map((i) => `${i.path}: ${i.message}`);
  const fromEnv = issues.filter((i) => i.env).map((i) => `${i.env}: ${i.path}: ${i.message}`);
  return [...(fromFile.length > 0 ? [`${source}: ${fromFile.join('; ')}`] : []), ...fromEnv].join('; ');
}

export function validateConfig(raw: unknown, source = 'config', origins?: ReadonlyMap<string, string>): Config {
  // A config is parsed once per start or reload: zod's JIT (compiling a parser per object shape)
  // costs ~25-40 ms and 0.4 MB of heap the first time and wins nothing here; the checks are the same.
  const r = configSchema.safeParse(raw, { jitless: true });
  if (!r.success) {
    const issues = formatIssues(r.error, origins);
    throw new ConfigError(describeIssues(issues, source), issues);
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
  const origins = new Map<string, string>();
  applyEnvOverrides(raw, opts.env ?? process.env, origins);
  if (opts.dataDir) {
    const node = (raw.node ??= {}) as Record<string, unknown>;
    node.data_dir = opts.dataDir;
  }
  return validateConfig(raw, opts.file ?? 'embedded defaults', origins);
}
