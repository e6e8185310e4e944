// firmware-config/rootfs/usr/lib/outpost/first-boot.sh run against a temp rootfs (OUTPOST_ROOT):
// it names the node from the machine id, writes a parseable 0600 API key file, leaves existing
// names and keys alone, and disables its own unit (systemctl --root works offline).
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { parseApiKeyFile } from '../../../src/admin/credentials.js';
import { validateConfig } from '../../../src/config/load.js';

const FW = fileURLToPath(new URL('../../../firmware-config/', import.meta.url));
const SCRIPT = join(FW, 'rootfs/usr/lib/outpost/first-boot.sh');
const UNIT = 'outpost-first-boot.service';
const MACHINE_ID = '3d1219c7c4c5404aaa1f6d2a48adfda4';
const owner = `${process.getuid!()}:${process.getgid!()}`;

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function makeRoot(opts: { machineId?: string; config?: string } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'outpost-firstboot-'));
  roots.push(root);
  mkdirSync(join(root, 'etc/outpost'), { recursive: true });
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  writeFileSync(join(root, 'etc/outpost/outpost.toml'), opts.config ?? readFileSync(join(FW, 'outpost.toml'), 'utf8'), { mode: 0o640 });
  writeFileSync(join(root, 'etc/machine-id'), `${opts.machineId ?? MACHINE_ID}\n`);
  copyFileSync(join(FW, 'rootfs/etc/systemd/system', UNIT), join(root, 'etc/systemd/system', UNIT));
  return root;
}

/** The enable symlink points at /etc/... inside the root, so test the link itself. */
function linkExists(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function run(root: string, mode: 'prepare' | 'report' = 'prepare', env: NodeJS.ProcessEnv = {}) {
  return spawnSync('sh', [SCRIPT, mode], { env: { ...process.env, OUTPOST_ROOT: root, OUTPOST_OWNER: owner, ...env }, encoding: 'utf8', timeout: 20_000 });
}

function nodeName(root: string): string {
  return validateConfig(parse(readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8'))).node.name;
}

describe('first-boot.sh', () => {
  it('names the node outpost@<12 hex> from a hash of the machine id, not the id itself', () => {
    const root = makeRoot();
    const r = run(root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const name = nodeName(root);
    expect(name).toMatch(/^outpost@[0-9a-f]{12}$/);
    expect(MACHINE_ID).not.toContain(name.slice('outpost@'.length));
    // Same machine, same name; another machine, another name.
    const again = makeRoot();
    run(again);
    expect(nodeName(again)).toBe(name);
    const other = makeRoot({ machineId: 'aa'.repeat(16) });
    run(other);
    expect(nodeName(other)).not.toBe(name);
  });

  it('keeps the rest of the config byte for byte and its mode', () => {
    const root = makeRoot();
    const before = readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8');
    run(root);
    const after = readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8');
    const diff = after.split('\n').filter((l, i) => l !== before.split('\n')[i]);
    expect(diff).toEqual([
      `name = "${nodeName(root)}"`,
      'enable = true',
      'certfile = "/etc/outpost/certs/mqtt-server.crt"',
      'keyfile = "/etc/outpost/certs/mqtt-server.key"',
    ]);
    expect(statSync(join(root, 'etc/outpost/outpost.toml')).mode & 0o777).toBe(0o640);
  });

  it('writes a random administrator key file, mode 0600, that the API parses', () => {
    const a = makeRoot();
    const b = makeRoot();
    run(a);
    run(b);
    const file = join(a, 'etc/outpost/api-keys');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(`${statSync(file).uid}:${statSync(file).gid}`).toBe(owner);
    const keys = parseApiKeyFile(readFileSync(file, 'utf8'), file);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ key: 'outpost-admin', role: 'administrator' });
    expect(keys[0]!.secret).toMatch(/^[0-9a-f]{64}$/);
    const other = parseApiKeyFile(readFileSync(join(b, 'etc/outpost/api-keys'), 'utf8'));
    expect(other[0]!.secret).not.toBe(keys[0]!.secret);
  });

  it('disables its unit and leaves the stamp its unit conditions on', () => {
    const root = makeRoot();
    const wants = join(root, 'etc/systemd/system/multi-user.target.wants', UNIT);
    spawnSync('systemctl', [`--root=${root}`, 'enable', UNIT], { encoding: 'utf8' });
    expect(linkExists(wants)).toBe(true);
    run(root);
    expect(linkExists(wants)).toBe(false);
    expect(existsSync(join(root, 'var/lib/outpost/.first-boot-done'))).toBe(true);
    const unit = readFileSync(join(FW, 'rootfs/etc/systemd/system', UNIT), 'utf8');
    expect(unit).toMatch(/^ConditionPathExists=!\/var\/lib\/outpost\/\.first-boot-done$/m);
    expect(unit).toMatch(/^Before=outpost\.service$/m);
    expect(unit).toMatch(/^Type=oneshot$/m);
  });

  it('a second run changes nothing: name and key are kept', () => {
    const root = makeRoot();
    run(root);
    const config = readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8');
    const keys = readFileSync(join(root, 'etc/outpost/api-keys'), 'utf8');
    const r = run(root);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/keeping it/);
    expect(readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8')).toBe(config);
    expect(readFileSync(join(root, 'etc/outpost/api-keys'), 'utf8')).toBe(keys);
  });

  it('keeps a node name the user set, and adds [node] to a config without one', () => {
    const custom = makeRoot({ config: '[node]\nname = "edge7@site"\n\n[mqtt]\nport = 1883\n' });
    run(custom);
    expect(nodeName(custom)).toBe('edge7@site');
    const bare = makeRoot({ config: '[mqtt]\nport = 1883\n' });
    expect(run(bare).status).toBe(0);
    expect(nodeName(bare)).toMatch(/^outpost@[0-9a-f]{12}$/);
  });

  it('makes a P-256 certificate for the hostname, a 0600 key of the outpost user, and turns on the MQTT TLS listener', () => {
    const root = makeRoot();
    writeFileSync(join(root, 'etc/hostname'), 'edge7\n');
    const r = run(root);
    expect(r.status, r.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(join(root, 'etc/outpost/certs/mqtt-server.crt')));
    expect(cert.subject).toContain('CN=edge7');
    expect(cert.subjectAltName).toContain('DNS:edge7.local');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.ca).toBe(false);
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(9 * 365 * 86_400_000);
    const keyFile = join(root, 'etc/outpost/certs/mqtt-server.key');
    const key = createPrivateKey(readFileSync(keyFile));
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve]).toEqual(['ec', 'prime256v1']);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect([statSync(keyFile).mode & 0o777, `${statSync(keyFile).uid}:${statSync(keyFile).gid}`]).toEqual([0o600, owner]);
    const cfg = validateConfig(parse(readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8')));
    expect(cfg.listeners.ssl.default).toMatchObject({
      enable: true,
      ssl_options: { certfile: '/etc/outpost/certs/mqtt-server.crt', keyfile: '/etc/outpost/certs/mqtt-server.key' },
    });
    // Every box its own key.
    const other = makeRoot();
    run(other);
    expect(readFileSync(join(other, 'etc/outpost/certs/mqtt-server.key'), 'utf8')).not.toBe(readFileSync(keyFile, 'utf8'));
  });

  it('keeps a TLS listener configured by hand: no certificate is made', () => {
    const root = makeRoot({ config: '[listeners.ssl.default]\nenable = true\n\n[listeners.ssl.default.ssl_options]\ncertfile = "/etc/ssl/mine.crt"\nkeyfile = "/etc/ssl/mine.key"\n' });
    const r = run(root);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/listeners\.ssl\.default is configured .*; keeping it/);
    expect(existsSync(join(root, 'etc/outpost/certs/mqtt-server.crt'))).toBe(false);
    expect(readFileSync(join(root, 'etc/outpost/outpost.toml'), 'utf8')).toContain('certfile = "/etc/ssl/mine.crt"');
  });

  it('report: shows the password the daemon generated and the certificate once, on the console, the login prompt and the boot partition', () => {
    const root = makeRoot();
    run(root);
    // What the daemon's first start writes (src/admin/first-run.ts) before it reports READY.
    writeFileSync(join(root, 'var/lib/outpost/initial-admin-password'), 'Zq3kV0m1s8Qx2bF4\n', { mode: 0o600 });
    mkdirSync(join(root, 'boot/firmware'), { recursive: true });
    const report = join(FW, 'rootfs/etc/systemd/system/outpost-first-boot-report.service');
    copyFileSync(report, join(root, 'etc/systemd/system/outpost-first-boot-report.service'));
    spawnSync('systemctl', [`--root=${root}`, 'enable', 'outpost-first-boot-report.service'], { encoding: 'utf8' });
    const consoleFile = join(root, 'console.txt');
    const r = run(root, 'report', { OUTPOST_CONSOLE: consoleFile, OUTPOST_REPORT_WAIT: '1' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const fp = new X509Certificate(readFileSync(join(root, 'etc/outpost/certs/mqtt-server.crt'))).fingerprint256;
    const shown = readFileSync(consoleFile, 'utf8');
    expect(shown).toContain('user:     admin');
    expect(shown).toContain('password: Zq3kV0m1s8Qx2bF4');
    expect(shown).toContain(`SHA-256 fingerprint: ${fp}`);
    const onBoot = join(root, 'boot/firmware/outpost-first-boot.txt');
    expect(readFileSync(onBoot, 'utf8').trim()).toBe(shown.trim());
    expect(statSync(onBoot).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'boot/firmware/outpost-mqtt-server.crt'), 'utf8')).toBe(readFileSync(join(root, 'etc/outpost/certs/mqtt-server.crt'), 'utf8'));
    expect(readFileSync(join(root, 'etc/issue.d/outpost-first-boot.issue'), 'utf8')).toContain('password: Zq3kV0m1s8Qx2bF4');
    expect(linkExists(join(root, 'etc/systemd/system/multi-user.target.wants/outpost-first-boot-report.service'))).toBe(false);

    // Once: a second run writes nothing, even after the file on the boot partition was deleted.
    rmSync(consoleFile);
    rmSync(onBoot);
    const again = run(root, 'report', { OUTPOST_CONSOLE: consoleFile });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/already reported; nothing to do/);
    expect(existsSync(consoleFile)).toBe(false);
    expect(existsSync(onBoot)).toBe(false);
  });

  it('report: says why when the daemon made no password (API off or start failed), after a bounded wait', () => {
    const root = makeRoot();
    run(root);
    const consoleFile = join(root, 'console.txt');
    const t0 = Date.now();
    const r = run(root, 'report', { OUTPOST_CONSOLE: consoleFile, OUTPOST_REPORT_WAIT: '1' });
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(readFileSync(consoleFile, 'utf8')).toMatch(/no password was generated: is \[api\] enable = false, or did outpost.service fail/);
    expect(existsSync(join(root, 'boot'))).toBe(false); // no boot partition on this system: no file
  });

  it('units: first boot before outpost.service, the report after it; the prompt text is removed at the next boot', () => {
    const prep = readFileSync(join(FW, 'rootfs/etc/systemd/system', UNIT), 'utf8');
    expect(prep).toMatch(/^Before=outpost\.service$/m);
    expect(prep).toMatch(/^ExecStart=\/usr\/lib\/outpost\/first-boot\.sh prepare$/m);
    const report = readFileSync(join(FW, 'rootfs/etc/systemd/system/outpost-first-boot-report.service'), 'utf8');
    expect(report).toMatch(/^After=outpost\.service outpost-first-boot\.service$/m);
    expect(report).toMatch(/^ConditionPathExists=!\/var\/lib\/outpost\/\.first-boot-reported$/m);
    expect(report).toMatch(/^ExecStart=\/usr\/lib\/outpost\/first-boot\.sh report$/m);
    expect(readFileSync(join(FW, 'rootfs/usr/lib/tmpfiles.d/outpost-first-boot.conf'), 'utf8')).toMatch(/^r \/etc\/issue\.d\/outpost-first-boot\.issue$/m);
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', join(FW, 'rootfs/etc/systemd/system/outpost-first-boot-report.service')], { encoding: 'utf8' });
    expect(verify.stderr.split('\n').filter((l) => l && !/first-boot\.sh|outpost\.service|Cannot add dependency/.test(l))).toEqual([]);
  });

  it('refuses without a machine id and writes nothing', () => {
    const root = makeRoot({ machineId: 'uninitialized' });
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no machine id/);
    expect(existsSync(join(root, 'etc/outpost/api-keys'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/outpost/.first-boot-done'))).toBe(false);
  });
});
