// Password hashing as EMQX's emqx_authn_password_hashing (emqx-broker-behaviour.md §8): plain,
// md5/sha/sha256/sha512 with a salt prefix or suffix (lowercase hex digests), bcrypt ($2b$ strings
// with the salt inside), pbkdf2 (hex of the derived key, salt kept apart), plus scrypt. The slow
// algorithms run off the event loop (libuv pool, or bcryptjs's chunked async) so a burst of
// CONNECTs with wrong passwords never stalls established clients.
import bcrypt from 'bcryptjs';
import { createHash, pbkdf2, pbkdf2Sync, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import type { HashAlgorithm } from './config.js';

export type { HashAlgorithm };

export interface StoredCredential {
  /** Hex digest, or bcrypt's `$2b$…` string. */
  hash: string;
  /** Salt as stored (EMQX: 32 hex chars for the digests; raw string used byte for byte). '' when none. */
  salt: string;
  algorithm: HashAlgorithm;
}

/** Node digest names for EMQX's mac_fun / algorithm names. */
const DIGEST: Record<string, string> = {
  md4: 'md4',
  md5: 'md5',
  ripemd160: 'ripemd160',
  sha: 'sha1',
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
};

const DIGEST_LEN: Record<string, number> = { md4: 16, md5: 16, ripemd160: 20, sha: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

export function defaultAlgorithm(overrides: Partial<HashAlgorithm> = {}): HashAlgorithm {
  return {
    name: 'pbkdf2',
    salt_position: 'prefix',
    salt_rounds: 10,
    mac_fun: 'sha256',
    iterations: 50000,
    dk_length: 0,
    scrypt_n: 16384,
    scrypt_r: 8,
    scrypt_p: 1,
    ...overrides,
  };
}

function digestHex(name: string, parts: (string | Buffer)[]): string {
  const h = createHash(DIGEST[name] ?? name);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function saltedParts(alg: HashAlgorithm, salt: string, password: Buffer): (string | Buffer)[] {
  if (alg.salt_position === 'disable' || salt === '') return [password];
  return alg.salt_position === 'prefix' ? [salt, password] : [password, salt];
}

function pbkdf2Async(password: Buffer, salt: string, alg: HashAlgorithm): Promise<Buffer> {
  const len = alg.dk_length > 0 ? alg.dk_length : (DIGEST_LEN[alg.mac_fun] ?? 32);
  return new Promise((resolve, reject) => pbkdf2(password, salt, alg.iterations, len, DIGEST[alg.mac_fun] ?? alg.mac_fun, (e, k) => (e ? reject(e) : resolve(k))));
}

function scryptAsync(password: Buffer, salt: string, alg: HashAlgorithm): Promise<Buffer> {
  const n = alg.scrypt_n;
  // Node's default maxmem (32 MiB) is below 128*N*r for larger N; allow what the parameters need.
  const maxmem = 256 * n * alg.scrypt_r + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, alg.dk_length > 0 ? alg.dk_length : 32, { N: n, r: alg.scrypt_r, p: alg.scrypt_p, maxmem }, (e, k) => (e ? reject(e) : resolve(k))),
  );
}

/**
 * The blocking twin of hashPassword, for synchronous admin interfaces (one user at a time, a few
 * tens of ms). Never used on the CONNECT path.
 */
export function hashPasswordSync(password: string, alg: HashAlgorithm): StoredCredential {
  const pw = Buffer.from(password, 'utf8');
  if (alg.name === 'plain') return { hash: password, salt: '', algorithm: alg };
  if (alg.name === 'bcrypt') return { hash: bcrypt.hashSync(password, bcrypt.genSaltSync(alg.salt_rounds)), salt: '', algorithm: alg };
  const salt = alg.name === 'pbkdf2' || alg.name === 'scrypt' || alg.salt_position !== 'disable' ? randomBytes(16).toString('hex') : '';
  let hash: string;
  if (alg.name === 'pbkdf2') {
    hash = pbkdf2Sync(pw, salt, alg.iterations, alg.dk_length > 0 ? alg.dk_length : (DIGEST_LEN[alg.mac_fun] ?? 32), DIGEST[alg.mac_fun] ?? alg.mac_fun).toString('hex');
  } else if (alg.name === 'scrypt') {
    hash = scryptSync(pw, salt, alg.dk_length > 0 ? alg.dk_length : 32, { N: alg.scrypt_n, r: alg.scrypt_r, p: alg.scrypt_p, maxmem: 256 * alg.scrypt_n * alg.scrypt_r + 1024 * 1024 }).toString('hex');
  } else {
    hash = digestHex(alg.name, saltedParts(alg, salt, pw));
  }
  return { hash, salt, algorithm: alg };
}

/** Hash a password with a fresh salt (32 hex chars, as EMQX generates). */
export async function hashPassword(password: string | Buffer, alg: HashAlgorithm): Promise<StoredCredential> {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  switch (alg.name) {
    case 'plain':
      return { hash: pw.toString('utf8'), salt: '', algorithm: alg };
    case 'bcrypt': {
      const salt = await bcrypt.genSalt(alg.salt_rounds);
      return { hash: await bcrypt.hash(pw.toString('utf8'), salt), salt: '', algorithm: alg };
    }
    default: {
      const salt = alg.name === 'pbkdf2' || alg.name === 'scrypt' || alg.salt_position !== 'disable' ? randomBytes(16).toString('hex') : '';
      return { hash: await computeHash(pw, salt, alg), salt, algorithm: alg };
    }
  }
}

/** The stored form of `password` under `salt` (not for bcrypt, whose salt lives in the hash). */
export async function computeHash(password: Buffer, salt: string, alg: HashAlgorithm): Promise<string> {
  switch (alg.name) {
    case 'plain':
      return password.toString('utf8');
    case 'md5':
    case 'sha':
    case 'sha256':
    case 'sha512':
      return digestHex(alg.name, saltedParts(alg, salt, password));
    case 'pbkdf2':
      return (await pbkdf2Async(password, salt, alg)).toString('hex');
    case 'scrypt':
      return (await scryptAsync(password, salt, alg)).toString('hex');
    case 'bcrypt':
      throw new Error('bcrypt hashes carry their own salt: use hashPassword or verifyPassword');
  }
}

function safeEqualText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  // Compare equal-length buffers so the time does not reveal where they differ.
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

export async function verifyPassword(password: string | Buffer, cred: StoredCredential): Promise<boolean> {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const alg = cred.algorithm;
  if (alg.name === 'bcrypt') {
    // bcryptjs only knows $2a$/$2b$/$2y$; a malformed stored hash is a mismatch, not a crash.
    try {
      return await bcrypt.compare(pw.toString('utf8'), cred.hash);
    } catch {
      return false;
    }
  }
  const got = await computeHash(pw, cred.salt, alg);
  // Hex digests compare case-insensitively (EMQX stores lowercase; some exports use uppercase).
  return alg.name === 'plain' ? safeEqualText(got, cred.hash) : safeEqualText(got, cred.hash.toLowerCase());
}
