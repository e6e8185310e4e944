// [api] settings at the daemon level: auth may be off only on loopback, and a bad API key file
// stops the daemon from starting with a message naming the key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

const scratch = mkdtempSync(join(tmpdir(), 'outpost-apicfg-'));
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) {
    await d.stop();
    d.cleanup();
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('[api] at the daemon', () => {
  it('with auth = false on 127.0.0.1 answers without credentials', async () => {
    const d = await startDaemon({ config: '[api]\nport = 0\nauth = false\n' });
    daemons.push(d);
    const res = await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/stats?aggregate=true`);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('connections.count');
  });

  it('refuses to start with auth = false on a non-loopback bind, naming api.auth', async () => {
    await expect(startDaemon({ dataDir: mkdtempSync(join(scratch, 'd-')), config: '[api]\nport = 0\nauth = false\nbind = "0.0.0.0"\n' })).rejects.toThrow(
      /api\.auth: auth = false is only allowed with a loopback bind/,
    );
  });

  it('refuses to start with a malformed API key file, naming the file and line', async () => {
    const keys = join(scratch, 'keys');
    writeFileSync(keys, 'good:secret\nbroken-line\n');
    await expect(startDaemon({ dataDir: mkdtempSync(join(scratch, 'd-')), config: `[api]\nport = 0\napi_key_bootstrap_file = "${keys}"\n` })).rejects.toThrow(
      /keys:2: expected key:secret\[:role\]/,
    );
  });
});
