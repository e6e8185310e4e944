// API keys made over POST /api_key (emqx_mgmt_auth.erl): kept in <data_dir>/api-keys.json (mode
// 0600) so they survive a restart, each secret as a salted SHA-256 only. The secrets are 32 random
// bytes, not passwords, so a fast hash is enough and HTTP Basic on every request stays cheap.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, type Principal, type Role } from './credentials.js';

export const API_KEYS_FILE = 'api-keys.json';

export interface StoredApiKey {
  name: string;
  apiKey: string;
  salt: string;
  secretHash: string;
  role: Role;
  desc: string;
  enable: boolean;
  /** ms since epoch; 0 = infinity. */
  expiredAt: number;
  createdAt: number;
}

function hash(salt: string, secret: string): string {
  return createHash('sha256').update(salt).update(secret).digest('hex');
}

export class ApiKeyStore {
  private keys: StoredApiKey[];
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly now: () => number,
  ) {
    this.path = join(dataDir, API_KEYS_FILE);
    this.keys = existsSync(this.path) ? (JSON.parse(readFileSync(this.path, 'utf8')) as StoredApiKey[]) : [];
  }

  list(): StoredApiKey[] {
    return [...this.keys];
  }

  get(name: string): StoredApiKey | null {
    return this.keys.find((k) => k.name === name) ?? null;
  }

  /** The secret is returned once, here; null when the name is taken. */
  create(spec: { name: string; role: Role; desc: string; enable: boolean; expiredAt: number }): { key: StoredApiKey; secret: string } | null {
    if (this.get(spec.name)) return null;
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16).toString('hex');
    const key: StoredApiKey = { ...spec, apiKey: randomBytes(8).toString('hex'), salt, secretHash: hash(salt, secret), createdAt: this.now() };
    this.keys.push(key);
    this.save();
    return { key, secret };
  }

  update(name: string, changes: Partial<Pick<StoredApiKey, 'role' | 'desc' | 'enable' | 'expiredAt'>>): StoredApiKey | null {
    const k = this.get(name);
    if (!k) return null;
    Object.assign(k, changes);
    this.save();
    return k;
  }

  delete(name: string): boolean {
    const n = this.keys.length;
    this.keys = this.keys.filter((k) => k.name !== name);
    if (this.keys.length === n) return false;
    this.save();
    return true;
  }

  expired(k: StoredApiKey): boolean {
    return k.expiredAt > 0 && k.expiredAt < this.now();
  }

  /** HTTP Basic check: an enabled, unexpired key with this secret. */
  check(apiKey: string, secret: string): Principal | null {
    const k = this.keys.find((x) => x.apiKey === apiKey);
    if (!k || !k.enable || this.expired(k)) return null;
    const ok = timingSafeEqual(Buffer.from(hash(k.salt, secret), 'hex'), Buffer.from(k.secretHash, 'hex'));
    return ok ? { name: k.name, role: k.role, via: 'api_key' } : null;
  }

  private save(): void {
    writeFileAtomic(this.path, JSON.stringify(this.keys, null, 2) + '\n', 0o600);
  }
}
