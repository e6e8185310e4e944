// /authentication as EMQX 5 (emqx_authn_api.erl, emqx_authn_user_import_api.erl): the configured
// authenticators in EMQX's shape, and import_users from a multipart .csv/.json file or a JSON body.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildAdmin } from '../../../../src/admin/server.js';
import { validateConfig } from '../../../../src/config/load.js';
import { FakeBroker } from '../fake-broker.js';
import { basic, harnessEachTest, type Harness } from '../harness.js';

let h: Harness;
harnessEachTest((x) => (h = x));
const ID = 'password_based:built_in_database';

function multipart(fileName: string, content: string): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----outpost-test-boundary';
  const payload = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n--${boundary}--\r\n`,
  );
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('/authentication', () => {
  it('lists the built-in database authenticator in EMQX shape, shows it by id, 404 for others', async () => {
    const list = await h.app.inject({ url: '/api/v5/authentication', headers: h.viewer });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([
      { id: ID, mechanism: 'password_based', backend: 'built_in_database', enable: true, user_id_type: 'username', password_hash_algorithm: { name: 'pbkdf2', mac_fun: 'sha256', iterations: 50000 } },
    ]);
    expect((await h.app.inject({ url: `/api/v5/authentication/${encodeURIComponent(ID)}`, headers: h.viewer })).json()).toEqual(list.json()[0]);
    const nope = await h.app.inject({ url: '/api/v5/authentication/password_based:http', headers: h.viewer });
    expect([nope.statusCode, nope.json().code]).toEqual([404, 'NOT_FOUND']);
  });

  it('lists the HTTP authenticator when it is enabled', async () => {
    const keyFile = join(h.dataDir, 'http-keys');
    writeFileSync(keyFile, 'k:s:viewer\n');
    const config = validateConfig({ node: { data_dir: h.dataDir }, api: { port: 0, api_key_bootstrap_file: keyFile }, authentication: { http: { enable: true, url: 'http://127.0.0.1:9/auth' } } });
    const built = buildAdmin({ broker: new FakeBroker(), log: pino({ level: 'silent' }), config: () => config }, config);
    try {
      const list = (await built.app.inject({ url: '/api/v5/authentication', headers: basic('k', 's') })).json();
      expect(list.map((a: { id: string }) => a.id)).toEqual([ID, 'password_based:http']);
      expect(list[1]).toMatchObject({ backend: 'http', url: 'http://127.0.0.1:9/auth', method: 'post', request_timeout: '5s' });
    } finally {
      await built.app.close();
      await built.trace.close();
    }
  });

  it('imports users from a multipart CSV, a multipart JSON file and a JSON body; type defaults to hash', async () => {
    const url = `/api/v5/authentication/${ID}/import_users`;
    const csv = multipart('users.csv', 'user_id,password,is_superuser\nu1,p1,true\nu2,p2,false\n');
    const r1 = await h.app.inject({ method: 'POST', url: `${url}?type=plain`, headers: { ...h.admin, ...csv.headers }, payload: csv.payload });
    expect([r1.statusCode, r1.json()]).toEqual([200, { total: 2, success: 2, override: 0, skipped: 0, failed: 0 }]);
    expect(h.users.imports[0]!.opts).toEqual({ format: 'csv', type: 'plain' });
    expect(h.users.get('u1')).toEqual({ userId: 'u1', isSuperuser: true });
    const json = multipart('users.json', JSON.stringify([{ user_id: 'u1', password_hash: 'ab', salt: 's', is_superuser: false }]));
    const r2 = await h.app.inject({ method: 'POST', url, headers: { ...h.admin, ...json.headers }, payload: json.payload });
    expect(r2.json()).toMatchObject({ total: 1, override: 1 });
    expect(h.users.imports[1]!.opts).toEqual({ format: 'json', type: 'hash' });
    const r3 = await h.app.inject({ method: 'POST', url: `${url}?type=plain`, headers: h.admin, payload: [{ user_id: 'u3', password: 'p3' }] });
    expect([r3.statusCode, h.users.imports[2]!.opts]).toEqual([200, { format: 'json', type: 'plain' }]);
  });

  it('refuses an unknown file type, a missing file, a bad type and another authenticator', async () => {
    const url = `/api/v5/authentication/${ID}/import_users`;
    const txt = multipart('users.txt', 'x');
    const bad = await h.app.inject({ method: 'POST', url, headers: { ...h.admin, ...txt.headers }, payload: txt.payload });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'BAD_REQUEST']);
    expect(bad.json().message).toMatch(/unsupported_file_format/);
    const none = await h.app.inject({ method: 'POST', url, headers: { ...h.admin, 'content-type': 'application/octet-stream' }, payload: 'x' });
    expect(none.statusCode).toBe(415);
    const noField = await h.app.inject({ method: 'POST', url, headers: { ...h.admin, 'content-type': 'multipart/form-data; boundary=b' }, payload: '--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n' });
    expect(noField.json().message).toMatch(/filename/);
    expect((await h.app.inject({ method: 'POST', url: `${url}?type=md5`, headers: h.admin, payload: [] })).statusCode).toBe(400);
    const http = await h.app.inject({ method: 'POST', url: '/api/v5/authentication/password_based:http/import_users', headers: h.admin, payload: [] });
    expect(http.statusCode).toBe(404);
    expect((await h.app.inject({ method: 'POST', url, headers: h.viewer, payload: [] })).statusCode).toBe(403);
    expect(h.users.imports).toHaveLength(0);
  });
});
