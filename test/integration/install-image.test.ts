// firmware-config/image/build.sh, the parts that run offline and fast: option handling, the
// "configure" step (fstab, journald, network, first-boot units, empty machine-id) and the
// "assemble" step (partition table and filesystems made without mounting) on a tiny stand-in
// rootfs, then the image's first boot run against that rootfs. The network steps (debootstrap and
// apt under qemu) take many minutes: scripts/image-nspawn-check.sh covers them, by hand.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = join(REPO, 'firmware-config/image/build.sh');
const work = mkdtempSync(join(tmpdir(), 'outpost-image-'));
const root = join(work, 'root');
const image = join(work, 'outpost.img');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OUTPOST_')));
const run = (cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, { cwd: work, env: { ...env, TMPDIR: work, ...extra }, encoding: 'utf8', timeout: 60_000 });
const at = (p: string) => join(root, p);
const linkTarget = (p: string) => (lstatSync(at(p), { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(at(p)) : null);
const PACKAGE_TMPFILES = '# the package\'s own tmpfiles snippet\nd /var/lib/outpost 0750 outpost outpost -\n';

/** What debootstrap + apt leave that the configure step reads: a dpkg status, the package's files. */
function standInRootfs(dir: string): void {
  for (const d of ['etc/outpost', 'boot/firmware', 'usr/lib/systemd/system', 'usr/lib/sysusers.d', 'usr/lib/tmpfiles.d', 'var/lib/dpkg/info', 'var/lib/outpost']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  writeFileSync(join(dir, 'etc/os-release'), 'ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n');
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
  // The build host's id, which must not stay in the image.
  writeFileSync(join(dir, 'etc/machine-id'), '3d1219c7c4c5404aaa1f6d2a48adfda4\n');
  writeFileSync(join(dir, 'etc/outpost/outpost.toml'), readFileSync(join(REPO, 'firmware-config/outpost.toml')));
  writeFileSync(join(dir, 'usr/lib/systemd/system/outpost.service'), readFileSync(join(REPO, 'systemd/outpost.service')));
  writeFileSync(join(dir, 'usr/lib/systemd/system/systemd-networkd.service'), '[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n');
  writeFileSync(join(dir, 'usr/lib/sysusers.d/outpost.conf'), readFileSync(join(REPO, 'systemd/outpost.sysusers.conf')));
  // A file the package ships: the overlay must not overwrite it.
  writeFileSync(join(dir, 'usr/lib/tmpfiles.d/outpost.conf'), PACKAGE_TMPFILES);
  writeFileSync(join(dir, 'var/lib/dpkg/info/outpost.list'), '/usr/lib/tmpfiles.d/outpost.conf\n/usr/lib/systemd/system/outpost.service\n/usr/lib/udev/rules.d/99-outpost-serial.rules\n');
  // What raspi-firmware writes to the boot partition.
  writeFileSync(join(dir, 'boot/firmware/config.txt'), 'arm_64bit=1\nkernel=vmlinuz-6.12.0-arm64\n');
  writeFileSync(join(dir, 'boot/firmware/cmdline.txt'), 'console=tty1 root=LABEL=outpost-root rw fsck.repair=yes rootwait\n');
  mkdirSync(join(dir, 'boot/firmware/overlays'));
  writeFileSync(join(dir, 'boot/firmware/overlays/README'), 'overlays\n');
  writeFileSync(join(dir, 'var/lib/outpost/on-data-partition'), 'x\n');
}

/** The partitions of the image as sfdisk --json reports them, in sectors. */
interface Part {
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
}
const partition = (n: number, p: Part) => {
  const out = join(work, `p${n}`);
  expect(run('dd', [`if=${image}`, `of=${out}`, 'bs=512', `skip=${p.start}`, `count=${p.size}`, 'status=none']).status).toBe(0);
  return out;
};

let build: ReturnType<typeof run>;
let parts: Part[];
beforeAll(() => {
  standInRootfs(root);
  build = run(BUILD, ['--steps', 'configure,assemble', '--rootfs', root, '--out', image, '--size', '160M', '--boot-size', '40M', '--data-size', '24M', '--hostname', 'edge7']);
  const dump = run('sfdisk', ['--json', image]);
  parts = dump.status === 0 ? (JSON.parse(dump.stdout) as { partitiontable: { partitions: Part[] } }).partitiontable.partitions : [];
}, 60_000);

describe('build.sh options', () => {
  const fails = (args: string[], message: RegExp) => {
    const r = run(BUILD, args);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(1);
  };

  it('--help lists the options', () => {
    const r = run(BUILD, ['--help']);
    expect(r.status).toBe(0);
    for (const o of ['--deb FILE', '--arch ARCH', '--out FILE', '--suite SUITE', '--mirror URL', '--size SIZE', '--keep-rootfs DIR', '--steps LIST', '--xz']) expect(r.stdout).toContain(o);
  });

  it('refuses what it cannot build, before touching anything', () => {
    fails(['--frobnicate'], /unknown option --frobnicate/);
    fails(['--out', 'x.img'], /--deb FILE is required \(scripts\/build-deb\.sh arm64 makes it\)/);
    fails(['--deb', join(work, 'none.deb'), '--out', 'x.img'], /no such file: .*none\.deb/);
    fails(['--deb', BUILD, '--out', 'x.img'], /is not a Debian package/);
    fails(['--arch', 'riscv64', '--deb', 'x.deb'], /--arch must be arm64 or armhf \(got riscv64\)/);
    fails(['--size', '2T'], /bad size 2T/);
    fails(['--size', '560M'], /--size 560M leaves 44M for the root partition: make it bigger/);
    fails(['--boot-size', '16M'], /--boot-size must be at least 32M/);
    fails(['--hostname', 'Edge_7'], /--hostname must be letters a-z, digits and -/);
    fails(['--steps', 'configure,flash'], /unknown step flash/);
    fails(['--steps', 'configure'], /--rootfs DIR is required without the bootstrap step/);
    fails(['--steps', 'assemble', '--rootfs', work], /--out FILE is required/);
    mkdirSync(join(work, 'empty'));
    fails(['--steps', 'configure', '--rootfs', join(work, 'empty')], /no etc\/os-release: not a root filesystem/);
  });

  it('checks the package is for the image\'s architecture', () => {
    const pkg = join(work, 'pkg');
    mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
    writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: outpost\nVersion: 0.1.0-1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: stand-in\n');
    expect(run('dpkg-deb', ['--root-owner-group', '-b', pkg, join(work, 'outpost_amd64.deb')]).status).toBe(0);
    fails(['--deb', join(work, 'outpost_amd64.deb'), '--arch', 'arm64', '--out', 'x.img'], /outpost_amd64\.deb is for amd64, not arm64/);
  });
});

describe('build.sh --steps configure,assemble on a stand-in rootfs', () => {
  it('succeeds', () => {
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    expect(build.stdout).toMatch(/assemble .*outpost\.img: 40M boot, 92M root, 24M data/);
  });

  it('fstab mounts root, boot and data by label; the boot partition root-only', () => {
    const rows = readFileSync(at('etc/fstab'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/));
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['LABEL=outpost-root', '/', 'ext4'],
      ['LABEL=OUTPOSTBOOT', '/boot/firmware', 'vfat'],
      ['LABEL=outpost-data', '/var/lib/outpost', 'ext4'],
    ]);
    expect(rows[1]![3]).toContain('fmask=0077,dmask=0077');
    for (const r of rows) expect(r[3]).toContain('noatime');
    expect(readFileSync(at('etc/systemd/system/outpost.service.d/50-image.conf'), 'utf8')).toMatch(/^RequiresMountsFor=\/var\/lib\/outpost$/m);
  });

  it('journald: persistent, capped at 32M, synced every 15 minutes', () => {
    const conf = readFileSync(at('etc/systemd/journald.conf.d/50-outpost-sdcard.conf'), 'utf8');
    const keys = Object.fromEntries(conf.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => l.split('=') as [string, string]));
    expect(keys).toMatchObject({ Storage: 'persistent', SystemMaxUse: '32M', RuntimeMaxUse: '16M', SyncIntervalSec: '15m' });
    expect(conf).toMatch(/^\[Journal\]$/m);
  });

  it('hostname, DHCP on the wired port, raspi-firmware boot settings', () => {
    expect(readFileSync(at('etc/hostname'), 'utf8')).toBe('edge7\n');
    expect(readFileSync(at('etc/hosts'), 'utf8')).toMatch(/^127\.0\.1\.1\tedge7$/m);
    const net = readFileSync(at('etc/systemd/network/10-outpost-wired.network'), 'utf8');
    expect(net).toMatch(/^\[Match\]\nType=ether$/m);
    expect(net).toMatch(/^DHCP=yes$/m);
    const raspi = readFileSync(at('etc/default/raspi-firmware'), 'utf8');
    expect(raspi).toMatch(/^ROOTPART=LABEL=outpost-root$/m);
    expect(raspi).toMatch(/^CONSOLES="serial0,115200 tty1"$/m);
    expect(raspi).toMatch(/^KERNEL_ARCH=arm64$/m);
  });

  it('enables Outpost, both first-boot units and networkd; empties machine-id; keeps the package\'s own files', () => {
    for (const [u, dir] of [['outpost.service', 'usr/lib'], ['outpost-first-boot.service', 'etc'], ['outpost-first-boot-report.service', 'etc'], ['systemd-networkd.service', 'usr/lib']]) {
      expect(linkTarget(`etc/systemd/system/multi-user.target.wants/${u}`), u).toBe(`/${dir}/systemd/system/${u}`);
    }
    expect(readFileSync(at('etc/machine-id'), 'utf8')).toBe('');
    expect(readFileSync(at('usr/lib/tmpfiles.d/outpost.conf'), 'utf8')).toBe(PACKAGE_TMPFILES);
    // The package's udev rules in /usr/lib: no second copy in /etc.
    expect(existsSync(at('etc/udev/rules.d/99-outpost-serial.rules'))).toBe(false);
    expect(existsSync(at('usr/lib/tmpfiles.d/outpost-first-boot.conf'))).toBe(true);
    expect(statSync(at('usr/lib/outpost/first-boot.sh')).mode & 0o111).not.toBe(0);
    expect(readFileSync(at('etc/passwd'), 'utf8')).toMatch(/^outpost:x:\d+:\d+:/m);
  });

  it('writes an MBR image: bootable FAT boot, ext4 root, ext4 data, 1 MiB aligned', () => {
    expect(parts.map((p) => [p.start, p.size, p.type, p.bootable ?? false])).toEqual([
      [8192, 40 * 2048, 'c', true],
      [8192 + 40 * 2048, 92 * 2048, '83', false],
      [8192 + 132 * 2048, 24 * 2048, '83', false],
    ]);
    expect(statSync(image).size).toBe(160 * 1024 * 1024);
    expect(run('file', ['-b', image]).stdout).toMatch(/^DOS\/MBR boot sector; partition 1 : ID=0xc, active/);
  });

  it('each filesystem is clean and holds its part of the rootfs', () => {
    const [boot, rootPart, data] = parts.map((p, i) => partition(i + 1, p));
    expect(run('file', ['-b', boot!]).stdout).toMatch(/FAT \((16|32) bit\)/);
    expect(run('file', ['-b', boot!]).stdout).toContain('label: "OUTPOSTBOOT"');
    expect(run('fsck.vfat', ['-n', boot!]).status).toBe(0);
    const dir = run('mdir', ['-b', '-i', boot!, '::/']);
    expect(dir.stdout.split('\n').filter(Boolean).sort()).toEqual(['::/cmdline.txt', '::/config.txt', '::/overlays/']);
    expect(run('mtype', ['-i', boot!, '::/cmdline.txt']).stdout).toContain('root=LABEL=outpost-root');

    for (const [fs, label] of [[rootPart!, 'outpost-root'], [data!, 'outpost-data']] as const) {
      expect(run('file', ['-b', fs]).stdout).toMatch(new RegExp(`^Linux rev 1\\.0 ext4 filesystem data, .*volume name "${label}"`));
      const fsck = run('e2fsck', ['-fn', fs]);
      expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    }
    const debugfs = (fs: string, cmd: string) => run('debugfs', ['-R', cmd, fs]).stdout;
    expect(debugfs(rootPart!, 'cat /etc/fstab')).toBe(readFileSync(at('etc/fstab'), 'utf8'));
    expect(debugfs(rootPart!, 'cat /etc/machine-id')).toBe('');
    // Mount points only: their contents live on the other two partitions.
    expect(debugfs(rootPart!, 'ls /boot/firmware')).not.toContain('config.txt');
    expect(debugfs(rootPart!, 'ls /var/lib/outpost')).not.toContain('on-data-partition');
    expect(debugfs(data!, 'cat /on-data-partition')).toBe('x\n');
    // The data partition's top directory is /var/lib/outpost: the outpost user's, 0750.
    const top = debugfs(data!, 'stat /');
    const uid = /^outpost:x:(\d+):/m.exec(readFileSync(at('etc/passwd'), 'utf8'))![1];
    expect(top).toMatch(/Mode: +0750/);
    expect(top).toMatch(new RegExp(`User: +${uid} `));
  });

  it('leaves the rootfs directory as it was (assemble moves parts aside and back)', () => {
    expect(readFileSync(at('boot/firmware/config.txt'), 'utf8')).toContain('arm_64bit=1');
    expect(existsSync(at('var/lib/outpost/on-data-partition'))).toBe(true);
  });

  it('the image\'s first boot: node name, key, TLS certificate; then the report of the daemon\'s password; once', () => {
    writeFileSync(at('etc/machine-id'), 'aa'.repeat(16) + '\n'); // what systemd writes at boot
    const [, uid, gid] = /^outpost:x:(\d+):(\d+):/m.exec(readFileSync(at('etc/passwd'), 'utf8'))!;
    const fb = (mode: string, extra: NodeJS.ProcessEnv = {}) =>
      run('sh', [at('usr/lib/outpost/first-boot.sh'), mode], { OUTPOST_ROOT: root, OUTPOST_OWNER: `${uid}:${gid}`, ...extra });
    const r = fb('prepare');
    expect(r.status, r.stderr).toBe(0);
    const cfg = validateConfig(parse(readFileSync(at('etc/outpost/outpost.toml'), 'utf8')));
    expect(cfg.node.name).toMatch(/^outpost@[0-9a-f]{12}$/);
    expect(cfg.listeners.ssl.default.enable).toBe(true);
    const cert = new X509Certificate(readFileSync(at('etc/outpost/certs/mqtt-server.crt')));
    expect(cert.subject).toContain('CN=edge7');
    expect(statSync(at('etc/outpost/api-keys')).uid).toBe(Number(uid));
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost-first-boot.service')).toBeNull();

    writeFileSync(at('var/lib/outpost/initial-admin-password'), 'k3yFromTheDaemon\n');
    const shown = join(work, 'console');
    expect(fb('report', { OUTPOST_CONSOLE: shown, OUTPOST_REPORT_WAIT: '1' }).status).toBe(0);
    const text = readFileSync(at('boot/firmware/outpost-first-boot.txt'), 'utf8');
    expect(text).toContain('password: k3yFromTheDaemon');
    expect(text).toContain(cert.fingerprint256);
    expect(readFileSync(shown, 'utf8').trim()).toBe(text.trim());
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost-first-boot-report.service')).toBeNull();
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost.service')).not.toBeNull();

    // Rerun: both steps keep everything.
    const before = [readFileSync(at('etc/outpost/outpost.toml'), 'utf8'), readFileSync(at('etc/outpost/certs/mqtt-server.key'), 'utf8'), text];
    rmSync(shown);
    expect(fb('prepare').status).toBe(0);
    expect(fb('report', { OUTPOST_CONSOLE: shown }).stdout).toMatch(/already reported/);
    expect([readFileSync(at('etc/outpost/outpost.toml'), 'utf8'), readFileSync(at('etc/outpost/certs/mqtt-server.key'), 'utf8'), readFileSync(at('boot/firmware/outpost-first-boot.txt'), 'utf8')]).toEqual(before);
    expect(existsSync(shown)).toBe(false);
  });
});
