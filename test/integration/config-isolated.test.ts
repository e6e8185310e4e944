// The daemon validates its config in a child process (src/config/isolated.ts) so the schema and zod
// stay out of it. What comes back must be what loadConfig gives in-process: the same frozen Config,
// and on a bad file the same ConfigError naming the key. Runs the built loader from dist/ (node
// cannot run the TypeScript sources).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deserialize } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type * as IsolatedModule from '../../src/config/isolated.js';
import type * as ResultModule from '../../src/config/result.js';
import { ROOT } from '../helpers/daemon.js';

const dist = (p: string) => pathToFileURL(join(ROOT, 'dist/src/config', p)).href;
const { loadConfigIsolated } = (await import(dist('isolated.js'))) as typeof IsolatedModule;
const { ConfigError } = (await import(dist('result.js'))) as typeof ResultModule;

const dir = mkdtempSync(join(tmpdir(), 'outpost-cfg-iso-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

const FULL = `
[mqtt]
bind = "127.0.0.1"
port = 0
max_conn_rate = "100/s"
shared_subscription_group = { g1 = "sticky" }

[[rewrite]]
action = "publish"
source_topic = "x/#"
re = "^x/(.+)$"
dest_topic = "y/$1"

[listeners.ws.default]
enable = true
port = 0

[gateway.mqttsn]
enable = true
predefined = [{ id = 1, topic = "pre/one" }]

[bridges.cloud]
servers = ["127.0.0.1:1"]
[[bridges.cloud.egress]]
filter = "sensors/#"
topic = "site/\${topic}"
`;

describe('config validated in a child process', () => {
  it('gives the same frozen config as loadConfig, env overrides and --data-dir included', async () => {
    const f = file('full.toml', FULL);
    const env = { OUTPOST_MQTT__MAX_INFLIGHT: '64', OUTPOST_STORE__SYNCHRONOUS: 'FULL', UNRELATED: 'x' };
    const got = await loadConfigIsolated({ file: f, env, dataDir: '/tmp/x' });
    expect(got).toEqual(loadConfig({ file: f, env, dataDir: '/tmp/x' }));
    expect(got.mqtt.max_inflight).toBe(64);
    expect(got.node.data_dir).toBe('/tmp/x');
    expect(Object.isFrozen(got)).toBe(true);
    expect(Object.isFrozen(got.bridges.cloud!.egress[0])).toBe(true);
    expect(Object.isFrozen(got.gateway.mqttsn.predefined)).toBe(true);
  });

  it('uses the embedded defaults without a file', async () => {
    expect(await loadConfigIsolated({ env: {} })).toEqual(loadConfig({ env: {} }));
  });

  it('rejects a bad key with a ConfigError that names it, as in-process', async () => {
    const f = file('bad.toml', '[mqtt]\nmax_inflight = -1\nprot = 1\n');
    const err = await loadConfigIsolated({ file: f, env: {} }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as InstanceType<typeof ConfigError>;
    expect(e.code).toBe('OUTPOST_ERR_CONFIG_INVALID');
    expect(e.message).toContain(f);
    expect(e.issues.map((i) => i.path).sort()).toEqual(['mqtt.max_inflight', 'mqtt.prot']);
    let inProcess: unknown;
    try {
      loadConfig({ file: f, env: {} });
    } catch (x) {
      inProcess = x;
    }
    expect(e.message).toBe((inProcess as Error).message);
  });

  it('rejects a bad env override, invalid TOML and a missing file', async () => {
    await expect(loadConfigIsolated({ env: { OUTPOST_MQTT__PORT: '70000' } })).rejects.toThrow(/mqtt\.port/);
    await expect(loadConfigIsolated({ file: file('broken.toml', '[mqtt\nport = 1'), env: {} })).rejects.toThrow(/invalid TOML/);
    await expect(loadConfigIsolated({ file: join(dir, 'missing.toml'), env: {} })).rejects.toThrow(/cannot read config file/);
  });

  // npm run build makes both (scripts/bundle.mjs); the daemon bundle next to them tries the snapshot first.
  const bundleDir = join(ROOT, 'dist/outpost');
  const snapshot = join(bundleDir, `load-child.${process.version}-${process.arch}.blob`);
  const loaders: Record<string, string[]> = {
    plain: [join(ROOT, 'dist/src/config/load-child.js')],
    bundle: [join(bundleDir, 'load-child.cjs')],
    snapshot: ['--snapshot-blob', snapshot],
  };
  const answer = (args: string[], input: string) =>
    deserialize(execFileSync(process.execPath, args, { input, timeout: 10_000 })) as unknown;

  it('the bundled and the snapshot loader answer exactly as the plain one', () => {
    expect(existsSync(loaders.bundle![0]!)).toBe(true);
    expect(existsSync(snapshot)).toBe(true);
    const input = JSON.stringify({ file: file('both.toml', FULL), dataDir: '/tmp/y', env: { OUTPOST_MQTT__MAX_INFLIGHT: '7' } });
    const plain = answer(loaders.plain!, input);
    expect(plain).toMatchObject({ ok: true, config: { mqtt: { max_inflight: 7 } } });
    expect(answer(loaders.bundle!, input)).toEqual(plain);
    expect(answer(loaders.snapshot!, input)).toEqual(plain);
    const badInput = JSON.stringify({ env: { OUTPOST_MQTT__PORT: '70000' } });
    const bad = answer(loaders.plain!, badInput);
    expect(bad).toMatchObject({ ok: false, kind: 'config' });
    expect(answer(loaders.bundle!, badInput)).toEqual(bad);
    expect(answer(loaders.snapshot!, badInput)).toEqual(bad);
  });

  it('falls back to the bundle, quietly, when this Node cannot read the snapshot', async () => {
    // A copy of the bundle directory's loader files, with a snapshot that no Node can read (as after an
    // upgrade of Node that kept the old build): the daemon's loader must still answer, and say nothing.
    const copy = mkdtempSync(join(tmpdir(), 'outpost-cfg-snap-'));
    try {
      cpSync(join(ROOT, 'dist/src/config'), copy, { recursive: true });
      cpSync(loaders.bundle![0]!, join(copy, 'load-child.cjs'));
      writeFileSync(join(copy, `load-child.${process.version}-${process.arch}.blob`), 'not a snapshot');
      const probe = `
        const { loadConfigIsolated } = await import(${JSON.stringify(pathToFileURL(join(copy, 'isolated.js')).href)});
        const c = await loadConfigIsolated({ env: { OUTPOST_MQTT__MAX_INFLIGHT: '9' } });
        process.stdout.write(String(c.mqtt.max_inflight));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 20_000 });
      expect(r.stdout).toBe('9');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
