// The alarm registry (EMQX emqx_alarm) and the sysmon checks that feed it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlarmRegistry } from '../../../src/broker/alarms.js';
import { validateConfig } from '../../../src/config/load.js';
import { SystemMonitor, type BridgeProbe } from '../../../src/runtime/alarms.js';

function registry(over: { sizeLimit?: number; validityPeriod?: number; actions?: ('log' | 'publish')[] } = {}) {
  let t = 1_000_000;
  const published: { name: string; activate: boolean; at: { activateAt: number; deactivateAt?: number; message: string } }[] = [];
  const logged: string[] = [];
  const r = new AlarmRegistry(
    { publish: (name, activate, _d, at) => published.push({ name, activate, at }), log: (e, a) => logged.push(`${e}:${a.name}`) },
    () => t,
    { sizeLimit: over.sizeLimit ?? 1000, validityPeriod: over.validityPeriod ?? 86_400_000, actions: over.actions ?? ['log', 'publish'] },
  );
  return { r, published, logged, advance: (ms: number) => (t += ms), now: () => t };
}

describe('AlarmRegistry', () => {
  it('activates once by name, deactivates into the history with both times, logs and publishes each change', () => {
    const k = registry();
    expect(k.r.activate('high_system_memory_usage', { usage: '80%' }, 'System memory usage is higher than 70%')).toBe(true);
    expect(k.r.activate('high_system_memory_usage', {}, 'again')).toBe(false);
    expect(k.r.activated()).toEqual([{ name: 'high_system_memory_usage', message: 'System memory usage is higher than 70%', details: { usage: '80%' }, activateAt: 1_000_000 }]);
    k.advance(5000);
    expect(k.r.deactivate('high_system_memory_usage')).toBe(true);
    expect(k.r.deactivate('high_system_memory_usage')).toBe(false);
    expect(k.r.activated()).toEqual([]);
    expect(k.r.deactivated()).toEqual([{ name: 'high_system_memory_usage', message: 'System memory usage is higher than 70%', details: { usage: '80%' }, activateAt: 1_000_000, deactivateAt: 1_005_000 }]);
    expect(k.logged).toEqual(['alarm_is_activated:high_system_memory_usage', 'alarm_is_deactivated:high_system_memory_usage']);
    expect(k.published.map((p) => [p.name, p.activate, p.at.activateAt, p.at.deactivateAt])).toEqual([
      ['high_system_memory_usage', true, 1_000_000, undefined],
      ['high_system_memory_usage', false, 1_000_000, 1_005_000],
    ]);
  });

  it('an empty message is the alarm name; ensure() raises and clears by condition', () => {
    const k = registry();
    k.r.ensure('x', true);
    expect(k.r.activated()[0]!.message).toBe('x');
    k.r.ensure('x', true, {}, 'still');
    expect(k.published).toHaveLength(1);
    k.r.ensure('x', false, { ok: 1 }, 'cleared');
    expect(k.r.deactivated()[0]).toMatchObject({ name: 'x', message: 'cleared', details: { ok: 1 } });
    k.r.ensure('y', false);
    expect(k.published).toHaveLength(2);
  });

  it('keeps at most size_limit deactivated alarms, newest first, for validity_period, and clears them on request', () => {
    const k = registry({ sizeLimit: 2, validityPeriod: 60_000 });
    for (const n of ['a', 'b', 'c']) {
      k.r.activate(n);
      k.advance(10);
      k.r.deactivate(n);
    }
    expect(k.r.deactivated().map((a) => a.name)).toEqual(['c', 'b']);
    k.advance(60_001);
    expect(k.r.deactivated()).toEqual([]);
    k.r.activate('d');
    k.r.deactivate('d');
    expect(k.r.clearDeactivated()).toBe(1);
    expect(k.r.deactivated()).toEqual([]);
  });

  it('alarm.actions picks what happens on a change', () => {
    const k = registry({ actions: ['log'] });
    k.r.activate('a');
    expect(k.published).toEqual([]);
    expect(k.logged).toEqual(['alarm_is_activated:a']);
  });
});

describe('SystemMonitor checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sysmon-'));
  const monitor = (sysmon: Record<string, unknown>, extra: Record<string, unknown> = {}, bridges: BridgeProbe[] = [], rss = 1000) => {
    const k = registry();
    const m = new SystemMonitor({ alarms: k.r, log: pino({ level: 'silent' }), dataDir: dir, bridges: () => bridges, rss: () => rss, now: () => Date.parse('2027-01-01T00:00:00Z') });
    const config = validateConfig({ node: { data_dir: dir }, sysmon, ...extra });
    m.start(config);
    m.stop();
    return { k, m };
  };

  it('raises high_process_memory_usage when RSS passes procmem_high_watermark, and clears it below', () => {
    const hi = monitor({ os: { procmem_high_watermark: 0, sysmem_high_watermark: 100 } }, {}, [], 50_000_000);
    hi.m.checkMemory();
    expect(hi.k.r.activated().map((a) => a.name)).toEqual(['high_process_memory_usage']);
    expect(hi.k.r.activated()[0]!.details).toMatchObject({ rss: 50_000_000, high_watermark: 0 });
    const lo = monitor({ os: { procmem_high_watermark: 100, sysmem_high_watermark: 100 } });
    lo.m.checkMemory();
    expect(lo.k.r.activated()).toEqual([]);
  });

  it('raises store_near_full when the data dir has less free space than free_low_watermark', () => {
    const { k, m } = monitor({ disk: { free_low_watermark: Number.MAX_SAFE_INTEGER } });
    m.checkDisk();
    expect(k.r.activated()[0]).toMatchObject({ name: 'store_near_full', details: { path: dir, free_low_watermark: Number.MAX_SAFE_INTEGER } });
    const ok = monitor({ disk: { free_low_watermark: 0 } });
    ok.m.checkDisk();
    expect(ok.k.r.activated()).toEqual([]);
  });

  it('raises a bridge down alarm named by the resource id and a backlog alarm over the watermark; a removed bridge clears both', () => {
    const bridges: BridgeProbe[] = [
      { name: 'up', enable: true, status: 'disconnected', queued: 5, lastError: 'ECONNREFUSED' },
      { name: 'off', enable: false, status: 'stopped', queued: 0 },
    ];
    const { k, m } = monitor({ bridge: { backlog_high_watermark: 4 } }, {}, bridges);
    m.checkBridges();
    expect(k.r.activated().map((a) => a.name).sort()).toEqual(['bridge_backlog:mqtt:up', 'connector:mqtt:up']);
    expect(k.r.activated().find((a) => a.name === 'connector:mqtt:up')!.message).toBe('resource down: ECONNREFUSED');
    bridges.splice(0, 1);
    m.checkBridges();
    expect(k.r.activated()).toEqual([]);
  });

  it('raises event_loop_lag when the loop was blocked longer than long_schedule, and clears it when it keeps up', async () => {
    const k = registry();
    const m = new SystemMonitor({ alarms: k.r, log: pino({ level: 'silent' }), dataDir: dir, bridges: () => [] });
    m.start(validateConfig({ node: { data_dir: dir }, sysmon: { vm: { long_schedule: 200 }, os: { mem_check_interval: 0 }, disk: { check_interval: 0 }, bridge: { check_interval: 0 } } }));
    try {
      await new Promise((r) => setTimeout(r, 50));
      const until = Date.now() + 500;
      while (Date.now() < until) {
        // Block the event loop, as a synchronous hot path would.
      }
      await new Promise((r) => setTimeout(r, 50));
      m.checkEventLoop();
      expect(k.r.activated()[0]).toMatchObject({ name: 'event_loop_lag', details: { long_schedule: 200 } });
      expect((k.r.activated()[0]!.details as { max_lag_ms: number }).max_lag_ms).toBeGreaterThan(200);
      await new Promise((r) => setTimeout(r, 100));
      m.checkEventLoop();
      expect(k.r.activated()).toEqual([]);
    } finally {
      m.stop();
    }
  });

  it('raises flapping_ban_storm when storm_threshold clients were banned for flapping within one check, and clears it after a calm one', () => {
    const k = registry();
    let banned = 3;
    const m = new SystemMonitor({ alarms: k.r, log: pino({ level: 'silent' }), dataDir: dir, bridges: () => [], flappingBans: () => banned });
    m.start(validateConfig({ node: { data_dir: dir }, sysmon: { flapping: { storm_threshold: 5 } } }));
    m.stop();
    banned += 4;
    m.checkFlapping();
    expect(k.r.activated()).toEqual([]);
    banned += 5;
    m.checkFlapping();
    expect(k.r.activated()[0]).toMatchObject({ name: 'flapping_ban_storm', details: { banned: 5, storm_threshold: 5, window_s: 10 } });
    m.checkFlapping();
    expect(k.r.activated()).toEqual([]);
  });

  it('raises certificate_expiring for a listener certificate that expires within expiry_warning_days', () => {
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    // A certificate valid for 10 days from now (openssl is on the build machines and in CI).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '10', '-subj', '/CN=outpost-test'], { stdio: 'ignore' });
    writeFileSync(join(dir, 'unused'), '');
    const k = registry();
    const m = new SystemMonitor({ alarms: k.r, log: pino({ level: 'silent' }), dataDir: dir, bridges: () => [], now: Date.now });
    m.start(validateConfig({ node: { data_dir: dir }, listeners: { ssl: { default: { enable: true, port: 0, ssl_options: { certfile: cert, keyfile: key } } } } }));
    m.stop();
    expect(k.r.activated().map((a) => a.name)).toEqual(['certificate_expiring:ssl:default']);
    expect(k.r.activated()[0]!.details).toMatchObject({ listener: 'ssl:default', certfile: cert, days_left: 9 });
    const k2 = registry();
    const m2 = new SystemMonitor({ alarms: k2.r, log: pino({ level: 'silent' }), dataDir: dir, bridges: () => [], now: Date.now });
    m2.start(validateConfig({ node: { data_dir: dir }, sysmon: { cert: { expiry_warning_days: 5 } }, listeners: { ssl: { default: { enable: true, port: 0, ssl_options: { certfile: cert, keyfile: key } } } } }));
    m2.stop();
    expect(k2.r.activated()).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
