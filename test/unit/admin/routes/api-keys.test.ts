// /api_key as EMQX 5 (emqx_mgmt_api_api_keys.erl): create/list/show/update/delete, the secret shown
// once, keys stored so they survive a restart, and API keys barred from managing API keys.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEYS_FILE } from '../../../../src/admin/api-keys.js';
import { setAdminPassword } from '../../../../src/admin/credentials.js';
import { buildAdmin } from '../../../../src/admin/server.js';
import { basic, harness, type Harness } from '../harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

async function bearer(h: Harness): Promise<{ authorization: string }> {
  await setAdminPassword(h.dataDir, 'admin', 'correct-horse');
  const r = await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'admin', password: 'correct-horse' } });
  return { authorization: `Bearer ${r.json().token}` };
}

describe('/api_key', () => {
  it('creates a key with its secret once, lists and shows it without the secret, and the key authenticates', async () => {
    h = await harness();
    const auth = await bearer(h);
    const made = await h.app.inject({ method: 'POST', url: '/api/v5/api_key', headers: auth, payload: { name: 'ci', desc: 'for CI', role: 'viewer' } });
    expect(made.statusCode).toBe(200);
    const k = made.json();
    expect(k).toMatchObject({ name: 'ci', desc: 'for CI', enable: true, expired: false, expired_at: 'infinity', role: 'viewer' });
    expect(typeof k.api_key).toBe('string');
    expect(typeof k.api_secret).toBe('string');
    expect(k.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const list = (await h.app.inject({ url: '/api/v5/api_key', headers: auth })).json();
    expect(list).toEqual([{ name: 'ci', api_key: k.api_key, expired_at: 'infinity', created_at: k.created_at, desc: 'for CI', enable: true, expired: false, role: 'viewer' }]);
    expect((await h.app.inject({ url: '/api/v5/api_key/ci', headers: auth })).json()).toEqual(list[0]);
    const asKey = basic(k.api_key, k.api_secret);
    expect((await h.app.inject({ url: '/api/v5/clients', headers: asKey })).statusCode).toBe(200);
    // A viewer key may read, not write; a wrong secret is 401.
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/alarms', headers: asKey })).statusCode).toBe(403);
    expect((await h.app.inject({ url: '/api/v5/clients', headers: basic(k.api_key, 'wrong') })).json().code).toBe('BAD_API_KEY_OR_SECRET');
    expect(statSync(join(h.dataDir, API_KEYS_FILE)).mode & 0o777).toBe(0o600);
  });

  it('refuses duplicates and bad names with 400 BAD_REQUEST; unknown names are 404 NOT_FOUND', async () => {
    h = await harness();
    const auth = await bearer(h);
    const post = (payload: object) => h.app.inject({ method: 'POST', url: '/api/v5/api_key', headers: auth, payload });
    expect((await post({ name: 'a' })).statusCode).toBe(200);
    const dup = await post({ name: 'a' });
    expect([dup.statusCode, dup.json().code, dup.json().message]).toEqual([400, 'BAD_REQUEST', 'Name Already Exists']);
    expect((await post({ name: '1abc' })).json().code).toBe('BAD_REQUEST');
    expect((await post({ name: 'b', expired_at: '2000-01-01T00:00:00Z' })).statusCode).toBe(400);
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const r = await h.app.inject({ method, url: '/api/v5/api_key/nope', headers: auth, ...(method === 'PUT' && { payload: {} }) });
      expect([r.statusCode, r.json().code]).toEqual([404, 'NOT_FOUND']);
    }
  });

  it('PUT disables or expires a key, which then no longer authenticates; DELETE removes it', async () => {
    h = await harness();
    const auth = await bearer(h);
    const k = (await h.app.inject({ method: 'POST', url: '/api/v5/api_key', headers: auth, payload: { name: 'tmp', expired_at: '2026-11-23T00:00:00Z' } })).json();
    expect(k.expired_at).toBe('2026-11-23T00:00:00Z');
    const asKey = basic(k.api_key, k.api_secret);
    expect((await h.app.inject({ url: '/api/v5/clients', headers: asKey })).statusCode).toBe(200);
    const off = await h.app.inject({ method: 'PUT', url: '/api/v5/api_key/tmp', headers: auth, payload: { enable: false, desc: 'off' } });
    expect(off.json()).toMatchObject({ enable: false, desc: 'off' });
    expect((await h.app.inject({ url: '/api/v5/clients', headers: asKey })).statusCode).toBe(401);
    await h.app.inject({ method: 'PUT', url: '/api/v5/api_key/tmp', headers: auth, payload: { enable: true } });
    h.broker.clock.advance(2 * 86_400_000);
    const auth2 = await bearer(h);
    expect((await h.app.inject({ url: '/api/v5/api_key/tmp', headers: auth2 })).json().expired).toBe(true);
    expect((await h.app.inject({ url: '/api/v5/clients', headers: asKey })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/api_key/tmp', headers: auth2 })).statusCode).toBe(204);
    expect((await h.app.inject({ url: '/api/v5/api_key', headers: auth2 })).json()).toEqual([]);
  });

  it('an API key may not manage API keys (EMQX: not_allowed)', async () => {
    h = await harness();
    const r = await h.app.inject({ url: '/api/v5/api_key', headers: h.admin });
    expect([r.statusCode, r.json().code]).toEqual([403, 'FORBIDDEN']);
  });

  it('keys survive a restart of the API', async () => {
    h = await harness();
    const auth = await bearer(h);
    const k = (await h.app.inject({ method: 'POST', url: '/api/v5/api_key', headers: auth, payload: { name: 'kept' } })).json();
    const again = buildAdmin({ broker: h.broker, log: pino({ level: 'silent' }) }, h.config);
    try {
      await again.app.ready();
      expect((await again.app.inject({ url: '/api/v5/clients', headers: basic(k.api_key, k.api_secret) })).statusCode).toBe(200);
    } finally {
      await again.app.close();
      await again.trace.close();
    }
  });
});
