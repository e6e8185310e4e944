// The shipped unit passes `systemd-analyze verify` with no output at all (parse warnings keep
// rc=0, so output is the signal) and carries the settings the
// runtime relies on. verify resolves ExecStart, so the copy checked points at a stand-in binary.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const UNIT = readFileSync(new URL('../../systemd/outpost.service', import.meta.url), 'utf8');
const SYSUSERS = readFileSync(new URL('../../systemd/outpost.sysusers.conf', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'outpost-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verify(unitText: string, name = 'outpost.service'): { rc: number | null; out: string } {
  const fake = join(dir, 'outpost');
  writeFileSync(fake, '#!/bin/sh\nexit 0\n');
  chmodSync(fake, 0o755);
  const path = join(dir, name);
  writeFileSync(path, unitText.replace(/^ExecStart=\/usr\/bin\/outpost /m, `ExecStart=${fake} `));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`systemd-analyze not runnable (install the systemd package): ${r.error.message}`);
  return { rc: r.status, out: (r.stdout + r.stderr).trim() };
}

/** Directive values from the unit, in order (a key may repeat). */
function values(key: string): string[] {
  return [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

describe('systemd/outpost.service', () => {
  it('passes systemd-analyze verify with no output', () => {
    const r = verify(UNIT);
    expect(r.out).toBe('');
    expect(r.rc).toBe(0);
  });

  it('the verify check does catch a broken unit', () => {
    const r = verify(UNIT.replace(/^Type=notify$/m, 'Type=notifyy').replace(/^WatchdogSec=.*$/m, 'WatchdogSec=thirty'), 'broken.service');
    expect(r.out).toMatch(/service type.*notifyy/);
    expect(r.out).toMatch(/sec value.*thirty/);
  });

  it('is Type=notify with a watchdog, main-PID notify access and SIGHUP reload', () => {
    expect(values('Type')).toEqual(['notify']);
    expect(values('NotifyAccess')).toEqual(['main']);
    expect(values('WatchdogSec')).toHaveLength(1);
    expect(values('Restart')).toEqual(['on-failure']);
    expect(values('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(values('ExecStart')).toEqual(['/usr/bin/outpost --config /etc/outpost/outpost.toml --data-dir /var/lib/outpost']);
  });

  it('runs as the sysusers-created user with its own state, config and log directories', () => {
    expect(values('User')).toEqual(['outpost']);
    expect(SYSUSERS).toMatch(/^u outpost - /m);
    expect(values('StateDirectory')).toEqual(['outpost']);
    expect(values('ConfigurationDirectory')).toEqual(['outpost']);
    expect(values('LogsDirectory')).toEqual(['outpost']);
  });

  it('is sandboxed with only CAP_NET_BIND_SERVICE and the needed address families', () => {
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('ProtectHome')).toEqual(['yes']);
    expect(values('PrivateTmp')).toEqual(['yes']);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(values('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(values('RestrictAddressFamilies')).toEqual(['AF_INET AF_INET6 AF_UNIX AF_NETLINK']);
    expect(values('MemoryMax')).toHaveLength(1);
    // V8 needs writable+executable pages; this setting would crash node at start.
    expect(values('MemoryDenyWriteExecute')).toEqual([]);
  });

  it('scores as well sandboxed in systemd-analyze security', () => {
    const path = join(dir, 'outpost.service');
    verify(UNIT);
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', path], { encoding: 'utf8' });
    const m = /Overall exposure level for outpost\.service: ([\d.]+)/.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(3);
  });
});
