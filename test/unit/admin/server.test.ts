// Authentication, roles, the error envelope and the unauthenticated endpoints of the admin API.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_KEY_FILE, setAdminPassword } from '../../../src/admin/credentials.js';
import { startAdmin } from '../../../src/admin/lazy.js';
import { basic, harness, type Harness } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('admin API authentication', () => {
  it('GET /status answers without credentials, as text and as JSON', async () => {
    h = await harness();
    const r = await h.app.inject('/status');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toBe('Node outpost@127.0.0.1 is started\noutpost is running');
    const j = await h.app.inject('/api/v5/status?format=json');
    expect(j.json()).toEqual({ node_name: 'outpost@127.0.0.1', broker_status: 'started', app_status: 'running' });
  });

  it('GET /status answers 503 with retry-after while the node is starting or stopping', async () => {
    let phase: 'starting' | 'running' | 'stopping' = 'stopping';
    h = await harness({ lifecycle: () => phase });
    const r = await h.app.inject('/status');
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('15');
    expect(r.body).toBe('Node outpost@127.0.0.1 is stopping\noutpost is not_running');
    expect((await h.app.inject('/status?format=json')).json()).toEqual({ node_name: 'outpost@127.0.0.1', broker_status: 'stopping', app_status: 'not_running' });
    phase = 'running';
    expect((await h.app.inject('/status')).statusCode).toBe(200);
  });

  it('refuses requests without credentials with 401 and {code, message}', async () => {
    h = await harness();
    const r = await h.app.inject('/api/v5/clients');
    expect(r.statusCode).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Basic/);
    expect(r.json()).toMatchObject({ code: 'BAD_USERNAME_OR_PWD' });
    expect(typeof r.json().message).toBe('string');
  });

  it('accepts an API key from the bootstrap file and rejects a wrong secret', async () => {
    h = await harness();
    expect((await h.app.inject({ url: '/api/v5/clients', headers: h.admin })).statusCode).toBe(200);
    const bad = await h.app.inject({ url: '/api/v5/clients', headers: basic('ops', 'nope') });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().code).toBe('BAD_API_KEY_OR_SECRET');
    const unknown = await h.app.inject({ url: '/api/v5/clients', headers: basic('ghost', 'ops-secret') });
    expect(unknown.statusCode).toBe(401);
  });

  it('limits viewers to reads and publishers to reads and publish', async () => {
    h = await harness();
    expect((await h.app.inject({ url: '/api/v5/stats', headers: h.viewer })).statusCode).toBe(200);
    const denied = await h.app.inject({ method: 'POST', url: '/api/v5/publish', headers: h.viewer, payload: { topic: 't', payload: 'x' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('FORBIDDEN');
    const ok = await h.app.inject({ method: 'POST', url: '/api/v5/publish', headers: h.publisher, payload: { topic: 't', payload: 'x' } });
    expect(ok.statusCode).toBe(202);
    const kick = await h.app.inject({ method: 'DELETE', url: '/api/v5/clients/c1', headers: h.publisher });
    expect(kick.statusCode).toBe(403);
  });

  it('logs in a dashboard user set by admin passwd and honours the bearer token until it expires', async () => {
    h = await harness();
    await setAdminPassword(h.dataDir, 'admin', 'correct horse');
    const bad = await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'admin', password: 'wrong password' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().code).toBe('BAD_USERNAME_OR_PWD');
    const nobody = await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'root', password: 'correct horse' } });
    expect(nobody.statusCode).toBe(401);
    const r = await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'admin', password: 'correct horse' } });
    expect(r.statusCode).toBe(200);
    const { token, role } = r.json();
    expect(role).toBe('administrator');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const auth = { authorization: `Bearer ${token}` };
    expect((await h.app.inject({ url: '/api/v5/nodes', headers: auth })).statusCode).toBe(200);
    h.broker.clock.t += h.config.api.token_ttl * 1000;
    const expired = await h.app.inject({ url: '/api/v5/nodes', headers: auth });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('TOKEN_TIME_OUT');
  });

  it('stores only a bcrypt hash of the admin password, readable by the owner only', async () => {
    h = await harness();
    await setAdminPassword(h.dataDir, 'admin', 'correct horse');
    const path = join(h.dataDir, 'admin-users.json');
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('correct horse');
    expect(JSON.parse(text)[0].hash).toMatch(/^\$2[aby]\$10\$/);
    expect(statSync(path).mode & 0o077).toBe(0);
    await expect(setAdminPassword(h.dataDir, 'admin', 'short')).rejects.toThrow(/8 characters/);
  });

  it('locks an address out after 5 failed logins for a minute', async () => {
    h = await harness();
    await setAdminPassword(h.dataDir, 'admin', 'correct horse');
    const login = (password: string) => h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'admin', password } });
    for (let i = 0; i < 5; i++) expect((await login('wrong password')).statusCode).toBe(401);
    const locked = await login('correct horse');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('LOGIN_LOCKED');
    expect(Number(locked.headers['retry-after'])).toBe(60);
    h.broker.clock.t += 60_000;
    expect((await login('correct horse')).statusCode).toBe(200);
  });

  it('logout invalidates the token', async () => {
    h = await harness();
    await setAdminPassword(h.dataDir, 'admin', 'correct horse');
    const { token } = (await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'admin', password: 'correct horse' } })).json();
    const auth = { authorization: `Bearer ${token}` };
    expect((await h.app.inject({ method: 'POST', url: '/api/v5/logout', headers: auth })).statusCode).toBe(204);
    expect((await h.app.inject({ url: '/api/v5/nodes', headers: auth })).statusCode).toBe(401);
  });

  it('with api.auth = false on loopback, answers without credentials', async () => {
    h = await harness({ api: { auth: false } });
    const r = await h.app.inject({ method: 'POST', url: '/api/v5/publish', payload: { topic: 'a/b', payload: 'x' } });
    expect(r.statusCode).toBe(202);
  });

  it('answers unknown paths and malformed JSON with the error envelope', async () => {
    h = await harness();
    const nf = await h.app.inject({ url: '/api/v5/nope', headers: h.admin });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().code).toBe('NOT_FOUND');
    const bad = await h.app.inject({ method: 'POST', url: '/api/v5/publish', headers: { ...h.admin, 'content-type': 'application/json' }, payload: '{"topic":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('BAD_REQUEST');
  });

  it('treats an empty body sent as application/json as no body', async () => {
    h = await harness();
    h.bans.add({ as: 'clientid', who: 'c9', by: 't', reason: '', at: 1, until: 0 });
    const r = await h.app.inject({ method: 'DELETE', url: '/api/v5/banned/clientid/c9', headers: { ...h.admin, 'content-type': 'application/json' }, payload: '' });
    expect(r.statusCode).toBe(204);
  });

  it('prometheus endpoints need no credentials unless api.prometheus_auth is set', async () => {
    h = await harness();
    expect((await h.app.inject('/metrics')).statusCode).toBe(200);
    await h.close();
    h = await harness({ api: { prometheus_auth: true } });
    expect((await h.app.inject('/api/v5/prometheus/stats')).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/api/v5/prometheus/stats', headers: h.admin })).statusCode).toBe(200);
  });
});

describe('startAdmin', () => {
  it('listens on an ephemeral port, writes a local key for outpostctl and removes it on close', async () => {
    h = await harness();
    const svc = await startAdmin({ broker: h.broker, log: h.broker.log }, h.config);
    try {
      expect(svc.port).toBeGreaterThan(0);
      const keyPath = join(h.dataDir, LOCAL_KEY_FILE);
      const [key, secret] = readFileSync(keyPath, 'utf8').trim().split(':');
      expect(statSync(keyPath).mode & 0o077).toBe(0);
      const res = await fetch(`http://127.0.0.1:${svc.port}/api/v5/stats?aggregate=true`, { headers: basic(key!, secret!) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Record<string, number>)['connections.count']).toBe(0);
      const anon = await fetch(`http://127.0.0.1:${svc.port}/api/v5/stats`);
      expect(anon.status).toBe(401);
      await svc.close();
      expect(() => statSync(keyPath)).toThrow();
    } finally {
      await svc.close();
    }
  });

  it('does nothing when api.enable is false', async () => {
    h = await harness({ api: { enable: false } });
    const svc = await startAdmin({ broker: h.broker, log: h.broker.log }, h.config);
    expect(svc.port).toBe(0);
    await svc.close();
  });

  it('refuses to start with an unreadable API key file, naming the key', async () => {
    h = await harness();
    const config = { ...h.config, api: { ...h.config.api, api_key_bootstrap_file: '/nonexistent/keys' } };
    await expect(startAdmin({ broker: h.broker, log: h.broker.log }, config)).rejects.toThrow(/api\.api_key_bootstrap_file: cannot read \/nonexistent\/keys/);
  });

  it('refuses a malformed API key file, naming the line', async () => {
    h = await harness();
    const file = join(h.dataDir, 'bad-keys');
    writeFileSync(file, 'ok:secret\njustakey\n');
    const config = { ...h.config, api: { ...h.config.api, api_key_bootstrap_file: file } };
    await expect(startAdmin({ broker: h.broker, log: h.broker.log }, config)).rejects.toThrow(/bad-keys:2: expected key:secret\[:role\]/);
  });
});
