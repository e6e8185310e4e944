// scripts/install.sh --no-build --destdir <tmp>: the installed tree is complete and runs in place.
// The installed `outpost` validates the installed config and actually starts on it (so the pruned
// production node_modules are enough), the installed unit passes `systemd-analyze verify --root`,
// a re-install keeps an edited config, and scripts/uninstall.sh keeps data unless --purge.
// Needs `npm run build` first, as every integration test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'outpost-install-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  rmSync(dest, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OUTPOST_')));
}
function sh(cmd: string, args: string[]) {
  return spawnSync(cmd, args, { cwd: REPO, env: env(), encoding: 'utf8', timeout: 60_000 });
}
const at = (p: string) => join(dest, p);
const mode = (p: string) => statSync(at(p)).mode & 0o777;

/** Every file and symlink under dir, relative, not descending into node_modules. */
function files(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() && e.name !== 'node_modules' ? files(dir, p) : [p];
  });
}

let first: ReturnType<typeof sh>;
let installed: string[] = [];
beforeAll(() => {
  first = sh(join(REPO, 'scripts/install.sh'), ['--no-build', '--destdir', dest]);
  installed = files(dest);
}, 60_000);

describe('scripts/install.sh --destdir', () => {
  it('succeeds and says nothing was enabled', () => {
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/installed into .* \(nothing enabled or started\)/);
  });

  it('lays out the app, commands, units, sysusers, tmpfiles, udev rules and first boot', () => {
    for (const f of ['opt/outpost/package.json', 'opt/outpost/package-lock.json', 'opt/outpost/dist/src/runtime/main.js', 'opt/outpost/outpost.toml.default']) {
      expect(existsSync(at(f)), f).toBe(true);
    }
    expect(mode('opt/outpost/bin/outpost.js')).toBe(0o755);
    // Pairing on the box renders the sensor templates with the installed renderer.
    const examples = JSON.parse(readFileSync(join(REPO, 'firmware-config/templates/example-values.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(at('values.json'), JSON.stringify(examples['mqttsn-sensor.h.tmpl']));
    const rendered = spawnSync(process.execPath, [at('opt/outpost/scripts/render-template.mjs'), at('opt/outpost/firmware-config/templates/mqttsn-sensor.h.tmpl'), '--values', at('values.json')], { encoding: 'utf8' });
    expect(rendered.stderr).toBe('');
    expect(rendered.stdout).toMatch(/^#define OUTPOST_TOPIC_ID_PUBLISH\s+101$/m);
    rmSync(at('values.json'));
    expect(mode('usr/bin/outpost')).toBe(0o755);
    expect(mode('usr/bin/outpostctl')).toBe(0o755);
    expect(readFileSync(at('usr/lib/systemd/system/outpost.service'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/outpost.service'), 'utf8'));
    expect(readFileSync(at('usr/lib/sysusers.d/outpost.conf'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/outpost.sysusers.conf'), 'utf8'));
    expect(existsSync(at('etc/systemd/system/outpost-first-boot.service'))).toBe(true);
    expect(readFileSync(at('usr/lib/tmpfiles.d/outpost.conf'), 'utf8')).toMatch(/^d \/etc\/outpost 0750 root outpost -$/m);
    expect(readFileSync(at('etc/udev/rules.d/99-outpost-serial.rules'), 'utf8')).toMatch(/GROUP="dialout"/);
    expect(existsSync(at('etc/outpost/README'))).toBe(true);
    expect(mode('etc/outpost/certs')).toBe(0o750);
    // The wrappers run the node that passed the version check, by absolute path.
    expect(readFileSync(at('usr/bin/outpost'), 'utf8')).toMatch(/^exec "\/[^"]*node" "\$\(dirname "\$self"\)\/\.\.\/\.\.\/opt\/outpost\/bin\/outpost\.js" "\$@"$/m);
    expect(mode('usr/lib/outpost/first-boot.sh')).toBe(0o755);
    expect(readFileSync(at('etc/outpost/outpost.toml'), 'utf8')).toBe(readFileSync(join(REPO, 'firmware-config/outpost.toml'), 'utf8'));
    expect(mode('etc/outpost/outpost.toml')).toBe(0o640);
    expect(mode('etc/outpost')).toBe(0o750);
  });

  it('installs production dependencies only, as real directories', () => {
    const nm = at('opt/outpost/node_modules');
    expect(lstatSync(nm).isSymbolicLink()).toBe(false);
    const names = readdirSync(nm);
    for (const dep of ['better-sqlite3', 'fastify', 'mqtt', 'zod', 'smol-toml', 'pino', 'commander']) expect(names, dep).toContain(dep);
    for (const dev of ['vitest', 'typescript', 'aedes', '@vitest']) expect(names, dev).not.toContain(dev);
    // mqtt needs some @types at runtime (lockfile), but the devDependency @types/better-sqlite3 goes.
    expect(existsSync(join(nm, '@types/better-sqlite3'))).toBe(false);
  });

  it('the installed outpost check-config accepts the installed config', () => {
    const cfg = at('etc/outpost/outpost.toml');
    const r = spawnSync(at('usr/bin/outpost'), ['check-config', cfg], { env: env(), encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`${cfg}: ok`);
    expect(r.status).toBe(0);
    const bad = spawnSync(at('usr/bin/outpost'), ['check-config', at('etc/outpost/README')], { env: env(), encoding: 'utf8', timeout: 20_000 });
    expect(bad.status).toBe(1);
  });

  it('the installed outpost starts on the installed config (ports moved to 0) and serves MQTT, CoAP and MQTT-SN', async () => {
    const config = parse(readFileSync(at('etc/outpost/outpost.toml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const keys = at('api-keys');
    writeFileSync(keys, 'test-admin:0123456789abcdef:administrator\n', { mode: 0o600 });
    const data = at('var/lib/outpost');
    config['node'] = { ...config['node'], data_dir: data };
    config['mqtt'] = { ...config['mqtt'], bind: '127.0.0.1', port: 0 };
    config['api'] = { ...config['api'], port: 0, api_key_bootstrap_file: keys };
    const gw = config['gateway'] as Record<string, Record<string, unknown>>;
    gw['coap'] = { ...gw['coap'], listeners: { udp: { default: { bind: '127.0.0.1', port: 0 } } } };
    gw['mqttsn'] = { ...gw['mqttsn'], listeners: { udp: { default: { bind: '127.0.0.1', port: 0 } } } };
    const runConfig = at('run.toml');
    writeFileSync(runConfig, stringify(config));

    const child = spawn(at('usr/bin/outpost'), ['--config', runConfig, '--data-dir', data], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    const runtime = join(data, 'runtime.json');
    for (let i = 0; i < 200 && !existsSync(runtime) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(runtime), logs).toBe(true);
    const { pid, listeners } = JSON.parse(readFileSync(runtime, 'utf8')) as { pid: number; listeners: Record<string, number> };
    expect(pid).toBe(child.pid);
    const ids = Object.keys(listeners);
    expect(ids).toContain('mqtt:tcp');
    expect(ids).toContain('api:http');
    expect(ids.some((id) => id.startsWith('coap:'))).toBe(true);
    expect(ids.some((id) => id.startsWith('mqttsn:'))).toBe(true);
    // The store is the FULL-synchronous SQLite file under the data dir.
    expect(existsSync(join(data, 'outpost.db'))).toBe(true);

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${listeners['mqtt:tcp']}`, { clientId: 'install-test', reconnectPeriod: 0 });
    const got = new Promise<string>((resolve) => client.on('message', (_t, p) => resolve(p.toString())));
    await client.subscribeAsync('install/check', { qos: 1 });
    await client.publishAsync('install/check', 'hello', { qos: 1 });
    expect(await got).toBe('hello');
    await client.endAsync();

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
  });

  it('the installed units pass systemd-analyze verify --root with no output', () => {
    // verify --root resolves everything inside the root: give it the host's stock units (for
    // sysinit.target and friends) under usr/local, and /bin/kill for ExecReload.
    cpSync('/usr/lib/systemd/system', at('usr/local/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    copyFileSync(existsSync('/usr/bin/kill') ? '/usr/bin/kill' : '/bin/kill', at('usr/bin/kill'));
    chmodSync(at('usr/bin/kill'), 0o755);
    if (!existsSync(at('bin'))) symlinkSync('usr/bin', at('bin'));
    const r = sh('systemd-analyze', ['verify', '--man=no', `--root=${dest}`, 'outpost.service', 'outpost-first-boot.service']);
    if (r.error) throw new Error(`systemd-analyze not runnable: ${r.error.message}`);
    expect((r.stdout + r.stderr).trim()).toBe('');
    expect(r.status).toBe(0);
    // The check is real: without the installed /usr/bin/outpost it complains.
    const wrapper = readFileSync(at('usr/bin/outpost'));
    rmSync(at('usr/bin/outpost'));
    const broken = sh('systemd-analyze', ['verify', '--man=no', `--root=${dest}`, 'outpost.service']);
    writeFileSync(at('usr/bin/outpost'), wrapper, { mode: 0o755 });
    expect(broken.stdout + broken.stderr).toMatch(/\/usr\/bin\/outpost is not executable/);
  });

  it('a second install upgrades the app but keeps an edited config', () => {
    const cfg = at('etc/outpost/outpost.toml');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\n# edited on the box\n`);
    writeFileSync(at('opt/outpost/dist/stale.js'), '');
    const r = sh(join(REPO, 'scripts/install.sh'), ['--no-build', '--destdir', dest]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/keeping the existing \/etc\/outpost\/outpost\.toml/);
    expect(readFileSync(cfg, 'utf8')).toMatch(/# edited on the box\n$/);
    expect(existsSync(at('opt/outpost/dist/stale.js'))).toBe(false);
    expect(readdirSync(at('opt')).sort()).toEqual(['outpost']);
  });

  it('uninstall removes the app but keeps config and data; --purge removes them too', () => {
    const r = sh(join(REPO, 'scripts/uninstall.sh'), ['--destdir', dest]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['opt/outpost', 'usr/bin/outpost', 'usr/bin/outpostctl', 'usr/lib/systemd/system/outpost.service', 'etc/systemd/system/outpost-first-boot.service', 'etc/udev/rules.d/99-outpost-serial.rules', 'usr/lib/sysusers.d/outpost.conf', 'usr/lib/tmpfiles.d/outpost.conf', 'usr/lib/outpost']) {
      expect(existsSync(at(f)), f).toBe(false);
    }
    expect(existsSync(at('etc/outpost/outpost.toml'))).toBe(true);
    expect(existsSync(at('var/lib/outpost/outpost.db'))).toBe(true);
    // Of what install created, only the config directory is left.
    const left = new Set(files(dest));
    expect(installed.length).toBeGreaterThan(10);
    expect(installed.filter((f) => left.has(f) && !f.startsWith('etc/outpost/'))).toEqual([]);
    const p = sh(join(REPO, 'scripts/uninstall.sh'), ['--destdir', dest, '--purge']);
    expect(p.status, p.stderr).toBe(0);
    expect(existsSync(at('etc/outpost'))).toBe(false);
    expect(existsSync(at('var/lib/outpost'))).toBe(false);
  });

  it('refuses an unknown option', () => {
    const r = sh(join(REPO, 'scripts/install.sh'), ['--destdir', dest, '--bogus']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown option --bogus/);
  });
});
