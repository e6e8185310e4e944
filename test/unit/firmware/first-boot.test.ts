// firmware-config/rootfs/usr/lib/outpost/first-boot.sh run against a temp rootfs (OUTPOST_ROOT):
// it names the node from the machine id, writes a parseable 0600 API key file, leaves existing
// names and keys alone, and disables its own unit (systemctl --root works offline).
import { spawnSync } from 'node:child_process';
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

function run(root: string) {
  return spawnSync('sh', [SCRIPT], { env: { ...process.env, OUTPOST_ROOT: root, OUTPOST_OWNER: owner }, encoding: 'utf8', timeout: 20_000 });
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
    expect(diff).toEqual([`name = "${nodeName(root)}"`]);
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

  it('refuses without a machine id and writes nothing', () => {
    const root = makeRoot({ machineId: 'uninitialized' });
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no machine id/);
    expect(existsSync(join(root, 'etc/outpost/api-keys'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/outpost/.first-boot-done'))).toBe(false);
  });
});
