// Who may call the API. Three kinds of credential, none of them a default password:
// - API keys from the bootstrap file (EMQX api_key.bootstrap_file: `key:secret[:role]` lines), HTTP Basic;
// - dashboard users whose bcrypt hashes `outpostctl admin passwd` writes to <data_dir>/admin-users.json,
//   exchanged for a bearer token at POST /api/v5/login;
// - a per-start random key in <data_dir>/api-local.key (mode 0600), so outpostctl on the box itself
//   works like `emqx ctl` for whoever can read the data directory, and for nobody else.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** Set (or add) a dashboard user's password. The daemon reads the file at each login, so no reload is needed. */
export async function setAdminPassword(dataDir: string, username: string, password: string): Promise<void> {
  if (password.length < 8) throw new CredentialFileError('password must be at least 8 characters');
  const users = readAdminUsers(dataDir).filter((u) => u.username !== username);
  users.push({ username, hash: await bcrypt.hash(password, 10) });
  writeFileAtomic(join(dataDir, ADMIN_USERS_FILE), JSON.stringify(users, null, 2) + '\n', 0o600);
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
    const ok = user?.hash.startsWith('$scrypt$') ? await scryptVerify(password, user.hash) : await bcrypt.compare(password, user?.hash ?? DUMMY_HASH);
    if (!user || !ok) return null;
    const token = randomBytes(32).toString('hex');
    const expiresAt = this.now() + this.tokenTtlMs;
    this.tokens.set(token, { username, expiresAt });
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
    return { name: s.username, role: 'administrator', via: 'token' };
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
