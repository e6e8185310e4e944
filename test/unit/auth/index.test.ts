import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuth, isLoopbackBind, type AuthServices } from '../../../src/auth/index.js';
import { authConfigShape } from '../../../src/auth/config.js';
import { listenersSchema } from '../../../src/mqtt/listeners/config.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { AuthRequest } from '../../../src/core/hooks.js';
import type { ClientIdentity } from '../../../src/core/types.js';
import type { Config } from '../../../src/config/schema.js';
import type { Store } from '../../../src/store/store.js';
import { FakeClock, memoryStore, recordingLogger } from './fake.js';

type Raw = Record<string, Record<string, unknown>>;
/** Only the sections auth reads, parsed by their own schemas (the full schema belongs to the lead). */
function config(raw: Raw = {}): Config {
  const out: Record<string, unknown> = { node: { name: 'test', data_dir: raw.node?.data_dir ?? tmpdir() }, mqtt: { enable: true, bind: '127.0.0.1', ...(raw.mqtt ?? {}) } };
  for (const [k, schema] of Object.entries(authConfigShape)) out[k] = schema.parse(raw[k] ?? {});
  out.listeners = listenersSchema.parse(raw.listeners ?? {});
  return out as unknown as Config;
}

const FAST = { password_hash_algorithm: { name: 'pbkdf2', iterations: 1000 } };

let store: Store | undefined;
let auth: AuthServices | undefined;
let server: Server | undefined;
afterEach(async () => {
  auth?.close();
  store?.close();
  auth = undefined;
  store = undefined;
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server!.close(r));
  }
  server = undefined;
});

function setup(raw: Raw = {}) {
  const clock = new FakeClock();
  const { log, lines } = recordingLogger();
  const metrics = new Metrics();
  store = memoryStore();
  auth = createAuth(config({ ...raw, authentication: { ...FAST, ...(raw.authentication ?? {}) } }), store, log, clock, metrics);
  return { auth, clock, lines, metrics };
}

const req = (o: Partial<AuthRequest> = {}): AuthRequest => ({
  clientId: 'c1',
  username: null,
  password: null,
  peerHost: '127.0.0.1',
  peerPort: 50000,
  protocol: 'mqtt',
  listener: 'tcp:default',
  ...o,
});
const ident = (o: Partial<ClientIdentity> = {}): ClientIdentity => ({ clientId: 'c1', username: null, peerHost: '192.0.2.1', peerPort: 1, protocol: 'mqtt', listener: 'tcp:default', superuser: false, ...o });

describe('createAuth: authentication', () => {
  it('allow_anonymous=auto lets everyone in while no user exists, then only known users', async () => {
    const { auth, metrics } = setup();
    expect(auth.anonymousAllowed()).toBe(true);
    expect(await auth.authenticator.authenticate(req())).toEqual({ ok: true, superuser: false });
    expect(metrics.get('client.auth.anonymous')).toBe(1);
    await auth.users.add('u1', 'pw', { superuser: true });
    expect(auth.anonymousAllowed()).toBe(false);
    expect(await auth.authenticator.authenticate(req())).toEqual({ ok: false, reason: 'not_authorized' });
    expect(await auth.authenticator.authenticate(req({ username: 'ghost', password: Buffer.from('x') }))).toEqual({ ok: false, reason: 'not_authorized' });
    expect(await auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('bad') }))).toEqual({ ok: false, reason: 'bad_username_or_password' });
    expect(await auth.authenticator.authenticate(req({ username: 'u1' }))).toEqual({ ok: false, reason: 'bad_username_or_password' });
    expect(await auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw') }))).toEqual({ ok: true, superuser: true });
    expect(metrics.get('authentication.failure')).toBe(4);
    expect(metrics.get('authentication.success')).toBe(2);
  });

  it('caches a verified password: the second CONNECT is answered synchronously', async () => {
    const { auth, clock } = setup();
    await auth.users.add('u1', 'pw');
    const r1 = auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw') }));
    expect(r1).toBeInstanceOf(Promise);
    expect(await r1).toMatchObject({ ok: true });
    expect(auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw') }))).toEqual({ ok: true, superuser: false });
    // A wrong password is never served from the cache.
    expect(await auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw2') }))).toMatchObject({ ok: false });
    clock.advance(61_000);
    expect(auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw') }))).toBeInstanceOf(Promise);
    await auth.users.passwd('u1', 'new');
    expect(await auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw') }))).toMatchObject({ ok: false, reason: 'bad_username_or_password' });
  });

  it('user_id_type=clientid checks the client id', async () => {
    const { auth } = setup({ authentication: { user_id_type: 'clientid' } });
    await auth.users.add('dev1', 'pw');
    expect(await auth.authenticator.authenticate(req({ clientId: 'dev1', password: Buffer.from('pw') }))).toMatchObject({ ok: true });
    expect(await auth.authenticator.authenticate(req({ clientId: 'dev1', password: Buffer.from('no') }))).toMatchObject({ ok: false, reason: 'bad_username_or_password' });
  });

  it('allow_anonymous=false and enable=false', async () => {
    expect(await setup({ authentication: { allow_anonymous: false } }).auth.authenticator.authenticate(req())).toEqual({ ok: false, reason: 'not_authorized' });
    auth!.close();
    store!.close();
    const off = setup({ authentication: { enable: false } });
    await off.auth.users.add('u', 'p');
    expect(await off.auth.authenticator.authenticate(req({ username: 'u', password: Buffer.from('wrong') }))).toEqual({ ok: true, superuser: false });
  });

  it('banned clients get reason banned, logged once and counted', async () => {
    const { auth, lines, metrics } = setup();
    auth.bans.add({ as: 'username', who: 'bad', reason: 'abuse' });
    expect(await auth.authenticator.authenticate(req({ username: 'bad' }))).toEqual({ ok: false, reason: 'banned' });
    expect(auth.guard.checkBanned('x', 'bad', '1.1.1.1')).toMatch(/banned as username by api: abuse/);
    expect(metrics.get('client.banned')).toBe(2);
    expect(lines.filter((l) => l.msg === 'client_authentication_failed' && l.reason === 'banned')).toHaveLength(1);
  });

  it('client certificate: identity from the listener (peer_cert_as_username=cn) and cert authentication', async () => {
    const { auth } = setup({
      authentication: { allow_anonymous: false, client_cert: { enable: true } },
      listeners: { ssl: { default: { peer_cert_as_username: 'cn', peer_cert_as_clientid: 'san', ssl_options: { certfile: 'cert.pem', keyfile: 'key.pem' } } } },
    });
    const cert = { commonName: 'sensor-9', subject: 'CN=sensor-9', san: ['sensor-9.local'] };
    expect(await auth.authenticator.authenticate(req({ listener: 'ssl:default', cert }))).toEqual({ ok: true, superuser: false, username: 'sensor-9', clientId: 'sensor-9.local' });
    // Without a certificate the same listener falls back to the chain.
    expect(await auth.authenticator.authenticate(req({ listener: 'ssl:default' }))).toEqual({ ok: false, reason: 'not_authorized' });
  });

  it('rejects with server_unavailable once max_pending verifications wait, and recovers', async () => {
    const { auth, lines } = setup({ authentication: { max_pending: 3, password_hash_algorithm: { name: 'pbkdf2', iterations: 20000 } } });
    await auth.users.add('u1', 'pw');
    const all = Array.from({ length: 10 }, (_, i) => auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from(`bad${i}`) })));
    const results = await Promise.all(all);
    const reasons = results.map((r) => (r.ok ? 'ok' : r.reason));
    // 2 run, 3 wait, 5 are turned away at once.
    expect(reasons.filter((r) => r === 'server_unavailable')).toHaveLength(5);
    expect(reasons.filter((r) => r === 'bad_username_or_password')).toHaveLength(5);
    expect(auth.authenticator.pending()).toBe(0);
    expect(lines.filter((l) => l.msg === 'client_authentication_failed')).toHaveLength(10);
    expect(await auth.authenticator.authenticate(req({ username: 'u1', password: Buffer.from('pw') }))).toMatchObject({ ok: true });
  });

  it('HTTP backend: allow with superuser, deny, ignore, errors, and caching', async () => {
    const seen: Record<string, unknown>[] = [];
    server = createServer((rq, rs) => {
      let body = '';
      rq.on('data', (d: Buffer) => (body += d.toString()));
      rq.on('end', () => {
        const b = JSON.parse(body) as Record<string, unknown>;
        seen.push(b);
        if (b.username === 'slow') return; // never answers: the timeout must fire
        rs.setHeader('content-type', 'application/json');
        if (b.username === 'root') rs.end(JSON.stringify({ result: 'allow', is_superuser: true }));
        else if (b.username === 'nope') rs.end(JSON.stringify({ result: 'deny' }));
        else if (b.username === 'boom') {
          rs.statusCode = 500;
          rs.end('{}');
        } else rs.end(JSON.stringify({ result: 'ignore' }));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
    const { auth } = setup({ authentication: { http: { enable: true, url, request_timeout: 2 } } });
    expect(auth.anonymousAllowed()).toBe(false);
    expect(await auth.authenticator.authenticate(req({ username: 'root', password: Buffer.from('p'), peerHost: '10.0.0.9' }))).toEqual({ ok: true, superuser: true });
    expect(seen[0]).toMatchObject({ clientid: 'c1', username: 'root', password: 'p', peerhost: '10.0.0.9' });
    expect(await auth.authenticator.authenticate(req({ username: 'root', password: Buffer.from('p'), peerHost: '10.0.0.9' }))).toEqual({ ok: true, superuser: true });
    expect(seen).toHaveLength(1);
    expect(await auth.authenticator.authenticate(req({ username: 'nope', password: Buffer.from('p') }))).toEqual({ ok: false, reason: 'not_authorized' });
    expect(await auth.authenticator.authenticate(req({ username: 'who', password: Buffer.from('p') }))).toEqual({ ok: false, reason: 'not_authorized' });
    expect(await auth.authenticator.authenticate(req({ username: 'boom', password: Buffer.from('p') }))).toEqual({ ok: false, reason: 'not_authorized' });
    const t0 = Date.now();
    expect(await auth.authenticator.authenticate(req({ username: 'slow', password: Buffer.from('p') }))).toEqual({ ok: false, reason: 'not_authorized' });
    // Answered by the 2 s request timeout, not left hanging.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - t0).toBeLessThan(6000);
  });
});

describe('createAuth: authorization', () => {
  it('default rules: loopback may use $SYS and #, others not; superusers bypass; the rest allowed', () => {
    const { auth, metrics, lines } = setup();
    const z = auth.authorizer;
    expect(z.authorize(ident({ peerHost: '127.0.0.1' }), 'subscribe', '$SYS/brokers/#', 0, false)).toBe('allow');
    expect(z.authorize(ident(), 'subscribe', '$SYS/brokers/#', 0, false)).toBe('deny');
    expect(z.authorize(ident(), 'subscribe', '#', 0, false)).toBe('deny');
    expect(z.authorize(ident({ superuser: true }), 'subscribe', '#', 0, false)).toBe('allow');
    expect(z.authorize(ident(), 'publish', 'a/b', 1, false)).toBe('allow');
    expect(metrics.get('authorization.deny')).toBe(2);
    expect(lines.filter((l) => l.msg === 'authorization_permission_denied')).toHaveLength(2);
  });

  it('no_match=deny with an empty file; $SYS stays closed even with no_match=allow; deny_action=disconnect', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acl-'));
    writeFileSync(join(dir, 'acl.conf'), '{allow, all, publish, ["devices/${clientid}/#"]}.\n');
    const { auth } = setup({ node: { data_dir: dir }, authorization: { no_match: 'deny', deny_action: 'disconnect', file: { path: 'acl.conf' } } });
    expect(auth.authorizer.authorize(ident(), 'publish', 'devices/c1/t', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(ident(), 'publish', 'devices/c2/t', 0, false)).toBe('disconnect');
    auth.close();
    store!.close();
    const open = setup({ node: { data_dir: dir }, authorization: { no_match: 'allow', file: { path: 'acl.conf' } } });
    expect(open.auth.authorizer.authorize(ident(), 'subscribe', 'any/thing', 0, false)).toBe('allow');
    expect(open.auth.authorizer.authorize(ident(), 'subscribe', '$SYS/#', 0, false)).toBe('deny');
  });

  it('per-user rules in the store come first and changes apply at once (cache cleared)', () => {
    const { auth } = setup({ authorization: { no_match: 'deny', file: { enable: false } } });
    const u = ident({ username: 'alice' });
    expect(auth.authorizer.authorize(u, 'publish', 'home/1', 0, false)).toBe('deny');
    auth.acl.set('username', 'alice', [{ topic: 'home/#', permission: 'allow', action: 'publish', qos: [], retain: 'all' }]);
    expect(auth.authorizer.authorize(u, 'publish', 'home/1', 0, false)).toBe('allow');
    auth.acl.set('clientid', 'c1', [{ topic: 'home/secret', permission: 'deny', action: 'all', qos: [], retain: 'all' }]);
    // Username rules are checked before client id rules (EMQX order).
    expect(auth.authorizer.authorize(u, 'publish', 'home/secret', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(ident(), 'publish', 'home/secret', 0, false)).toBe('deny');
    auth.acl.set('all', '', [{ topic: 'pub/${clientid}', permission: 'allow', action: 'publish', qos: [0], retain: false }]);
    expect(auth.authorizer.authorize(ident(), 'publish', 'pub/c1', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(ident(), 'publish', 'pub/c1', 1, false)).toBe('deny');
    expect(auth.acl.list('username')).toEqual([{ who: 'alice', rules: [{ topic: 'home/#', permission: 'allow', action: 'publish', qos: [], retain: 'all' }] }]);
    expect(() => auth.acl.set('username', 'bob', [{ topic: 'a/#/b', permission: 'allow', action: 'publish', qos: [], retain: 'all' }])).toThrow(/must be the last level/);
  });

  it('caches decisions for ttl, bounded per client, dropped on disconnect', () => {
    const { auth, clock, metrics } = setup({ authorization: { cache: { max_size: 4, ttl: 10 } } });
    const c = ident();
    for (let i = 0; i < 10; i++) auth.authorizer.authorize(c, 'publish', `t/${i}`, 0, false);
    expect(auth.authorizer.cacheSize()).toBe(4);
    auth.authorizer.authorize(c, 'publish', 't/9', 0, false);
    expect(metrics.get('authorization.cache_hit')).toBe(1);
    clock.advance(11_000);
    auth.authorizer.authorize(c, 'publish', 't/9', 0, false);
    expect(metrics.get('authorization.cache_hit')).toBe(1);
    auth.guard.onDisconnected(c, clock.now());
    expect(auth.authorizer.cacheSize()).toBe(0);
  });

  it('the last-decision shortcut keeps QoS/retain apart and is not shared with a new identity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acl-'));
    writeFileSync(join(dir, 'acl.conf'), '{deny, all, {publish, [{retain, true}]}, ["cmd/#"]}.\n{deny, {user, "bad"}, publish, ["cmd/#"]}.\n');
    const { auth, metrics } = setup({ node: { data_dir: dir }, authorization: { no_match: 'allow', file: { path: 'acl.conf' } } });
    const c = ident({ username: 'good' });
    const a = auth.authorizer;
    expect(a.authorize(c, 'publish', 'cmd/x', 1, false)).toBe('allow');
    expect(a.authorize(c, 'publish', 'cmd/x', 1, false)).toBe('allow');
    expect(metrics.get('authorization.cache_hit')).toBe(1);
    // Same topic, retained: another decision, not the cached one.
    expect(a.authorize(c, 'publish', 'cmd/x', 1, true)).toBe('deny');
    expect(a.authorize(c, 'publish', 'cmd/x', 1, false)).toBe('allow');
    // A copy of the identity (another object, same user and peer) still finds the cached decision.
    const hits = metrics.get('authorization.cache_hit');
    expect(a.authorize({ ...c }, 'publish', 'cmd/x', 1, false)).toBe('allow');
    expect(metrics.get('authorization.cache_hit')).toBe(hits + 1);
    // The same client id reconnecting as another user starts without the old decisions.
    expect(a.authorize(ident({ username: 'bad' }), 'publish', 'cmd/x', 1, false)).toBe('deny');
    expect(metrics.get('authorization.cache_hit')).toBe(hits + 1);
  });

  it('reload with a broken ACL file throws and keeps the old rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acl-'));
    writeFileSync(join(dir, 'acl.conf'), '{deny, all, publish, ["x"]}.\n');
    const { auth } = setup({ node: { data_dir: dir }, authorization: { file: { path: 'acl.conf' } } });
    expect(auth.authorizer.authorize(ident(), 'publish', 'x', 0, false)).toBe('deny');
    writeFileSync(join(dir, 'acl.conf'), '{deny, all, publish, ["x"]}\n');
    expect(() => auth.reload(config({ node: { data_dir: dir }, authorization: { file: { path: 'acl.conf' } } }))).toThrow(/expected '\.' after a rule/);
    expect(auth.authorizer.authorize(ident(), 'publish', 'x', 0, false)).toBe('deny');
    writeFileSync(join(dir, 'acl.conf'), '{allow, all, publish, ["x"]}.\n');
    auth.reload(config({ node: { data_dir: dir }, authorization: { file: { path: 'acl.conf' } } }));
    expect(auth.authorizer.authorize(ident(), 'publish', 'x', 0, false)).toBe('allow');
  });
});

describe('createAuth: protection', () => {
  it('flapping: the 16th disconnect within a minute bans the client id for ban_time, then it expires', async () => {
    const { auth, clock, lines } = setup({ flapping_detect: { enable: true } });
    const kicked: string[] = [];
    auth.guard.onBan!((k, w) => kicked.push(`${k}:${w}`));
    for (let i = 0; i < 16; i++) {
      clock.advance(1000);
      auth.guard.onDisconnected(ident({ clientId: 'flappy' }), clock.now());
    }
    expect(kicked).toEqual(['clientid:flappy']);
    expect(lines.find((l) => l.msg === 'flapping_detected')).toMatchObject({ clientid: 'flappy', detect_cnt: 16, wind_time_in_ms: 60_000 });
    expect(await auth.authenticator.authenticate(req({ clientId: 'flappy' }))).toEqual({ ok: false, reason: 'banned' });
    expect(auth.bans.list().data[0]).toMatchObject({ as: 'clientid', who: 'flappy', by: 'flapping detector', reason: 'flapping is detected' });
    clock.advance(300_000);
    expect(await auth.authenticator.authenticate(req({ clientId: 'flappy' }))).toMatchObject({ ok: true });
    // The periodic sweep (banned.cleanup_interval) removes the expired ban from the table.
    clock.advance(60_000);
    expect(auth.bans.size()).toBe(0);
  });

  it('rate limits come from [limiter]; unlimited by default', () => {
    expect(setup().auth.rateLimits.messages()).toBeNull();
    auth!.close();
    store!.close();
    const { auth: a, clock } = setup({ limiter: { messages_rate: '10/s', bytes_rate: '1KB/s', max_connections: 1 } });
    const m = a.rateLimits.messages()!;
    for (let i = 0; i < 10; i++) expect(m.consume(1, clock.now())).toBe(0);
    expect(m.consume(1, clock.now())).toBe(100);
    expect(a.rateLimits.bytes()!.consume(2048, clock.now())).toBe(1000);
    expect(a.connections.tryAcquire()).not.toBeNull();
    expect(a.connections.tryAcquire()).toBeNull();
  });

  it('warns loudly about anonymous access on non-loopback listeners only', async () => {
    const { auth, lines } = setup();
    const binds = [
      { id: 'tcp:default', bind: '0.0.0.0' },
      { id: 'ws:default', bind: '127.0.0.1' },
      { id: 'ssl:lan', bind: '192.168.1.10' },
    ];
    expect(auth.warnAnonymousExposure(binds)).toEqual(['tcp:default', 'ssl:lan']);
    expect(lines.filter((l) => String(l.msg).startsWith('anonymous_access_on_public_listener') && l.level === 40)).toHaveLength(2);
    await auth.users.add('u', 'p');
    expect(auth.warnAnonymousExposure(binds)).toEqual([]);
    expect(isLoopbackBind('::1')).toBe(true);
    expect(isLoopbackBind('[::1]')).toBe(true);
    expect(isLoopbackBind('127.0.0.2')).toBe(true);
    expect(isLoopbackBind('::')).toBe(false);
  });

  it('warns by itself at start for a non-loopback [mqtt] bind, and again when the last user goes', async () => {
    const { auth, lines } = setup({ mqtt: { bind: '0.0.0.0' }, listeners: { ws: { lan: { bind: '127.0.0.1' } } } });
    const warned = () => lines.filter((l) => String(l.msg).startsWith('anonymous_access_on_public_listener')).map((l) => l.listener);
    expect(warned()).toEqual(['tcp:default']);
    await auth.users.add('u', 'p');
    expect(warned()).toHaveLength(1);
    auth.users.remove('u');
    expect(warned()).toEqual(['tcp:default', 'tcp:default']);
  });

  it('close() stops the sweep timer', () => {
    const { auth, clock } = setup();
    expect(clock.pending).toBe(1);
    auth.close();
    expect(clock.pending).toBe(0);
  });
});
