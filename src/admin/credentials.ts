// Who may call the API. Three kinds of credential, none of them a default password:
// - API keys from the bootstrap file (EMQX api_key.bootstrap_file: `key:secret[:role]` lines), HTTP Basic;
// - dashboard users whose bcrypt hashes `outpostctl admin passwd` writes to <data_dir>/admin-users.json,
//   exchanged for a bearer token at POST /api/v5/login;
// - a per-start random key in <data_dir>/api-local.key (mode 0600), so outpostctl on the box itself
//   works like `emqx ctl` for whoever can read the data directory, and for nobody else.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { ADMIN_USERS_FILE, LOCAL_KEY_FILE, LOCAL_KEY_NAME } from './local-key.js';

export const ROLES = ['administrator', 'viewer', 'publisher'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKey {
  key: string;
  secret: string;
  role: Role;
}

export interface Principal {
  name: string;
  role: Role;
  via: 'api_key' | 'token' | 'local' | 'none';
}

export { ADMIN_USERS_FILE, LOCAL_KEY_FILE, LOCAL_KEY_NAME };

export class CredentialFileError extends Error {
  readonly code = 'OUTPOST_ERR_API_KEY_FILE';
}

/** Parse a bootstrap file; blank lines and `#` comments are skipped, a malformed line is an error naming it. */
export function parseApiKeyFile(text: string, source = 'api key file'): ApiKey[] {
  const keys: ApiKey[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(':');
    const [key, secret, role = 'administrator'] = parts;
    if (parts.length < 2 || parts.length > 3 || !key || !secret) {
      throw new CredentialFileError(`${source}:${i + 1}: expected key:secret[:role]`);
    }
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new CredentialFileError(`${source}:${i + 1}: unknown role '${role}' (administrator, viewer, publisher)`);
    }
    keys.push({ key, secret, role: role as Role });
  });
  return keys;
}

export interface AdminUser {
  username: string;
  /** bcrypt hash (outpostctl admin passwd), or `$scrypt$N$r$p$salt$key` (the first-run admin, first-run.ts). */
  hash: string;
  description?: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `$scrypt$N$r$p$salt$key` (base64), with Node's native scrypt. */
export async function scryptHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keylen);
  return `$scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

async function scryptVerify(password: string, hash: string): Promise<boolean> {
  const [, , n, r, p, salt, key] = hash.split('$');
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  // Only parameters this module writes: a tampered file must not make a login allocate gigabytes.
  if (N !== SCRYPT.N || R !== SCRYPT.r || P !== SCRYPT.p || !salt || !key) return false;
  const want = Buffer.from(key, 'base64');
  const got = await scryptAsync(password, Buffer.from(salt, 'base64'), N, R, P, want.length || 1);
  return want.length > 0 && timingSafeEqual(got, want);
}

export function readAdminUsers(dataDir: string): AdminUser[] {
  const path = join(dataDir, ADMIN_USERS_FILE);
  if (!existsSync(path)) return [];
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (u): u is AdminUser => typeof u === 'object' && u !== null && typeof (u as AdminUser).username === 'string' && typeof (u as AdminUser).hash === 'string',
  );
}

export function writeFileAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Does this password match the stored hash (bcrypt or the first-run scrypt form)? */
export function verifyAdminPassword(password: string, hash: string): Promise<boolean> {
  return hash.startsWith('$scrypt$') ? scryptVerify(password, hash) : bcrypt.compare(password, hash);
}

function writeAdminUsers(dataDir: string, users: AdminUser[]): void {
  writeFileAtomic(join(dataDir, ADMIN_USERS_FILE), JSON.stringify(users, null, 2) + '\n', 0o600);
}

/** Why an admin-user change was refused: the API maps each to EMQX's code. */
export type AdminChangeError = 'not_found' | 'exists' | 'last_admin' | 'password_error' | 'bad_password';

/** EMQX's password rule (emqx_dashboard_admin:legal_password): 8..64 ASCII characters. */
export function passwordProblem(password: string): string | null {
  if (password.length < 8 || password.length > 64) return 'The range of password length is 8~64';
  if (!/^[\x20-\x7e]+$/.test(password)) return 'Only ascii characters are allowed in the password';
  return null;
}

/** Add a dashboard user; refuses an existing name. */
export async function addAdminUser(dataDir: string, username: string, password: string, description = ''): Promise<AdminChangeError | null> {
  if (readAdminUsers(dataDir).some((u) => u.username === username)) return 'exists';
  const hash = await bcrypt.hash(password, 10);
  // Re-read after the hash (it yields): another writer may have added the same name meanwhile.
  const users = readAdminUsers(dataDir);
  if (users.some((u) => u.username === username)) return 'exists';
  users.push({ username, hash, ...(description !== '' && { description }) });
  writeAdminUsers(dataDir, users);
  return null;
}

export function setAdminDescription(dataDir: string, username: string, description: string): AdminUser | null {
  const users = readAdminUsers(dataDir);
  const u = users.find((x) => x.username === username);
  if (!u) return null;
  u.description = description;
  writeAdminUsers(dataDir, users);
  return u;
}

/** Delete a dashboard user, never the last one (the dashboard would lock everyone out). */
export function deleteAdminUser(dataDir: string, username: string): AdminChangeError | null {
  const users = readAdminUsers(dataDir);
  if (!users.some((u) => u.username === username)) return 'not_found';
  if (users.length === 1) return 'last_admin';
  writeAdminUsers(dataDir, users.filter((u) => u.username !== username));
  return null;
}

/** Change a password given the old one (EMQX change_pwd); keeps the description. */
export async function changeAdminPassword(dataDir: string, username: string, oldPassword: string, newPassword: string): Promise<AdminChangeError | null> {
  const before = readAdminUsers(dataDir).find((u) => u.username === username);
  if (!before) return 'not_found';
  if (!(await verifyAdminPassword(oldPassword, before.hash))) return 'password_error';
  const hash = await bcrypt.hash(newPassword, 10);
  const users = readAdminUsers(dataDir);
  const u = users.find((x) => x.username === username);
  if (!u) return 'not_found';
  u.hash = hash;
  writeAdminUsers(dataDir, users);
  return null;
}

/** Set (or add) a dashboard user's password. The daemon reads the file at each login, so no reload is needed. */
export async function setAdminPassword(dataDir: string, username: string, password: string): Promise<void> {
  if (password.length < 8) throw new CredentialFileError('password must be at least 8 characters');
  const hash = await bcrypt.hash(password, 10);
  const users = readAdminUsers(dataDir);
  const u = users.find((x) => x.username === username);
  // Keep the entry (and its description) when it exists.
  if (u) u.hash = hash;
  else users.push({ username, hash });
  writeAdminUsers(dataDir, users);
}

function sameSecret(a: string, b: string): boolean {
  // Compare digests so the comparison time depends on neither length nor content.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** bcrypt of a throwaway string, cost 10 like real entries. */
const DUMMY_HASH = '$2b$10$9riYuecu//CTQcd6ET8HLOqGksCjtR1RMyjgRzNSykta7A08PGkx6';

interface Session {
  username: string;
  /** The password hash the token was issued under: a changed password or a deleted user revokes it. */
  hash: string;
  expiresAt: number;
}

export class Credentials {
  private readonly keys: ApiKey[];
  private readonly tokens = new Map<string, Session>();
  private localSecret: string | null = null;

  constructor(
    keys: ApiKey[],
    private readonly dataDir: string,
    private readonly tokenTtlMs: number,
    private readonly now: () => number,
  ) {
    this.keys = keys;
  }

  /** Write a fresh local key for outpostctl; returns its path. */
  writeLocalKey(): string {
    this.localSecret = randomBytes(24).toString('hex');
    const path = join(this.dataDir, LOCAL_KEY_FILE);
    writeFileAtomic(path, `${LOCAL_KEY_NAME}:${this.localSecret}\n`, 0o600);
    return path;
  }

  /** Use a local key that was already written (the lazy API front wrote it at start). */
  adoptLocalKey(secret: string): void {
    this.localSecret = secret;
  }

  removeLocalKey(): void {
    if (this.localSecret === null) return;
    this.localSecret = null;
    rmSync(join(this.dataDir, LOCAL_KEY_FILE), { force: true });
  }

  /** Keys kept elsewhere (API keys made over /api_key, api-keys.ts), checked after the bootstrap file's. */
  private readonly keySources: { check(key: string, secret: string): Principal | null }[] = [];

  addKeySource(source: { check(key: string, secret: string): Principal | null }): void {
    this.keySources.push(source);
  }

  checkBasic(key: string, secret: string): Principal | null {
    let found: Principal | null = null;
    for (const s of this.keySources) found ??= s.check(key, secret);
    for (const k of this.keys) {
      // No early exit, so timing does not reveal which key names exist.
      if (sameSecret(k.key, key) && sameSecret(k.secret, secret)) found = { name: k.key, role: k.role, via: 'api_key' };
    }
    if (!found && this.localSecret !== null && key === LOCAL_KEY_NAME && sameSecret(this.localSecret, secret)) {
      found = { name: LOCAL_KEY_NAME, role: 'administrator', via: 'local' };
    }
    return found;
  }

  async login(username: string, password: string): Promise<{ token: string; expiresAt: number } | null> {
    const user = readAdminUsers(this.dataDir).find((u) => u.username === username);
    // Compare against a dummy hash for unknown users so both paths cost one bcrypt.
    const ok = await verifyAdminPassword(password, user?.hash ?? DUMMY_HASH);
    if (!user || !ok) return null;
    const token = randomBytes(32).toString('hex');
    const expiresAt = this.now() + this.tokenTtlMs;
    this.tokens.set(token, { username, hash: user.hash, expiresAt });
    this.sweep();
    return { token, expiresAt };
  }

  checkBearer(token: string): Principal | 'expired' | null {
    const s = this.tokens.get(token);
    if (!s) return null;
    if (this.now() >= s.expiresAt) {
      this.tokens.delete(token);
      return 'expired';
    }
    // The admin file is the truth (outpostctl admins writes it without the daemon): a token whose
    // user is gone or whose password changed since login is revoked.
    if (this.adminHash(s.username) !== s.hash) {
      this.tokens.delete(token);
      return null;
    }
    return { name: s.username, role: 'administrator', via: 'token' };
  }

  /** Revoke every live token of this user (after a delete or a password change through the API). */
  revokeUser(username: string): number {
    let n = 0;
    for (const [t, s] of this.tokens) if (s.username === username && this.tokens.delete(t)) n++;
    return n;
  }

  /** Username of a bearer token, for EMQX's "cannot delete self". */
  tokenOwner(token: string): string | null {
    return this.tokens.get(token)?.username ?? null;
  }

  // The admin file read at most once per change of its mtime/size, so a bearer check costs a stat.
  private adminCache: { stamp: string; hashes: Map<string, string> } | null = null;

  private adminHash(username: string): string | undefined {
    const path = join(this.dataDir, ADMIN_USERS_FILE);
    let stamp = 'absent';
    try {
      const st = statSync(path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return undefined;
    }
    if (this.adminCache?.stamp !== stamp) {
      let users: AdminUser[] = [];
      try {
        users = readAdminUsers(this.dataDir);
      } catch {
        // A half-written or corrupt file: treat as no users rather than keep stale rights.
      }
      this.adminCache = { stamp, hashes: new Map(users.map((u) => [u.username, u.hash])) };
    }
    return this.adminCache.hashes.get(username);
  }

  logout(token: string): boolean {
    return this.tokens.delete(token);
  }

  private sweep(): void {
    const now = this.now();
    for (const [t, s] of this.tokens) if (now >= s.expiresAt) this.tokens.delete(t);
  }
}

/**
 * Failed logins per peer address: after MAX_FAILURES within WINDOW_MS the address is locked out
 * for LOCK_MS, so a dashboard on a network cannot be brute-forced at bcrypt speed.
 */
export class LoginThrottle {
  static readonly MAX_FAILURES = 5;
  static readonly WINDOW_MS = 60_000;
  static readonly LOCK_MS = 60_000;
  private readonly peers = new Map<string, { failures: number[]; lockedUntil: number }>();

  /** ms left on the lock for this peer, 0 when it may try. */
  lockedFor(peer: string, now: number): number {
    const p = this.peers.get(peer);
    return p && p.lockedUntil > now ? p.lockedUntil - now : 0;
  }

  failed(peer: string, now: number): void {
    const p = this.peers.get(peer) ?? { failures: [], lockedUntil: 0 };
    p.failures = p.failures.filter((t) => now - t < LoginThrottle.WINDOW_MS);
    p.failures.push(now);
    if (p.failures.length >= LoginThrottle.MAX_FAILURES) {
      p.lockedUntil = now + LoginThrottle.LOCK_MS;
      p.failures = [];
    }
    this.peers.set(peer, p);
    // Keep the map bounded: forget peers with nothing recent.
    if (this.peers.size > 1000) {
      for (const [k, v] of this.peers) if (v.lockedUntil <= now && v.failures.every((t) => now - t >= LoginThrottle.WINDOW_MS)) this.peers.delete(k);
    }
  }

  succeeded(peer: string): void {
    this.peers.delete(peer);
  }
}

/** May this role call this method on this route? Viewers read; publishers read and publish. */
export function roleAllows(role: Role, method: string, url: string): boolean {
  if (role === 'administrator') return true;
  if (method === 'GET' || method === 'HEAD') return true;
  if (url.endsWith('/logout')) return true;
  return role === 'publisher' && /\/api\/v5\/publish(\/bulk)?$/.test(url);
}
