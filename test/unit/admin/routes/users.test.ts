// /users as EMQX 5 (emqx_dashboard_api.erl): list/create/update/delete/change_pwd on the same
// admin-users.json the login reads; deleting a user or changing its password revokes its tokens,
// the last user and oneself cannot be deleted, API keys cannot manage users.
import { describe, expect, it } from 'vitest';
import { readAdminUsers, setAdminPassword } from '../../../../src/admin/credentials.js';
import { harnessEachTest, type Harness } from '../harness.js';

let h: Harness;
harnessEachTest((x) => (h = x));

async function login(username: string, password: string): Promise<{ authorization: string }> {
  const r = await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username, password } });
  expect(r.statusCode).toBe(200);
  return { authorization: `Bearer ${r.json().token}` };
}

const ok = (auth: { authorization: string }) => h.app.inject({ url: '/api/v5/clients', headers: auth }).then((r) => r.statusCode);

describe('/users', () => {
  it('creates, lists, updates the description of and deletes a dashboard user; the new user can log in', async () => {
    await setAdminPassword(h.dataDir, 'admin', 'correct-horse');
    const auth = await login('admin', 'correct-horse');
    const made = await h.app.inject({ method: 'POST', url: '/api/v5/users', headers: auth, payload: { username: 'ops2', password: 'battery-staple', description: 'night shift' } });
    expect([made.statusCode, made.json()]).toEqual([200, { username: 'ops2', role: 'administrator', description: 'night shift', backend: 'local' }]);
    const list = (await h.app.inject({ url: '/api/v5/users', headers: auth })).json();
    expect(list).toEqual([
      { username: 'admin', role: 'administrator', description: '', backend: 'local' },
      { username: 'ops2', role: 'administrator', description: 'night shift', backend: 'local' },
    ]);
    expect(await ok(await login('ops2', 'battery-staple'))).toBe(200);
    const put = await h.app.inject({ method: 'PUT', url: '/api/v5/users/ops2', headers: auth, payload: { description: 'day shift' } });
    expect(put.json().description).toBe('day shift');
    expect(readAdminUsers(h.dataDir).find((u) => u.username === 'ops2')?.description).toBe('day shift');
    const dup = await h.app.inject({ method: 'POST', url: '/api/v5/users', headers: auth, payload: { username: 'ops2', password: 'battery-staple' } });
    expect([dup.statusCode, dup.json().code]).toEqual([400, 'BAD_REQUEST']);
    const short = await h.app.inject({ method: 'POST', url: '/api/v5/users', headers: auth, payload: { username: 'x', password: 'short' } });
    expect([short.statusCode, short.json().message]).toEqual([400, 'The range of password length is 8~64']);
    const del = await h.app.inject({ method: 'DELETE', url: '/api/v5/users/ops2', headers: auth });
    expect(del.statusCode).toBe(204);
    expect(readAdminUsers(h.dataDir).map((u) => u.username)).toEqual(['admin']);
    for (const [method, url] of [['PUT', '/api/v5/users/nope'], ['DELETE', '/api/v5/users/nope'], ['POST', '/api/v5/users/nope/change_pwd']] as const) {
      const r = await h.app.inject({ method, url, headers: auth, payload: method === 'PUT' ? { description: 'x' } : method === 'POST' ? { old_pwd: 'aaaaaaaa', new_pwd: 'bbbbbbbb' } : undefined });
      expect([r.statusCode, r.json().code]).toEqual([404, 'USER_NOT_FOUND']);
    }
  });

  it('deleting a user revokes its live tokens; oneself and the last user cannot be deleted', async () => {
    await setAdminPassword(h.dataDir, 'admin', 'correct-horse');
    await setAdminPassword(h.dataDir, 'other', 'battery-staple');
    const auth = await login('admin', 'correct-horse');
    const other = await login('other', 'battery-staple');
    expect(await ok(other)).toBe(200);
    const self = await h.app.inject({ method: 'DELETE', url: '/api/v5/users/admin', headers: auth });
    expect([self.statusCode, self.json().code, self.json().message]).toEqual([400, 'NOT_ALLOWED', 'Cannot delete self']);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/users/other', headers: auth })).statusCode).toBe(204);
    expect(await ok(other)).toBe(401);
    // The local outpostctl key is not a user: it meets the last-user rule instead.
    const last = await h.app.inject({ method: 'DELETE', url: '/api/v5/users/admin', headers: await localKey() });
    expect([last.statusCode, last.json().code]).toEqual([400, 'NOT_ALLOWED']);
    expect(await ok(auth)).toBe(200);
  });

  it('change_pwd needs the old password, then old tokens stop working and the new password logs in', async () => {
    await setAdminPassword(h.dataDir, 'admin', 'correct-horse');
    const auth = await login('admin', 'correct-horse');
    const wrong = await h.app.inject({ method: 'POST', url: '/api/v5/users/admin/change_pwd', headers: auth, payload: { old_pwd: 'not-it-at-all', new_pwd: 'battery-staple' } });
    expect([wrong.statusCode, wrong.json().code]).toEqual([400, 'ERROR_PWD_NOT_MATCH']);
    const empty = await h.app.inject({ method: 'POST', url: '/api/v5/users/admin/change_pwd', headers: auth, payload: { old_pwd: '', new_pwd: 'battery-staple' } });
    expect([empty.statusCode, empty.json().code]).toEqual([400, 'BAD_REQUEST']);
    const r = await h.app.inject({ method: 'POST', url: '/api/v5/users/admin/change_pwd', headers: auth, payload: { old_pwd: 'correct-horse', new_pwd: 'battery-staple' } });
    expect(r.statusCode).toBe(204);
    expect(await ok(auth)).toBe(401);
    expect((await h.app.inject({ method: 'POST', url: '/api/v5/login', payload: { username: 'admin', password: 'correct-horse' } })).statusCode).toBe(401);
    expect(await ok(await login('admin', 'battery-staple'))).toBe(200);
  });

  it('a password changed in the file behind the daemon (outpostctl admins passwd) revokes the tokens too', async () => {
    await setAdminPassword(h.dataDir, 'admin', 'correct-horse');
    const auth = await login('admin', 'correct-horse');
    expect(await ok(auth)).toBe(200);
    await setAdminPassword(h.dataDir, 'admin', 'battery-staple');
    expect(await ok(auth)).toBe(401);
  });

  it('API keys cannot manage users, even an administrator key', async () => {
    for (const [method, url] of [['GET', '/api/v5/users'], ['POST', '/api/v5/users'], ['DELETE', '/api/v5/users/admin']] as const) {
      const r = await h.app.inject({ method, url, headers: h.admin, ...(method === 'POST' && { payload: { username: 'a', password: 'bbbbbbbb' } }) });
      expect([r.statusCode, r.json().code]).toEqual([403, 'FORBIDDEN']);
    }
  });
});

async function localKey(): Promise<{ authorization: string }> {
  const secret = 'local-test-secret';
  h.built.credentials.adoptLocalKey(secret);
  const { LOCAL_KEY_NAME } = await import('../../../../src/admin/local-key.js');
  return { authorization: 'Basic ' + Buffer.from(`${LOCAL_KEY_NAME}:${secret}`).toString('base64') };
}
