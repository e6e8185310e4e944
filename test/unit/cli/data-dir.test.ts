// Where outpostctl looks for the daemon when no --data-dir is given: the working directory's
// ./data or the directory itself when a running daemon's runtime.json is there, then the per-user
// pointer a daemon writes at READY, then the installed /var/lib/outpost.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimePointerPath } from '../../../src/admin/local-key.js';
import { DEFAULT_DATA_DIR, dataDir, resolveUrl } from '../../../src/cli/client.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-ctl-dir-'));
const runDir = join(root, 'run');
mkdirSync(runDir);
const env = { XDG_RUNTIME_DIR: runDir };
// A pid that is certainly not running: above the kernel's pid_max (4194304 at most).
const DEAD_PID = 99_999_999;

function dir(name: string, runtime?: { pid: number; port?: number }): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  if (runtime) writeFileSync(join(d, 'runtime.json'), JSON.stringify({ pid: runtime.pid, listeners: { 'api:http': runtime.port ?? 18099 } }));
  return d;
}

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('outpostctl data dir', () => {
  it('takes --data-dir, then OUTPOST_DATA_DIR, before looking anywhere', () => {
    const cwd = dir('explicit');
    dir('explicit/data', { pid: process.pid });
    expect(dataDir({ dataDir: '/x' }, { ...env, OUTPOST_DATA_DIR: '/y' }, cwd)).toBe('/x');
    expect(dataDir({}, { ...env, OUTPOST_DATA_DIR: '/y' }, cwd)).toBe('/y');
  });

  it("finds a running daemon's ./data under the working directory, or the working directory itself", () => {
    const cwd = dir('fg');
    const data = dir('fg/data', { pid: process.pid });
    expect(dataDir({}, env, cwd)).toBe(data);
    expect(dataDir({}, env, data)).toBe(data);
  });

  it('ignores the runtime.json of a daemon that is gone', () => {
    const cwd = dir('stale');
    dir('stale/data', { pid: DEAD_PID });
    expect(dataDir({}, env, cwd)).toBe(DEFAULT_DATA_DIR);
  });

  it("follows this user's runtime pointer to a running daemon, and not to a dead one", () => {
    const elsewhere = dir('elsewhere');
    const data = dir('pointed', { pid: process.pid });
    const pointer = runtimePointerPath(env, tmpdir(), process.getuid?.() ?? 0);
    expect(pointer).toBe(join(runDir, `outpost-${process.getuid?.() ?? 0}.json`));
    writeFileSync(pointer, JSON.stringify({ pid: process.pid, data_dir: data }));
    expect(dataDir({}, env, elsewhere)).toBe(data);
    // The API address then comes from the runtime.json found there.
    expect(resolveUrl({ dataDir: dataDir({}, env, elsewhere) }, env)).toBe('http://127.0.0.1:18099');
    writeFileSync(pointer, JSON.stringify({ pid: DEAD_PID, data_dir: data }));
    expect(dataDir({}, env, elsewhere)).toBe(DEFAULT_DATA_DIR);
    rmSync(pointer);
    expect(dataDir({}, env, elsewhere)).toBe(DEFAULT_DATA_DIR);
  });

  it('does not follow a pointer that is a symlink (a name planted in a shared tmp dir)', () => {
    const elsewhere = dir('elsewhere2');
    const data = dir('planted', { pid: process.pid });
    const real = join(root, 'planted.json');
    writeFileSync(real, JSON.stringify({ pid: process.pid, data_dir: data }));
    const pointer = runtimePointerPath(env, tmpdir(), process.getuid?.() ?? 0);
    symlinkSync(real, pointer);
    try {
      expect(dataDir({}, env, elsewhere)).toBe(DEFAULT_DATA_DIR);
    } finally {
      rmSync(pointer);
    }
  });
});
