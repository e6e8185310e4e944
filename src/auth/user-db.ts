// The built-in user database (EMQX built_in_database authenticator, emqx-broker-behaviour.md §8)
// in the shared SQLite file. The CLI and HTTP API manage users through this class; the
// authenticator reads it. Each user keeps the algorithm it was hashed with, so users imported from
// EMQX (sha256 + salt) and users created here (pbkdf2) live side by side.
import type { Database as Db, Statement } from 'better-sqlite3';
import type { HashAlgorithm } from './config.js';
import { parseCsvObjects } from './csv.js';
import { AuthError } from './errors.js';
import { hashPassword, hashPasswordSync, verifyPassword, type StoredCredential } from './hash.js';

export interface UserInfo {
  user_id: string;
  is_superuser: boolean;
  /** Algorithm name the stored hash uses. */
  algorithm: HashAlgorithm['name'];
  created_at: number;
}

/** One user in EMQX's export shape (import_users?type=hash). */
export interface ExportedUser {
  user_id: string;
  password_hash: string;
  salt: string;
  is_superuser: boolean;
}

export interface ListUsersQuery {
  page?: number;
  limit?: number;
  /** Substring of the user id (EMQX like_user_id). */
  like?: string;
  superuser?: boolean;
}

export interface ImportOptions {
  format: 'csv' | 'json';
  /** plain: rows carry `password`; hash: rows carry `password_hash` and `salt` (EMQX's two import types). */
  type: 'plain' | 'hash';
  /** For type=hash: the algorithm the source used (default: authentication.import_hash_algorithm). */
  algorithm?: HashAlgorithm;
}

/** EMQX's import result shape. */
export interface ImportResult {
  total: number;
  success: number;
  override: number;
  skipped: number;
  failed: number;
}

export type VerifyOutcome = { found: false } | { found: true; ok: boolean; superuser: boolean };

interface UserRow {
  user_id: string;
  password_hash: string;
  salt: string;
  algorithm: string;
  is_superuser: number;
  created_at: number;
}

export interface UserDbOptions {
  /** Algorithm for new users with a plain password. */
  algorithm: HashAlgorithm;
  /** Algorithm assumed for hash imports that name none. */
  importAlgorithm: HashAlgorithm;
  now: () => number;
}

export class UserDb {
  private readonly st: Record<'get' | 'upsert' | 'insert' | 'del' | 'count' | 'setSuper' | 'setHash', Statement>;
  private readonly changeListeners: ((userId: string) => void)[] = [];
  /** Set by reload(): the config may change algorithms live. */
  private opts: UserDbOptions;

  constructor(
    private readonly db: Db,
    opts: UserDbOptions,
  ) {
    this.opts = opts;
    this.st = {
      get: db.prepare('SELECT * FROM auth_users WHERE user_id = ?'),
      upsert: db.prepare(
        'INSERT INTO auth_users (user_id, password_hash, salt, algorithm, is_superuser, created_at) VALUES (?,?,?,?,?,?) ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash, salt = excluded.salt, algorithm = excluded.algorithm, is_superuser = excluded.is_superuser',
      ),
      insert: db.prepare('INSERT INTO auth_users (user_id, password_hash, salt, algorithm, is_superuser, created_at) VALUES (?,?,?,?,?,?)'),
      del: db.prepare('DELETE FROM auth_users WHERE user_id = ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM auth_users'),
      setSuper: db.prepare('UPDATE auth_users SET is_superuser = ? WHERE user_id = ?'),
      setHash: db.prepare('UPDATE auth_users SET password_hash = ?, salt = ?, algorithm = ? WHERE user_id = ?'),
    };
  }

  setOptions(opts: UserDbOptions): void {
    this.opts = opts;
  }

  /** Called with the user id whenever a user's credentials change or the user goes (cache invalidation). */
  onChange(fn: (userId: string) => void): void {
    this.changeListeners.push(fn);
  }

  private changed(userId: string): void {
    for (const fn of this.changeListeners) fn(userId);
  }

  count(): number {
    return (this.st.count.get() as { n: number }).n;
  }

  get(userId: string): UserInfo | null {
    const r = this.st.get.get(userId) as UserRow | undefined;
    return r ? toInfo(r) : null;
  }

  async add(userId: string, password: string, opts: { superuser?: boolean; algorithm?: HashAlgorithm } = {}): Promise<UserInfo> {
    checkUserId(userId);
    if (typeof password !== 'string' || password === '') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'password must be a non-empty string');
    if (this.get(userId)) throw new AuthError('OUTPOST_ERR_AUTH_USER_EXISTS', userId);
    const cred = await hashPassword(password, opts.algorithm ?? this.opts.algorithm);
    // Checked again after the await: another add may have raced us while hashing.
    try {
      this.st.insert.run(userId, cred.hash, cred.salt, JSON.stringify(cred.algorithm), opts.superuser ? 1 : 0, this.opts.now());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new AuthError('OUTPOST_ERR_AUTH_USER_EXISTS', userId);
      throw err;
    }
    this.changed(userId);
    return this.get(userId)!;
  }

  /** Blocking add for synchronous callers (admin API adapters); same rules as add(). */
  addSync(userId: string, password: string, opts: { superuser?: boolean; algorithm?: HashAlgorithm } = {}): UserInfo {
    checkUserId(userId);
    if (typeof password !== 'string' || password === '') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'password must be a non-empty string');
    if (this.get(userId)) throw new AuthError('OUTPOST_ERR_AUTH_USER_EXISTS', userId);
    const cred = hashPasswordSync(password, opts.algorithm ?? this.opts.algorithm);
    this.st.insert.run(userId, cred.hash, cred.salt, JSON.stringify(cred.algorithm), opts.superuser ? 1 : 0, this.opts.now());
    this.changed(userId);
    return this.get(userId)!;
  }

  /** Blocking update for synchronous callers. */
  updateSync(userId: string, change: { password?: string; superuser?: boolean }): UserInfo {
    if (!this.get(userId)) throw new AuthError('OUTPOST_ERR_AUTH_USER_NOT_FOUND', userId);
    if (change.password !== undefined) {
      if (typeof change.password !== 'string' || change.password === '') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'password must be a non-empty string');
      const cred = hashPasswordSync(change.password, this.opts.algorithm);
      this.st.setHash.run(cred.hash, cred.salt, JSON.stringify(cred.algorithm), userId);
    }
    if (change.superuser !== undefined) this.st.setSuper.run(change.superuser ? 1 : 0, userId);
    this.changed(userId);
    return this.get(userId)!;
  }

  /** Change the password and/or the superuser flag (EMQX PUT …/users/{id}). */
  async update(userId: string, change: { password?: string; superuser?: boolean }): Promise<UserInfo> {
    if (!this.get(userId)) throw new AuthError('OUTPOST_ERR_AUTH_USER_NOT_FOUND', userId);
    if (change.password !== undefined) {
      if (typeof change.password !== 'string' || change.password === '') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'password must be a non-empty string');
      const cred = await hashPassword(change.password, this.opts.algorithm);
      this.st.setHash.run(cred.hash, cred.salt, JSON.stringify(cred.algorithm), userId);
    }
    if (change.superuser !== undefined) this.st.setSuper.run(change.superuser ? 1 : 0, userId);
    const info = this.get(userId);
    if (!info) throw new AuthError('OUTPOST_ERR_AUTH_USER_NOT_FOUND', userId);
    this.changed(userId);
    return info;
  }

  passwd(userId: string, password: string): Promise<UserInfo> {
    return this.update(userId, { password });
  }

  remove(userId: string): boolean {
    const n = this.st.del.run(userId).changes;
    if (n > 0) this.changed(userId);
    return n > 0;
  }

  list(q: ListUsersQuery = {}): { data: UserInfo[]; count: number } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.like) {
      where.push("instr(user_id, ?) > 0");
      args.push(q.like);
    }
    if (q.superuser !== undefined) {
      where.push('is_superuser = ?');
      args.push(q.superuser ? 1 : 0);
    }
    const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const limit = Math.max(1, Math.min(q.limit ?? 100, 10000));
    const page = Math.max(1, q.page ?? 1);
    const count = (this.db.prepare(`SELECT COUNT(*) AS n FROM auth_users${w}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM auth_users${w} ORDER BY user_id LIMIT ? OFFSET ?`).all(...args, limit, (page - 1) * limit) as UserRow[];
    return { data: rows.map(toInfo), count };
  }

  /** All users in EMQX's hash export shape (the algorithm is per user here, per authenticator there). */
  async exportUsers(): Promise<(ExportedUser & { algorithm: HashAlgorithm })[]> {
    const rows = this.db.prepare('SELECT * FROM auth_users ORDER BY user_id').all() as UserRow[];
    const out: (ExportedUser & { algorithm: HashAlgorithm })[] = [];
    for (const r of rows) {
      out.push({ user_id: r.user_id, password_hash: r.password_hash, salt: r.salt, is_superuser: r.is_superuser === 1, algorithm: await parseAlgorithm(r.algorithm) });
    }
    return out;
  }

  /** Import users from EMQX's CSV/JSON files; an existing user is overwritten (counted in `override`). */
  async importUsers(text: string, opts: ImportOptions): Promise<ImportResult> {
    let rows: Record<string, unknown>[];
    if (opts.format === 'json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new AuthError('OUTPOST_ERR_AUTH_IMPORT_FORMAT', (err as Error).message);
      }
      if (!Array.isArray(parsed)) throw new AuthError('OUTPOST_ERR_AUTH_IMPORT_FORMAT', 'expected a JSON array of users');
      rows = parsed.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
    } else {
      rows = parseCsvObjects(text);
    }
    const res: ImportResult = { total: rows.length, success: 0, override: 0, skipped: 0, failed: 0 };
    const alg = opts.algorithm ?? this.opts.importAlgorithm;
    const prepared: { userId: string; cred: StoredCredential; superuser: boolean }[] = [];
    for (const r of rows) {
      const userId = typeof r.user_id === 'string' ? r.user_id : '';
      if (userId === '' || userId.length > 256) {
        res.failed++;
        continue;
      }
      const superuser = r.is_superuser === true || r.is_superuser === 'true' || r.is_superuser === 1 || r.is_superuser === '1';
      if (opts.type === 'plain') {
        if (typeof r.password !== 'string' || r.password === '') {
          res.failed++;
          continue;
        }
        prepared.push({ userId, cred: await hashPassword(r.password, this.opts.algorithm), superuser });
      } else {
        if (typeof r.password_hash !== 'string' || r.password_hash === '') {
          res.failed++;
          continue;
        }
        const salt = typeof r.salt === 'string' ? r.salt : '';
        prepared.push({ userId, cred: { hash: r.password_hash, salt, algorithm: alg }, superuser });
      }
    }
    const now = this.opts.now();
    this.db.transaction(() => {
      for (const p of prepared) {
        if (this.st.get.get(p.userId)) res.override++;
        this.st.upsert.run(p.userId, p.cred.hash, p.cred.salt, JSON.stringify(p.cred.algorithm), p.superuser ? 1 : 0, now);
        res.success++;
      }
    })();
    for (const p of prepared) this.changed(p.userId);
    return res;
  }

  /** found:false when the user does not exist (the authenticator then ignores, as EMQX does). */
  async verify(userId: string, password: Buffer | string): Promise<VerifyOutcome> {
    const r = this.st.get.get(userId) as UserRow | undefined;
    if (!r) return { found: false };
    const ok = await verifyPassword(password, { hash: r.password_hash, salt: r.salt, algorithm: await parseAlgorithm(r.algorithm) });
    return { found: true, ok, superuser: r.is_superuser === 1 };
  }
}

function checkUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId === '' || userId.length > 256) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'user_id must be 1..256 characters');
}

function rawAlgorithm(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
}

/**
 * A row's algorithm, validated (defaults filled in). The schema (zod) is imported at the first
 * password check rather than at start: a gateway without password logins never loads it.
 */
async function parseAlgorithm(json: string): Promise<HashAlgorithm> {
  const { hashAlgorithmSchema } = await import('./config.js');
  return hashAlgorithmSchema.parse(rawAlgorithm(json));
}

function toInfo(r: UserRow): UserInfo {
  // Rows are written from validated algorithms; listing needs only the name (schema default pbkdf2).
  const raw = rawAlgorithm(r.algorithm);
  const name = typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: HashAlgorithm['name'] }).name : 'pbkdf2';
  return { user_id: r.user_id, is_superuser: r.is_superuser === 1, algorithm: name, created_at: r.created_at };
}
