// log.format (EMQX's log.console.formatter): text lines with level names for a person, JSON for
// journald and collectors; `auto` picks text on a terminal only. EMQX's level names are accepted.
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon.js';
import { until } from '../helpers/mqtt-clients.js';
import { resolveLogFormat } from '../../src/runtime/log.js';

describe('log format', () => {
  it('auto is text on a terminal and JSON otherwise or under systemd', () => {
    expect(resolveLogFormat('auto', {}, true)).toBe('text');
    expect(resolveLogFormat('auto', {}, false)).toBe('json');
    expect(resolveLogFormat('auto', { JOURNAL_STREAM: '8:1234' }, true)).toBe('json');
    expect(resolveLogFormat('text', { JOURNAL_STREAM: '8:1234' }, false)).toBe('text');
    expect(resolveLogFormat('json', {}, true)).toBe('json');
  });

  it('text: one line per event with time, level name (EMQX\'s: WARNING) and message', async () => {
    const d = await startDaemon({ config: '[log]\nformat = "text"\nlevel = "info"\n' });
    try {
      // outpost_ready is logged just after runtime.json, which startDaemon waits for.
      await until(() => d.logs().includes('outpost_ready'), 5_000, 'outpost_ready');
      const ready = d.logs().split('\n').find((l) => l.includes('outpost_ready'));
      expect(ready).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: outpost_ready \{.*"ports":/);
      expect(d.logs()).not.toMatch(/"level":30/);
      // Warnings under EMQX's name.
      await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'nobody', password: 'wrong' }) });
      await until(() => d.logs().includes('api_login_failed'), 5_000, 'api_login_failed');
      expect(d.logs()).toMatch(/^\[[^\]]+\] WARNING: api_login_failed \{/m);
    } finally {
      await d.stop();
      d.cleanup();
    }
  });

  it('auto without a terminal (as under systemd) is JSON; level "warning" hides info', async () => {
    const d = await startDaemon({ config: '[log]\nlevel = "info"\n' });
    try {
      // outpost_ready is logged just after runtime.json, which startDaemon waits for.
      await until(() => d.logs().includes('outpost_ready'), 5_000, 'outpost_ready');
      const ready = d.logs().split('\n').find((l) => l.includes('outpost_ready'));
      expect(JSON.parse(ready!)).toMatchObject({ level: 30, msg: 'outpost_ready' });
    } finally {
      await d.stop();
      d.cleanup();
    }
    const quiet = await startDaemon({ config: '[log]\nlevel = "warning"\nformat = "json"\n' });
    try {
      // A failed login is logged at warn: once it is there, outpost_ready (info) would have been too.
      const res = await fetch(`http://127.0.0.1:${quiet.ports['api:http']}/api/v5/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'nobody', password: 'wrong' }) });
      expect(res.status).toBe(401);
      await until(() => quiet.logs().includes('api_login_failed'), 5_000, 'api_login_failed');
      expect(quiet.logs()).not.toContain('outpost_ready');
      expect(quiet.logs()).not.toContain('"level":30');
    } finally {
      await quiet.stop();
      quiet.cleanup();
    }
  });
});
