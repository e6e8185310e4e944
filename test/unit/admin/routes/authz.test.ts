// /authorization/sources, /authorization/settings and the built-in database's rules, against
// EMQX 5's shapes (emqx_authz_api_sources.erl, emqx_authz_api_mnesia.erl), over the real AclDb.
import { afterEach, describe, expect, it } from 'vitest';
import { AclDb } from '../../../../src/auth/acl-db.js';
import { AUTH_MIGRATIONS } from '../../../../src/auth/migrations.js';
import { buildAdmin } from '../../../../src/admin/server.js';
import { pino } from 'pino';
import { harness, type Harness } from '../harness.js';
import type { FastifyInstance } from 'fastify';

let h: Harness;
let app: FastifyInstance;
let acl: AclDb;
afterEach(async () => {
  await app.close();
  await h.close();
});

async function setup(): Promise<void> {
  h = await harness();
  h.broker.store.migrate('auth', AUTH_MIGRATIONS);
  acl = new AclDb(h.broker.store.db);
  const built = buildAdmin(
    {
      broker: h.broker,
      log: pino({ level: 'silent' }),
      acl,
      authzSources: () => [
        { type: 'built_in_database', enable: true },
        { type: 'file', enable: true, path: '', rules: '{allow, all}.' },
      ],
      trace: h.built.trace,
    },
    h.config,
  );
  app = built.app;
  await app.ready();
}

const RULES = '/api/v5/authorization/sources/built_in_database/rules';

describe('authorization sources', () => {
  it('lists the sources in order, shows one, 404 for another; changing them is refused (config file)', async () => {
    await setup();
    const r = (await app.inject({ url: '/api/v5/authorization/sources', headers: h.viewer })).json();
    expect(r).toEqual({ sources: [{ type: 'built_in_database', enable: true }, { type: 'file', enable: true, path: '', rules: '{allow, all}.' }] });
    expect((await app.inject({ url: '/api/v5/authorization/sources/file', headers: h.viewer })).json().rules).toBe('{allow, all}.');
    const nf = await app.inject({ url: '/api/v5/authorization/sources/http', headers: h.viewer });
    expect([nf.statusCode, nf.json().code]).toEqual([404, 'NOT_FOUND']);
    const put = await app.inject({ method: 'PUT', url: '/api/v5/authorization/sources/file', headers: h.admin, payload: {} });
    expect([put.statusCode, put.json().code]).toEqual([501, 'NOT_SUPPORTED']);
    expect((await app.inject({ url: '/api/v5/authorization/settings', headers: h.viewer })).json()).toEqual({ no_match: 'allow', deny_action: 'ignore', cache: { enable: true, max_size: 32, ttl: '60s' } });
  });
});

describe('built_in_database rules', () => {
  it('creates users\' rules (204), lists them paged with like_username, shows, replaces and deletes one', async () => {
    await setup();
    const post = await app.inject({
      method: 'POST',
      url: `${RULES}/users`,
      headers: h.admin,
      payload: [
        { username: 'alice', rules: [{ topic: 'a/#', permission: 'allow', action: 'publish', qos: [1], retain: false }] },
        { username: 'bob', rules: [{ topic: 'b/+', permission: 'deny', action: 'all' }] },
      ],
    });
    expect(post.statusCode).toBe(204);
    const list = (await app.inject({ url: `${RULES}/users?limit=1`, headers: h.viewer })).json();
    expect(list).toEqual({ data: [{ username: 'alice', rules: [{ topic: 'a/#', permission: 'allow', action: 'publish', qos: [1], retain: false }] }], meta: { page: 1, limit: 1, count: 2, hasnext: true } });
    expect((await app.inject({ url: `${RULES}/users?like_username=bo`, headers: h.viewer })).json().data).toEqual([
      { username: 'bob', rules: [{ topic: 'b/+', permission: 'deny', action: 'all', qos: [0, 1, 2], retain: 'all' }] },
    ]);
    const dup = await app.inject({ method: 'POST', url: `${RULES}/users`, headers: h.admin, payload: [{ username: 'bob', rules: [] }] });
    expect([dup.statusCode, dup.json().code]).toEqual([409, 'ALREADY_EXISTS']);
    const put = await app.inject({ method: 'PUT', url: `${RULES}/users/bob`, headers: h.admin, payload: { username: 'bob', rules: [{ topic: 'c', permission: 'allow', action: 'subscribe' }] } });
    expect(put.statusCode).toBe(204);
    expect((await app.inject({ url: `${RULES}/users/bob`, headers: h.viewer })).json()).toEqual({ username: 'bob', rules: [{ topic: 'c', permission: 'allow', action: 'subscribe', qos: [0, 1, 2], retain: 'all' }] });
    // The rules take effect at once: the authorizer reads the same AclDb.
    expect(acl.rulesFor({ clientId: 'x', username: 'bob', peerHost: '127.0.0.1' } as never).length).toBe(1);
    expect((await app.inject({ method: 'DELETE', url: `${RULES}/users/bob`, headers: h.admin })).statusCode).toBe(204);
    const gone = await app.inject({ method: 'DELETE', url: `${RULES}/users/bob`, headers: h.admin });
    expect([gone.statusCode, gone.json().code, gone.json().message]).toEqual([404, 'NOT_FOUND', 'Username Not Found']);
    expect((await app.inject({ url: `${RULES}/users/bob`, headers: h.viewer })).statusCode).toBe(404);
  });

  it('clients, all, and DELETE of every rule; bad rules are 400', async () => {
    await setup();
    expect((await app.inject({ method: 'POST', url: `${RULES}/clients`, headers: h.admin, payload: [{ clientid: 'dev1', rules: [{ topic: 'd/#', permission: 'allow', action: 'all' }] }] })).statusCode).toBe(204);
    expect((await app.inject({ url: `${RULES}/clients/dev1`, headers: h.viewer })).json().clientid).toBe('dev1');
    const nf = await app.inject({ method: 'DELETE', url: `${RULES}/clients/nope`, headers: h.admin });
    expect(nf.json().message).toBe('ClientID Not Found');
    expect((await app.inject({ url: `${RULES}/all`, headers: h.viewer })).json()).toEqual({ rules: [] });
    expect((await app.inject({ method: 'POST', url: `${RULES}/all`, headers: h.admin, payload: { rules: [{ topic: '#', permission: 'deny', action: 'publish', qos: [0, 1, 2], retain: 'all' }] } })).statusCode).toBe(204);
    expect((await app.inject({ url: `${RULES}/all`, headers: h.viewer })).json().rules).toHaveLength(1);
    const bad = await app.inject({ method: 'POST', url: `${RULES}/all`, headers: h.admin, payload: { rules: [{ topic: 'a/#/b', permission: 'allow', action: 'all' }] } });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'BAD_REQUEST']);
    const badShape = await app.inject({ method: 'POST', url: `${RULES}/users`, headers: h.admin, payload: [{ username: 'u', rules: [{ topic: 't', permission: 'maybe', action: 'all' }] }] });
    expect(badShape.statusCode).toBe(400);
    expect((await app.inject({ method: 'DELETE', url: RULES, headers: h.admin })).statusCode).toBe(204);
    expect((await app.inject({ url: `${RULES}/clients`, headers: h.viewer })).json().meta.count).toBe(0);
    expect((await app.inject({ url: `${RULES}/all`, headers: h.viewer })).json().rules).toEqual([]);
  });
});
