import { afterEach, describe, expect, it } from 'vitest';
import { BanList } from '../../../src/auth/ban-list.js';
import { FlappingDetector } from '../../../src/auth/flapping.js';
import { AUTH_MIGRATIONS } from '../../../src/auth/migrations.js';
import { ConnectionCounter, TokenBucket, bucketFor, parseRate } from '../../../src/auth/rate-limit.js';
import type { Store } from '../../../src/store/store.js';
import { FakeClock, memoryStore } from './fake.js';

let store: Store;
afterEach(() => store?.close());
function bans(clock: FakeClock): BanList {
  store = memoryStore();
  store.migrate('auth', AUTH_MIGRATIONS);
  return new BanList(store.db, () => clock.now());
}

describe('BanList', () => {
  it('matches each kind (clientid, username, peerhost, regexes, CIDR)', () => {
    const clock = new FakeClock();
    const b = bans(clock);
    b.add({ as: 'clientid', who: 'c1' });
    b.add({ as: 'username', who: 'mallory' });
    b.add({ as: 'peerhost', who: '192.0.2.7' });
    b.add({ as: 'clientid_re', who: '^bot-\\d+$' });
    b.add({ as: 'username_re', who: '^spam' });
    b.add({ as: 'peerhost_net', who: '198.51.100.0/24' });
    expect(b.find('c1', null, '127.0.0.1')?.as).toBe('clientid');
    expect(b.find('ok', 'mallory', '127.0.0.1')?.as).toBe('username');
    expect(b.find('ok', null, '::ffff:192.0.2.7')?.as).toBe('peerhost');
    expect(b.find('bot-17', null, '127.0.0.1')?.as).toBe('clientid_re');
    expect(b.find('bot-x', null, '127.0.0.1')).toBeNull();
    expect(b.find('ok', 'spammer', '127.0.0.1')?.as).toBe('username_re');
    expect(b.find('ok', null, '198.51.100.200')?.as).toBe('peerhost_net');
    expect(b.find('ok', 'alice', '198.51.101.1')).toBeNull();
  });

  it('expires bans at their until time and sweeps them from the table', () => {
    const clock = new FakeClock();
    const b = bans(clock);
    b.add({ as: 'clientid', who: 'temp', until: clock.now() + 60_000, reason: 'test' });
    b.add({ as: 'clientid', who: 'forever' });
    expect(b.find('temp', null, '1.2.3.4')).toMatchObject({ as: 'clientid', who: 'temp', reason: 'test', by: 'api' });
    clock.advance(59_999);
    expect(b.find('temp', null, '1.2.3.4')).not.toBeNull();
    clock.advance(1);
    expect(b.find('temp', null, '1.2.3.4')).toBeNull();
    expect(b.sweep()).toBe(1);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM auth_banned').get() as { n: number }).n).toBe(1);
    expect(b.list().data.map((x) => x.who)).toEqual(['forever']);
  });

  it('persists across restarts and tells listeners about kickable bans only', () => {
    const clock = new FakeClock();
    const b = bans(clock);
    const kicked: string[] = [];
    b.onBan((kind, who) => kicked.push(`${kind}:${who}`));
    b.add({ as: 'username', who: 'u' });
    b.add({ as: 'clientid_re', who: 'x.*' });
    b.add({ as: 'peerhost', who: '10.0.0.1' });
    expect(kicked).toEqual(['username:u', 'peerhost:10.0.0.1']);
    const again = new BanList(store.db, () => clock.now());
    expect(again.size()).toBe(3);
    expect(again.find('xyz', null, '1.1.1.1')?.as).toBe('clientid_re');
    expect(again.remove('username', 'u')).toBe(true);
    expect(again.find('c', 'u', '1.1.1.1')).toBeNull();
  });

  it('rejects malformed bans with OUTPOST_ERR_AUTH_BAN_INVALID', () => {
    const clock = new FakeClock();
    const b = bans(clock);
    for (const bad of [
      { as: 'clientid_re' as const, who: '(' },
      { as: 'peerhost_net' as const, who: '10.0.0.1' },
      { as: 'clientid' as const, who: '' },
      { as: 'clientid' as const, who: 'c', until: clock.now() - 1 },
    ]) {
      expect(() => b.add(bad)).toThrow(expect.objectContaining({ code: 'OUTPOST_ERR_AUTH_BAN_INVALID' }));
    }
  });

  it('imports a bootstrap CSV', () => {
    const clock = new FakeClock();
    const b = bans(clock);
    const r = b.importCsv('as,who,reason,until\nclientid,c9,old firmware,\nusername,u9,,2099-01-01T00:00:00Z\nnonsense,x,,\n');
    expect(r).toEqual({ imported: 2, failed: 1 });
    expect(b.find('c9', null, '1.1.1.1')).toMatchObject({ by: 'bootstrap', reason: 'old firmware', until: null });
    expect(b.find('z', 'u9', '1.1.1.1')?.until).toBe(Date.parse('2099-01-01T00:00:00Z'));
  });
});

describe('FlappingDetector (EMQX flapping_detect)', () => {
  const cfg = { enable: true, window_time: 60, max_count: 15, ban_time: 300 };
  it('bans after more than max_count disconnects within the window', () => {
    const f = new FlappingDetector(cfg);
    let t = 0;
    for (let i = 1; i <= 15; i++) expect(f.disconnected('c1', '10.0.0.2', (t += 1000))).toBeNull();
    const hit = f.disconnected('c1', '10.0.0.2', (t += 1000));
    expect(hit).toEqual({ clientId: 'c1', peerHost: '10.0.0.2', count: 16, windowMs: 60_000, until: t + 300_000 });
  });

  it('starts a new window after window_time and forgets old windows on sweep', () => {
    const f = new FlappingDetector(cfg);
    for (let i = 0; i < 15; i++) f.disconnected('c1', 'h', i * 1000);
    expect(f.disconnected('c1', 'h', 61_000)).toBeNull();
    f.disconnected('c2', 'h', 61_000);
    expect(f.size()).toBe(2);
    f.sweep(200_000);
    expect(f.size()).toBe(0);
  });

  it('does nothing when disabled', () => {
    const f = new FlappingDetector({ ...cfg, enable: false });
    for (let i = 0; i < 100; i++) expect(f.disconnected('c1', 'h', i)).toBeNull();
    expect(f.size()).toBe(0);
  });
});

describe('rate limits', () => {
  it('parses EMQX rate strings', () => {
    expect(parseRate('infinity')).toBeNull();
    expect(parseRate('1000/s')).toBe(1);
    expect(parseRate('10/100ms')).toBe(0.1);
    expect(parseRate('1MB/s')).toBe(1048.576);
    expect(parseRate('60/m')).toBe(0.001);
    expect(parseRate('500KB/10s')).toBe(51.2);
    expect(() => parseRate('fast')).toThrow(/bad rate/);
  });

  it('token bucket: a burst passes, then each message waits 1/rate, refill over time', () => {
    const b = new TokenBucket(0.01 /* 10/s */, 10, 0);
    for (let i = 0; i < 10; i++) expect(b.consume(1, 0)).toBe(0);
    expect(b.consume(1, 0)).toBe(100);
    expect(b.consume(1, 0)).toBe(200);
    // After the advised pause the debt is paid and one more message costs 100 ms again.
    expect(b.consume(1, 200)).toBe(100);
    expect(b.consume(0, 10_000)).toBe(0);
    expect(b.available(10_000)).toBe(10);
  });

  it('keeps a steady sender at its rate: 100 messages at 50/s take ~2 s of advised pauses', () => {
    const b = bucketFor('50/s', 1, 0)!;
    let now = 0;
    for (let i = 0; i < 100; i++) now += b.consume(1, now);
    expect(now).toBeGreaterThanOrEqual(1960);
    expect(now).toBeLessThanOrEqual(2000);
  });

  it('bucketFor: infinity is no limiter; burst 0 means one second of tokens', () => {
    expect(bucketFor('infinity', 0, 0)).toBeNull();
    const b = bucketFor('5/s', 0, 0)!;
    for (let i = 0; i < 5; i++) expect(b.consume(1, 0)).toBe(0);
    expect(b.consume(1, 0)).toBeGreaterThan(0);
  });

  it('global connection counter caps and releases once', () => {
    const c = new ConnectionCounter(2);
    const a = c.tryAcquire()!;
    const b = c.tryAcquire()!;
    expect(c.tryAcquire()).toBeNull();
    a();
    a();
    expect(c.current()).toBe(1);
    expect(c.tryAcquire()).not.toBeNull();
    b();
    const unlimited = new ConnectionCounter(0);
    for (let i = 0; i < 1000; i++) expect(unlimited.tryAcquire()).not.toBeNull();
  });
});

describe('token bucket with a clock', () => {
  it('uses the clock when the caller passes a stale time (packets drained after a pause)', () => {
    let t = 0;
    const b = new TokenBucket(0.01, 1, 0, () => t);
    expect(b.consume(1, 0)).toBe(0);
    expect(b.consume(1, 0)).toBe(100);
    t = 200;
    // The caller still says 0 (arrival of the chunk); 200 ms have really passed: the debt is paid.
    expect(b.consume(1, 0)).toBe(0);
    expect(b.consume(1, 0)).toBe(100);
  });
});
