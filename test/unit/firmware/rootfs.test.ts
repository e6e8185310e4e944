// The rootfs overlay: the udev rules for serial radios and the tmpfiles snippet that makes
// /etc/outpost readable to the daemon but keeps the API key file private. tmpfiles and sysusers
// run for real against a temp root (--root), as the image build does.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ROOTFS = join(REPO, 'firmware-config/rootfs');
const RULES = readFileSync(join(ROOTFS, 'etc/udev/rules.d/99-outpost-serial.rules'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'outpost-rootfs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One udev rule: comma-separated KEY[{attr}] OP "value" (udev(7)). */
const TOKEN = /^\s*([A-Z_]+)(\{[^}]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*$/;
const rules = RULES.split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => l.split(/,(?=\s*[A-Z_]+(?:\{[^}]*\})?\s*(?:==|!=|\+=|-=|:=|=)\s*")/).map((t) => TOKEN.exec(t)));

describe('99-outpost-serial.rules', () => {
  it('every line is well-formed udev syntax', () => {
    expect(rules.length).toBeGreaterThan(5);
    for (const tokens of rules) for (const t of tokens) expect(t, JSON.stringify(tokens)).not.toBeNull();
  });

  it('matches FTDI, CP210x and CH340 by USB vendor id', () => {
    const vendors = rules.flatMap((r) => r.filter((t) => t![1] === 'ATTRS' && t![2] === '{idVendor}').map((t) => t![4]));
    expect(vendors.sort()).toEqual(['0403', '10c4', '1a86']);
    const ftdi = rules.find((r) => r.some((t) => t![4] === '0403'))!;
    expect(ftdi.find((t) => t![2] === '{idProduct}')![4]).toContain('6001');
  });

  it('only touches tty devices of known radios, gives them group dialout 0660 and outpost-radio* links', () => {
    expect(RULES).toMatch(/^SUBSYSTEM!="tty", GOTO="outpost_serial_end"$/m);
    expect(RULES).toMatch(/^ENV\{OUTPOST_RADIO\}!="\?\*", GOTO="outpost_serial_end"$/m);
    expect(RULES).toMatch(/^LABEL="outpost_serial_end"$/m);
    expect(RULES).toMatch(/^GROUP="dialout", MODE="0660"$/m);
    const links = rules.flatMap((r) => r.filter((t) => t![1] === 'SYMLINK').map((t) => t![4]));
    expect(links).toEqual(['outpost-radio-$env{OUTPOST_RADIO}-$env{ID_SERIAL_SHORT}', 'outpost-radio-port-$env{ID_PATH_TAG}', 'outpost-radio%n']);
    // GOTO targets exist.
    for (const r of rules) for (const t of r) if (t![1] === 'GOTO') expect(RULES).toContain(`LABEL="${t![4]}"`);
  });
});

describe('tmpfiles.d/outpost.conf with sysusers (systemd-tmpfiles --root)', () => {
  it('creates /etc/outpost root:outpost 0750 and /var/lib/outpost outpost 0750, and locks down api-keys', () => {
    const root = join(tmp, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
    const su = spawnSync('systemd-sysusers', [`--root=${root}`, join(REPO, 'systemd/outpost.sysusers.conf')], { encoding: 'utf8' });
    expect(su.status, su.stderr).toBe(0);
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
    const m = /^outpost:x:(\d+):(\d+):/m.exec(passwd);
    expect(m).not.toBeNull();
    const [uid, gid] = [Number(m![1]), Number(m![2])];
    expect(readFileSync(join(root, 'etc/group'), 'utf8')).toMatch(/^dialout:x:20:outpost$/m);

    mkdirSync(join(root, 'etc/outpost'), { recursive: true });
    writeFileSync(join(root, 'etc/outpost/outpost.toml'), '', { mode: 0o644 });
    writeFileSync(join(root, 'etc/outpost/api-keys'), 'k:s\n', { mode: 0o644 });
    const tf = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', join(ROOTFS, 'usr/lib/tmpfiles.d/outpost.conf')], { encoding: 'utf8' });
    expect(tf.stderr).toBe('');
    expect(tf.status).toBe(0);
    const st = (p: string) => statSync(join(root, p));
    expect([st('etc/outpost').mode & 0o777, st('etc/outpost').uid, st('etc/outpost').gid]).toEqual([0o750, 0, gid]);
    expect([st('etc/outpost/outpost.toml').mode & 0o777, st('etc/outpost/outpost.toml').gid]).toEqual([0o640, gid]);
    expect([st('etc/outpost/api-keys').mode & 0o777, st('etc/outpost/api-keys').uid]).toEqual([0o600, uid]);
    expect([st('var/lib/outpost').mode & 0o777, st('var/lib/outpost').uid]).toEqual([0o750, uid]);
  });
});
