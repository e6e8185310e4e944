import { afterEach, describe, expect, it } from 'vitest';
import { hashAlgorithmSchema } from '../../../src/auth/config.js';
import { AuthError } from '../../../src/auth/errors.js';
import { AUTH_MIGRATIONS } from '../../../src/auth/migrations.js';
import { UserDb } from '../../../src/auth/user-db.js';
import type { Store } from '../../../src/store/store.js';
import { memoryStore } from './fake.js';

let store: Store;
function db(): UserDb {
  store = memoryStore();
  store.migrate('auth', AUTH_MIGRATIONS);
  return new UserDb(store.db, {
    algorithm: hashAlgorithmSchema.parse({ name: 'pbkdf2', iterations: 1000 }),
    importAlgorithm: hashAlgorithmSchema.parse({ name: 'sha256', salt_position: 'prefix' }),
    now: () => 42,
  });
}
afterEach(() => store?.close());

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as AuthError).code;
  }
  return undefined;
}

describe('UserDb', () => {
  it('adds, verifies, changes the password and removes a user', async () => {
    const u = db();
    const changes: string[] = [];
    u.onChange((id) => changes.push(id));
    const info = await u.add('u1', 'pw1', { superuser: true });
    expect(info).toEqual({ user_id: 'u1', is_superuser: true, algorithm: 'pbkdf2', created_at: 42 });
    expect(await u.verify('u1', 'pw1')).toEqual({ found: true, ok: true, superuser: true });
    expect(await u.verify('u1', 'nope')).toEqual({ found: true, ok: false, superuser: true });
    expect(await u.verify('ghost', 'pw1')).toEqual({ found: false });
    await u.passwd('u1', 'pw2');
    expect((await u.verify('u1', 'pw1')).found && (await u.verify('u1', 'pw1'))).toMatchObject({ ok: false });
    expect(await u.verify('u1', 'pw2')).toMatchObject({ ok: true });
    await u.update('u1', { superuser: false });
    expect(u.get('u1')?.is_superuser).toBe(false);
    expect(u.remove('u1')).toBe(true);
    expect(u.remove('u1')).toBe(false);
    expect(u.count()).toBe(0);
    expect(changes).toEqual(['u1', 'u1', 'u1', 'u1']);
  });

  it('refuses duplicates, empty passwords and unknown users with stable codes', async () => {
    const u = db();
    await u.add('u1', 'x');
    expect(await code(u.add('u1', 'y'))).toBe('OUTPOST_ERR_AUTH_USER_EXISTS');
    expect(await code(u.add('u2', ''))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    expect(await code(u.add('', 'x'))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    expect(await code(u.passwd('ghost', 'x'))).toBe('OUTPOST_ERR_AUTH_USER_NOT_FOUND');
  });

  it('lists with paging, like and superuser filters', async () => {
    const u = db();
    for (const id of ['dev-1', 'dev-2', 'dev-3', 'admin']) await u.add(id, 'p', { superuser: id === 'admin' });
    expect(u.list({ page: 1, limit: 2 })).toMatchObject({ count: 4, data: [{ user_id: 'admin' }, { user_id: 'dev-1' }] });
    expect(u.list({ page: 2, limit: 2 }).data.map((d) => d.user_id)).toEqual(['dev-2', 'dev-3']);
    expect(u.list({ like: 'dev' }).count).toBe(3);
    expect(u.list({ superuser: true }).data.map((d) => d.user_id)).toEqual(['admin']);
  });

  it('imports an EMQX CSV hash export (sha256, salt prefix) and those users log in', async () => {
    const u = db();
    const csv = [
      'user_id,password_hash,salt,is_superuser',
      'emqx1,4939df65b99ab0934745b8de46b25bf764a8102be9bacec172fedf15c98740fa,e2dfb4ee6b5a0d69f1b0c0b3b4e1d1a1,true',
      '"emqx2",4939df65b99ab0934745b8de46b25bf764a8102be9bacec172fedf15c98740fa,e2dfb4ee6b5a0d69f1b0c0b3b4e1d1a1,false',
      ',missing-user,,false',
    ].join('\r\n');
    expect(await u.importUsers(csv, { format: 'csv', type: 'hash' })).toEqual({ total: 3, success: 2, override: 0, skipped: 0, failed: 1 });
    expect(await u.verify('emqx1', 'public')).toEqual({ found: true, ok: true, superuser: true });
    expect(await u.verify('emqx2', 'public')).toEqual({ found: true, ok: true, superuser: false });
    expect(u.get('emqx1')?.algorithm).toBe('sha256');
  });

  it('imports EMQX JSON (hash with an explicit algorithm, and plain) and counts overrides', async () => {
    const u = db();
    const json = JSON.stringify([{ user_id: 'j1', password_hash: 'f11c582bc8ca10cf75ffc80e773100d84fec12a81d264905c69169bac9c27d0a', salt: 'e2dfb4ee6b5a0d69f1b0c0b3b4e1d1a1', is_superuser: false }]);
    const alg = hashAlgorithmSchema.parse({ name: 'sha256', salt_position: 'suffix' });
    expect(await u.importUsers(json, { format: 'json', type: 'hash', algorithm: alg })).toMatchObject({ success: 1 });
    expect(await u.verify('j1', 'public')).toMatchObject({ ok: true });
    const plain = JSON.stringify([
      { user_id: 'j1', password: 'new', is_superuser: true },
      { user_id: 'p2', password: 'pp' },
    ]);
    expect(await u.importUsers(plain, { format: 'json', type: 'plain' })).toEqual({ total: 2, success: 2, override: 1, skipped: 0, failed: 0 });
    expect(await u.verify('j1', 'new')).toEqual({ found: true, ok: true, superuser: true });
    expect(u.get('p2')?.algorithm).toBe('pbkdf2');
    expect(await code(u.importUsers('{not json', { format: 'json', type: 'plain' }))).toBe('OUTPOST_ERR_AUTH_IMPORT_FORMAT');
  });

  it('exports in EMQX shape and the export re-imports', async () => {
    const a = db();
    await a.add('x', 'secret');
    const exported = await a.exportUsers();
    expect(exported[0]).toMatchObject({ user_id: 'x', is_superuser: false, salt: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const s1 = store;
    const b = db();
    await b.importUsers(JSON.stringify(exported), { format: 'json', type: 'hash', algorithm: exported[0]!.algorithm });
    expect(await b.verify('x', 'secret')).toMatchObject({ ok: true });
    s1.close();
  });
});
