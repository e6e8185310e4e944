// Adapters from the auth services to the synchronous shapes the HTTP API declares in
// src/admin/deps.ts (UserDbAdmin, BanAdmin). The shapes are repeated here structurally so auth does
// not import admin; the runtime passes `userDbAdmin(auth.users)` and `banAdmin(auth.bans)`.
import { BAN_KINDS, type BanKind, type BanList } from './ban-list.js';
import { AuthError } from './errors.js';
import type { UserDb } from './user-db.js';

export interface UserRecordShape {
  userId: string;
  isSuperuser: boolean;
}

export interface BanRecordShape {
  as: BanKind;
  who: string;
  by: string;
  reason: string;
  at: number;
  /** 0 = never. */
  until: number;
}

export function userDbAdmin(users: UserDb) {
  const rec = (u: { user_id: string; is_superuser: boolean }): UserRecordShape => ({ userId: u.user_id, isSuperuser: u.is_superuser });
  return {
    list: (): UserRecordShape[] => users.list({ limit: 10000 }).data.map(rec),
    get: (userId: string): UserRecordShape | null => {
      const u = users.get(userId);
      return u ? rec(u) : null;
    },
    add: (userId: string, password: string, isSuperuser: boolean): boolean => {
      try {
        users.addSync(userId, password, { superuser: isSuperuser });
        return true;
      } catch (err) {
        if (err instanceof AuthError && err.code === 'OUTPOST_ERR_AUTH_USER_EXISTS') return false;
        throw err;
      }
    },
    remove: (userId: string): boolean => users.remove(userId),
    importUsers: (text: string, opts: { format: 'csv' | 'json'; type: 'plain' | 'hash' }) => users.importUsers(text, opts),
    update: (userId: string, changes: { password?: string; isSuperuser?: boolean }): boolean => {
      if (!users.get(userId)) return false;
      users.updateSync(userId, { ...(changes.password !== undefined ? { password: changes.password } : {}), ...(changes.isSuperuser !== undefined ? { superuser: changes.isSuperuser } : {}) });
      return true;
    },
  };
}

export function banAdmin(bans: BanList) {
  return {
    list: (): BanRecordShape[] => bans.list(1, 10000).data.map((b) => ({ ...b, until: b.until ?? 0 })),
    add: (b: BanRecordShape): boolean => {
      if (!BAN_KINDS.includes(b.as)) throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', `as must be one of ${BAN_KINDS.join(', ')}`);
      if (bans.get(b.as, b.who)) return false;
      bans.add({ as: b.as, who: b.who, by: b.by, reason: b.reason, at: b.at, until: b.until > 0 ? b.until : null });
      return true;
    },
    remove: (as: BanKind, who: string): boolean => bans.remove(as, who),
    clear: (): void => bans.clear(),
  };
}
