import { afterEach, describe, expect, it } from 'vitest';
import { banAdmin, userDbAdmin } from '../../../src/auth/admin-adapters.js';
import { BanList } from '../../../src/auth/ban-list.js';
import { hashAlgorithmSchema } from '../../../src/auth/config.js';
import { hashPasswordSync, verifyPassword } from '../../../src/auth/hash.js';
import { AUTH_MIGRATIONS } from '../../../src/auth/migrations.js';
import { UserDb } from '../../../src/auth/user-db.js';
import type { Store } from '../../../src/store/store.js';
import { FakeClock, memoryStore } from './fake.js';

let store: Store;
afterEach(() => store?.close());

describe('admin adapters (the HTTP API shapes)', () => {
  it('userDbAdmin: add/get/update/remove synchronously; users verify with the async path', async () => {
    store = memoryStore();
    store.migrate('auth', AUTH_MIGRATIONS);
    const users = new UserDb(store.db, { algorithm: hashAlgorithmSchema.parse({ iterations: 1000 }), importAlgorithm: hashAlgorithmSchema.parse({}), now: () => 1 });
    const a = userDbAdmin(users);
    expect(a.add('u1', 'pw', false)).toBe(true);
    expect(a.add('u1', 'pw', false)).toBe(false);
    expect(a.get('u1')).toEqual({ userId: 'u1', isSuperuser: false });
    expect(await users.verify('u1', 'pw')).toMatchObject({ ok: true });
    expect(a.update('u1', { password: 'new', isSuperuser: true })).toBe(true);
    expect(await users.verify('u1', 'new')).toEqual({ found: true, ok: true, superuser: true });
    expect(a.update('ghost', { password: 'x' })).toBe(false);
    expect(a.list()).toEqual([{ userId: 'u1', isSuperuser: true }]);
    expect(a.remove('u1')).toBe(true);
    expect(a.get('u1')).toBeNull();
  });

  it('banAdmin: until 0 means never, duplicates refused, list/remove/clear', () => {
    store = memoryStore();
    store.migrate('auth', AUTH_MIGRATIONS);
    const clock = new FakeClock();
    const bans = new BanList(store.db, () => clock.now());
    const a = banAdmin(bans);
    const ban = { as: 'clientid' as const, who: 'c1', by: 'api', reason: 'r', at: clock.now(), until: 0 };
    expect(a.add(ban)).toBe(true);
    expect(a.add(ban)).toBe(false);
    expect(a.add({ ...ban, as: 'username', who: 'u', until: clock.now() + 1000 })).toBe(true);
    expect(a.list()).toEqual([ban, { ...ban, as: 'username', who: 'u', until: clock.now() + 1000 }]);
    expect(bans.find('c1', null, '1.1.1.1')?.until).toBeNull();
    expect(a.remove('clientid', 'c1')).toBe(true);
    a.clear();
    expect(a.list()).toEqual([]);
  });

  it('hashPasswordSync produces hashes the async verifier accepts, for every salted algorithm', async () => {
    for (const name of ['pbkdf2', 'scrypt', 'bcrypt', 'sha256', 'md5'] as const) {
      const alg = hashAlgorithmSchema.parse({ name, iterations: 1000, scrypt_n: 1024, salt_rounds: 5 });
      const cred = hashPasswordSync('p@ss', alg);
      expect(await verifyPassword('p@ss', cred)).toBe(true);
      expect(await verifyPassword('p@ss2', cred)).toBe(false);
    }
  });
});
