import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, applyEnvOverrides, loadConfig, validateConfig } from '../../../src/config/load.js';
import { MAIN } from '../../helpers/daemon.js';

function tmpFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-cfg-'));
  const f = join(dir, 'outpost.toml');
  writeFileSync(f, text);
  return f;
}

describe('config', () => {
  it('has a working embedded default (MQTT 1883, data in ./data, 2 h v3 session expiry)', () => {
    const c = loadConfig({ env: {} });
    expect(c.mqtt.port).toBe(1883);
    expect(c.node.data_dir).toBe('./data');
    expect(c.mqtt.session_expiry_interval).toBe(7200);
    expect(c.mqtt.max_inflight).toBe(32);
    expect(c.mqtt.max_mqueue_len).toBe(1000);
    expect(c.store.synchronous).toBe('NORMAL');
    expect(Object.isFrozen(c.mqtt)).toBe(true);
  });

  it('applies OUTPOST_<SECTION>__<KEY> env overrides with typed values', () => {
    const c = loadConfig({ env: { OUTPOST_MQTT__PORT: '1884', OUTPOST_MQTT__MQUEUE_STORE_QOS0: 'false', OUTPOST_STORE__SYNCHRONOUS: 'FULL' } });
    expect(c.mqtt.port).toBe(1884);
    expect(c.mqtt.mqueue_store_qos0).toBe(false);
    expect(c.store.synchronous).toBe('FULL');
    expect(applyEnvOverrides({}, { OUTPOST_A__B__C: '[1,2]' })).toEqual({ a: { b: { c: [1, 2] } } });
  });

  it('env overrides win over the file, --data-dir over both', () => {
    const f = tmpFile('[mqtt]\nport = 2000\n[node]\ndata_dir = "/x"\n');
    const c = loadConfig({ file: f, env: { OUTPOST_MQTT__PORT: '2001' }, dataDir: '/y' });
    expect(c.mqtt.port).toBe(2001);
    expect(c.node.data_dir).toBe('/y');
  });

  it('names the bad key and the reason', () => {
    expect(() => validateConfig({ mqtt: { port: 'x' } })).toThrow(/mqtt\.port/);
    expect(() => validateConfig({ mqtt: { prot: 1 } })).toThrow(/mqtt\.prot: unknown key/);
    expect(() => validateConfig({ mqtt: { max_qos_allowed: 3 } })).toThrow(/mqtt\.max_qos_allowed/);
    // A period past Node's timer range (2^31-1 ms) would fire every millisecond.
    expect(() => validateConfig({ sys_topics: { sys_msg_interval: 30 * 86400 } })).toThrow(/sys_topics\.sys_msg_interval/);
    try {
      validateConfig({ store: { synchronous: 'SOMETIMES' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]!.path).toBe('store.synchronous');
    }
  });

  it('reports invalid TOML with the file name', () => {
    const f = tmpFile('[mqtt\nport = 1');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(/invalid TOML/);
  });

  it('outpost check-config exits 0 on a good file and 1 naming the key on a bad one', () => {
    const good = tmpFile('[mqtt]\nport = 1999\n');
    expect(execFileSync(process.execPath, [MAIN, 'check-config', good], { encoding: 'utf8' })).toMatch(/ok/);
    const bad = tmpFile('[mqtt]\nmax_inflight = -1\n');
    let out = '';
    let code = 0;
    try {
      execFileSync(process.execPath, [MAIN, 'check-config', bad], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const e = err as { status: number; stderr: string };
      code = e.status;
      out = e.stderr;
    }
    expect(code).toBe(1);
    expect(out).toMatch(/mqtt\.max_inflight/);
  });

  it('the daemon refuses to start on a bad config and names the key', () => {
    const bad = tmpFile('[retainer]\nenable = "yes"\n');
    let stderr = '';
    try {
      execFileSync(process.execPath, [MAIN, '--config', bad], { encoding: 'utf8', stdio: 'pipe', timeout: 10_000 });
    } catch (err) {
      stderr = (err as { stderr: string }).stderr;
    }
    expect(stderr).toMatch(/refusing to start: .*retainer\.enable/);
  });
});
