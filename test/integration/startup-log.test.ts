// log.format (EMQX's log.console.formatter): text lines with level names for a person, JSON for
// journald and collectors; `auto` picks text on a terminal only. EMQX's level names are accepted.
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon.js';
import { resolveLogFormat } from '../../src/runtime/log.js';

describe('log format', () => {
  it('auto is text on a terminal and JSON otherwise or under systemd', () => {
    expect(resolveLogFormat('auto', {}, true)).toBe('text');
    expect(resolveLogFormat('auto', {}, false)).toBe('json');
    expect(resolveLogFormat('auto', { JOURNAL_STREAM: '8:1234' }, true)).toBe('json');
    expect(resolveLogFormat('text', { JOURNAL_STREAM: '8:1234' }, false)).toBe('text');
    expect(resolveLogFormat('json', {}, true)).toBe('json');
  });

  it('text: one line per event with time, level name and message', async () => {
    const d = await startDaemon({ config: '[log]\nformat = "text"\nlevel = "info"\n' });
    try {
      const ready = d.logs().split('\n').find((l) => l.includes('outpost_ready'));
      expect(ready).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: outpost_ready \{.*"ports":/);
      expect(d.logs()).not.toMatch(/"level":30/);
    } finally {
      await d.stop();
      d.cleanup();
    }
  });

  it('auto without a terminal (as under systemd) is JSON; level "warning" hides info', async () => {
    const d = await startDaemon({ config: '[log]\nlevel = "info"\n' });
    try {
      const ready = d.logs().split('\n').find((l) => l.includes('outpost_ready'));
      expect(JSON.parse(ready!)).toMatchObject({ level: 30, msg: 'outpost_ready' });
    } finally {
      await d.stop();
      d.cleanup();
    }
    const quiet = await startDaemon({ config: '[log]\nlevel = "warning"\nformat = "json"\n' });
    try {
      expect(quiet.logs()).not.toContain('outpost_ready');
    } finally {
      await quiet.stop();
      quiet.cleanup();
    }
  });
});
