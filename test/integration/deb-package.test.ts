// The amd64 .deb on a real Debian 13 (trixie) booted under systemd-nspawn with systemd as PID 1
// (scripts/deb-install-test.sh does the work and prints one PASS/FAIL line per check): apt-get install
// pulls nodejs 20.19 from trixie (and into an image root without systemd running), the service is active after READY=1, an MQTT message goes through
// the installed daemon, an upgrade keeps the data and the admin's edit of the conffile, remove keeps
// data and config, purge deletes both; lintian passes the package. Needs root, debootstrap,
// systemd-container and lintian (CI has them);
// the trixie rootfs is cached per day in /var/tmp, about a minute to make from nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { runPassFailDriver, type DriverRun } from '../helpers/pass-fail-driver.js';

const LIMIT_MS = 330_000;
let run: DriverRun;
let out = '';
const passed = (re: RegExp) => run.passed(re);

describe('Debian package (amd64) on trixie under systemd-nspawn', () => {
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test boots a container: run it as root (CI does)');
    // --no-build: npm test has just built dist/. The driver kills its container and removes its files on SIGTERM.
    run = await runPassFailDriver('scripts/deb-install-test.sh', ['--no-build'], LIMIT_MS);
    out = run.out;
  }, LIMIT_MS);

  it('every check of scripts/deb-install-test.sh passed', () => {
    expect(run.failures(), out).toEqual([]);
    expect(run.code, out).toBe(0);
  });

  it('installs with apt-get (nodejs from trixie) and the service is active after READY=1', () => {
    expect(passed(/^PASS apt-get install \S+ with nodejs 20\.\d+/), out).toBe(true);
    expect(passed(/^PASS install: outpost\.service active after READY=1 \(Type=notify/), out).toBe(true);
    expect(passed(/runs as the system user outpost/), out).toBe(true);
    expect(passed(/tmpfiles: root:outpost 750 root:outpost 640 outpost:outpost 750/), out).toBe(true);
  });

  it('installs into an image root where systemd does not run: enabled, not started, no API key baked in', () => {
    expect(passed(/^PASS image install: user created, service enabled \(not started\), config group outpost, no API key baked in$/), out).toBe(true);
  });

  it('carries an MQTT message through the installed daemon', () => {
    expect(passed(/MQTT publish\/subscribe round trip through the installed daemon/), out).toBe(true);
  });

  it("loads the DTLS addon in Debian's nodejs (system OpenSSL)", () => {
    expect(passed(/^PASS the DTLS addon loads in Debian's nodejs: \{"ok":true\}/), out).toBe(true);
  });

  it('upgrades keeping the data and the edited conffile', () => {
    expect(passed(/^PASS upgraded to /), out).toBe(true);
    expect(passed(/^PASS upgrade: outpost\.service active/), out).toBe(true);
    expect(passed(/the edited conffile survived the upgrade/), out).toBe(true);
    expect(passed(/data kept across the upgrade/), out).toBe(true);
    expect(passed(/retained message published before the upgrade is still there/), out).toBe(true);
  });

  it('remove keeps data and config; purge deletes both', () => {
    expect(passed(/service stopped on remove/), out).toBe(true);
    expect(passed(/data kept after remove/), out).toBe(true);
    expect(passed(/config kept after remove/), out).toBe(true);
    expect(passed(/purge deleted \/var\/lib\/outpost/), out).toBe(true);
    expect(passed(/purge deleted \/etc\/outpost/), out).toBe(true);
    expect(passed(/container powered off/), out).toBe(true);
  });

  it('lintian reports no error or warning', () => {
    expect(passed(/^PASS lintian \S+: no errors or warnings$/), out).toBe(true);
  });
});
