// firmware-config/image/build.sh --offline against a stand-in rootfs (etc/os-release, passwd,
// group) and a stand-in Node tarball: the image gets node under /usr/local, the app, the outpost
// user (sysusers --root), owners (tmpfiles --root), enabled units and an empty machine-id; then
// the image's first boot runs as it would on a box. The network steps (debootstrap, NodeSource,
// npm ci in a chroot) are what --offline skips; build.md covers them.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = join(REPO, 'firmware-config/image/build.sh');
const work = mkdtempSync(join(tmpdir(), 'outpost-image-'));
const root = join(work, 'root');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OUTPOST_')));
const run = (cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, { cwd: work, env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
const at = (p: string) => join(root, p);
const linkTarget = (p: string) => (lstatSync(at(p), { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(at(p)) : null);

function standInRootfs(dir: string): void {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
  // The build host's id, which must not stay in the image.
  writeFileSync(join(dir, 'etc/machine-id'), '3d1219c7c4c5404aaa1f6d2a48adfda4\n');
}

let build: ReturnType<typeof run>;
beforeAll(() => {
  standInRootfs(root);
  // A Node "tarball" laid out like nodejs.org's, whose bin/node hands over to the node running us.
  const top = join(work, 'tb/node-v20.20.2-linux-x64');
  mkdirSync(join(top, 'bin'), { recursive: true });
  writeFileSync(join(top, 'bin/node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`);
  chmodSync(join(top, 'bin/node'), 0o755);
  writeFileSync(join(top, 'README.md'), 'dropped by the build\n');
  expect(run('tar', ['-czf', 'node.tar.gz', '-C', join(work, 'tb'), 'node-v20.20.2-linux-x64']).status).toBe(0);
  build = run(BUILD, ['--rootfs', root, '--offline', '--no-build', '--node-tarball', join(work, 'node.tar.gz')]);
}, 60_000);

describe('firmware-config/image/build.sh --offline', () => {
  it('succeeds', () => {
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    expect(build.stdout).toMatch(/node v20\.20\.2/);
  });

  it('unpacks node into /usr/local and points the commands at it', () => {
    expect(statSync(at('usr/local/bin/node')).mode & 0o111).not.toBe(0);
    expect(existsSync(at('usr/local/README.md'))).toBe(false);
    for (const cmd of ['outpost', 'outpostctl']) expect(readFileSync(at(`usr/bin/${cmd}`), 'utf8')).toContain('exec "/usr/local/bin/node" ');
  });

  it('installs the app with its dependencies and the shipped config, which the image\'s app accepts', () => {
    expect(existsSync(at('opt/outpost/node_modules/better-sqlite3/package.json'))).toBe(true);
    expect(readFileSync(at('etc/outpost/outpost.toml'), 'utf8')).toBe(readFileSync(join(REPO, 'firmware-config/outpost.toml'), 'utf8'));
    const r = run(process.execPath, [at('opt/outpost/bin/outpost.js'), 'check-config', at('etc/outpost/outpost.toml')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('creates the outpost user in dialout and gives /etc/outpost to root:outpost 0750', () => {
    const m = /^outpost:x:(\d+):(\d+):[^:]*:\/var\/lib\/outpost:/m.exec(readFileSync(at('etc/passwd'), 'utf8'));
    expect(m).not.toBeNull();
    const gid = Number(m![2]);
    expect(readFileSync(at('etc/group'), 'utf8')).toMatch(/^dialout:x:20:outpost$/m);
    expect([statSync(at('etc/outpost')).mode & 0o777, statSync(at('etc/outpost')).uid, statSync(at('etc/outpost')).gid]).toEqual([0o750, 0, gid]);
    expect([statSync(at('etc/outpost/outpost.toml')).mode & 0o777, statSync(at('etc/outpost/outpost.toml')).gid]).toEqual([0o640, gid]);
    expect(statSync(at('var/lib/outpost')).uid).toBe(Number(m![1]));
  });

  it('enables outpost.service and the first-boot unit, and empties machine-id', () => {
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost.service')).toBe('/usr/lib/systemd/system/outpost.service');
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost-first-boot.service')).toBe('/etc/systemd/system/outpost-first-boot.service');
    expect(readFileSync(at('etc/machine-id'), 'utf8')).toBe('');
    expect(existsSync(at('etc/udev/rules.d/99-outpost-serial.rules'))).toBe(true);
  });

  it('on the box\'s first boot: node name from the new machine id, key owned by outpost, unit disabled', () => {
    writeFileSync(at('etc/machine-id'), 'aa'.repeat(16) + '\n'); // what systemd writes at boot
    const [, uid, gid] = /^outpost:x:(\d+):(\d+):/m.exec(readFileSync(at('etc/passwd'), 'utf8'))!;
    const r = run('sh', [at('usr/lib/outpost/first-boot.sh')], { OUTPOST_ROOT: root, OUTPOST_OWNER: `${uid}:${gid}` });
    expect(r.status, r.stderr).toBe(0);
    const name = (parse(readFileSync(at('etc/outpost/outpost.toml'), 'utf8')) as { node: { name: string } }).node.name;
    expect(name).toMatch(/^outpost@[0-9a-f]{12}$/);
    const keys = statSync(at('etc/outpost/api-keys'));
    expect([keys.mode & 0o777, keys.uid]).toEqual([0o600, Number(uid)]);
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost-first-boot.service')).toBeNull();
    expect(linkTarget('etc/systemd/system/multi-user.target.wants/outpost.service')).not.toBeNull();
  });

  it('refuses without --rootfs, on a directory that is no rootfs, and offline without node', () => {
    expect(run(BUILD, []).stderr).toMatch(/--rootfs DIR is required/);
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const r = run(BUILD, ['--rootfs', empty, '--offline']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no etc\/os-release: not a root filesystem/);
    const bare = join(work, 'bare');
    standInRootfs(bare);
    const n = run(BUILD, ['--rootfs', bare, '--offline', '--no-build']);
    expect(n.status).toBe(1);
    expect(n.stderr).toMatch(/no node in .* and --offline: pass --node-tarball FILE/);
    expect(existsSync(join(bare, 'opt/outpost'))).toBe(false);
  });
});
