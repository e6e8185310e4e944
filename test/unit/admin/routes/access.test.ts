// /banned and the built-in database users API.
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

const USERS = '/api/v5/authentication/password_based:built_in_database/users';

describe('/api/v5/banned', () => {
  it('adds, lists, refuses duplicates, deletes and clears bans', async () => {
    h = await harness();
    const add = await h.app.inject({
      method: 'POST',
      url: '/api/v5/banned',
      headers: h.admin,
      payload: { as: 'clientid', who: 'c1', reason: 'spam', at: '2026-11-22T00:00:00Z', until: '2026-11-22T01:00:00Z' },
    });
    expect(add.statusCode).toBe(200);
    expect(add.json()).toEqual({ as: 'clientid', who: 'c1', by: 'api', reason: 'spam', at: '2026-11-22T00:00:00.000Z', until: '2026-11-22T01:00:00.000Z' });
    const forever = await h.app.inject({ method: 'POST', url: '/api/v5/banned', headers: h.admin, payload: { as: 'username', who: 'bob' } });
    expect(forever.json().until).toBe('infinity');
    expect(h.bans.bans[1]).toMatchObject({ as: 'username', who: 'bob', until: 0, at: h.broker.clock.t });
    const dup = await h.app.inject({ method: 'POST', url: '/api/v5/banned', headers: h.admin, payload: { as: 'clientid', who: 'c1' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('ALREADY_EXISTS');
    const list = (await h.app.inject({ url: '/api/v5/banned?limit=1', headers: h.admin })).json();
    expect(list.meta).toEqual({ page: 1, limit: 1, count: 2, hasnext: true });
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/banned/clientid/c1', headers: h.admin })).statusCode).toBe(204);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/banned/clientid/c1', headers: h.admin })).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/banned', headers: h.admin })).statusCode).toBe(204);
    expect(h.bans.bans).toEqual([]);
  });

  it('validates kind, regex, CIDR and times', async () => {
    h = await harness();
    const cases = [
      { as: 'mac', who: 'x' },
      { as: 'clientid_re', who: '(' },
      { as: 'peerhost_net', who: '10.0.0.1' },
      { as: 'clientid', who: 'c', at: '2026-11-22T01:00:00Z', until: '2026-11-22T00:00:00Z' },
    ];
    for (const payload of cases) {
      const r = await h.app.inject({ method: 'POST', url: '/api/v5/banned', headers: h.admin, payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
    }
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/banned/mac/x', headers: h.admin })).statusCode).toBe(400);
  });

  it('answers 501 NOT_SUPPORTED when no ban service is wired', async () => {
    h = await harness({ bare: true });
    const r = await h.app.inject({ url: '/api/v5/banned', headers: h.admin });
    expect(r.statusCode).toBe(501);
    expect(r.json().code).toBe('NOT_SUPPORTED');
  });
});

describe('built-in database users', () => {
  it('creates (201), lists with filters, reads, updates and deletes users', async () => {
    h = await harness();
    const c = await h.app.inject({ method: 'POST', url: USERS, headers: h.admin, payload: { user_id: 'u1', password: 'p1' } });
    expect(c.statusCode).toBe(201);
    expect(c.json()).toEqual({ user_id: 'u1', is_superuser: false });
    await h.app.inject({ method: 'POST', url: USERS, headers: h.admin, payload: { user_id: 'admin2', password: 'p', is_superuser: true } });
    expect((await h.app.inject({ method: 'POST', url: USERS, headers: h.admin, payload: { user_id: 'u1', password: 'x' } })).statusCode).toBe(409);
    expect(h.users.users.get('u1')!.password).toBe('p1');

    const all = (await h.app.inject({ url: USERS, headers: h.admin })).json();
    expect(all.data).toEqual([
      { user_id: 'admin2', is_superuser: true },
      { user_id: 'u1', is_superuser: false },
    ]);
    expect((await h.app.inject({ url: `${USERS}?is_superuser=true`, headers: h.admin })).json().data).toHaveLength(1);
    expect((await h.app.inject({ url: `${USERS}?like_user_id=u`, headers: h.admin })).json().data).toEqual([{ user_id: 'u1', is_superuser: false }]);

    // EMQX clients percent-encode the colon; both spellings reach the same authenticator.
    const one = await h.app.inject({ url: '/api/v5/authentication/password_based%3Abuilt_in_database/users/u1', headers: h.admin });
    expect(one.json()).toEqual({ user_id: 'u1', is_superuser: false });

    const put = await h.app.inject({ method: 'PUT', url: `${USERS}/u1`, headers: h.admin, payload: { password: 'p2', is_superuser: true } });
    expect(put.json()).toEqual({ user_id: 'u1', is_superuser: true });
    expect(h.users.users.get('u1')!.password).toBe('p2');

    expect((await h.app.inject({ method: 'DELETE', url: `${USERS}/u1`, headers: h.admin })).statusCode).toBe(204);
    const gone = await h.app.inject({ url: `${USERS}/u1`, headers: h.admin });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().code).toBe('USER_NOT_FOUND');
    expect((await h.app.inject({ method: 'PUT', url: `${USERS}/u1`, headers: h.admin, payload: { password: 'x' } })).statusCode).toBe(404);
  });

  it('404s other authenticator ids and validates bodies', async () => {
    h = await harness();
    expect((await h.app.inject({ url: '/api/v5/authentication/jwt/users', headers: h.admin })).statusCode).toBe(404);
    const bad = await h.app.inject({ method: 'POST', url: USERS, headers: h.admin, payload: { user_id: 'u1' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^password/);
  });

  it('maps a service error that declares its HTTP status to that status', async () => {
    h = await harness();
    h.users.add = () => {
      throw Object.assign(new Error('invalid input: user_id too long'), { code: 'OUTPOST_ERR_AUTH_BAD_INPUT', status: 400 });
    };
    const r = await h.app.inject({ method: 'POST', url: USERS, headers: h.admin, payload: { user_id: 'x', password: 'p' } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ code: 'BAD_REQUEST', message: 'invalid input: user_id too long' });
  });
});
