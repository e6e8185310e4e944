import { describe, expect, it } from 'vitest';
import { computeHash, defaultAlgorithm, hashPassword, verifyPassword } from '../../../src/auth/hash.js';

const SALT = 'e2dfb4ee6b5a0d69f1b0c0b3b4e1d1a1';

// Expected digests come from Python's hashlib / published RFC vectors, not from this code.
const vectors = [
  { name: 'plain', alg: defaultAlgorithm({ name: 'plain', salt_position: 'disable' }), salt: '', hash: 'public' },
  { name: 'md5 no salt', alg: defaultAlgorithm({ name: 'md5', salt_position: 'disable' }), salt: '', hash: '4c9184f37cff01bcdc32dc486ec36961' },
  { name: 'sha prefix', alg: defaultAlgorithm({ name: 'sha', salt_position: 'prefix' }), salt: SALT, hash: 'f8c5179b7624c07f2cf8b6c0b8385e523b47cf2b' },
  { name: 'sha256 suffix', alg: defaultAlgorithm({ name: 'sha256', salt_position: 'suffix' }), salt: SALT, hash: 'f11c582bc8ca10cf75ffc80e773100d84fec12a81d264905c69169bac9c27d0a' },
  { name: 'sha256 prefix (EMQX default)', alg: defaultAlgorithm({ name: 'sha256', salt_position: 'prefix' }), salt: SALT, hash: '4939df65b99ab0934745b8de46b25bf764a8102be9bacec172fedf15c98740fa' },
  {
    name: 'sha512 prefix',
    alg: defaultAlgorithm({ name: 'sha512', salt_position: 'prefix' }),
    salt: 'salt',
    hash: '82112846414ba6fd95be5ac402188c3a7cf1a178485e937fded30f9e398c94094d2d742a41dd0982febd36484be12f19d3cf9130fe2d903d61b5c7ae9a327185',
  },
  { name: 'pbkdf2 sha256 1000', alg: defaultAlgorithm({ name: 'pbkdf2', mac_fun: 'sha256', iterations: 1000, dk_length: 32 }), salt: 'salt123', hash: '90ff801417f94f56481ef284f28c120c8fab57c5e3e746b30cd532e007fbce50' },
];

describe('password hashes (EMQX emqx_authn_password_hashing vectors)', () => {
  for (const v of vectors) {
    it(`${v.name}: computes the stored hash and verifies`, async () => {
      const pw = 'public';
      expect(await computeHash(Buffer.from(pw), v.salt, v.alg)).toBe(v.hash);
      expect(await verifyPassword(pw, { hash: v.hash, salt: v.salt, algorithm: v.alg })).toBe(true);
      expect(await verifyPassword('Public', { hash: v.hash, salt: v.salt, algorithm: v.alg })).toBe(false);
    });
  }

  it('pbkdf2 matches RFC 6070 (sha1, 4096 iterations, 20 bytes)', async () => {
    const alg = defaultAlgorithm({ name: 'pbkdf2', mac_fun: 'sha', iterations: 4096, dk_length: 20 });
    expect(await computeHash(Buffer.from('password'), 'salt', alg)).toBe('4b007901b765489abead49d926f721d065a429c1');
  });

  it('scrypt matches RFC 7914 §12 (N=1024, r=8, p=16, 64 bytes)', async () => {
    const alg = defaultAlgorithm({ name: 'scrypt', scrypt_n: 1024, scrypt_r: 8, scrypt_p: 16, dk_length: 64 });
    expect(await computeHash(Buffer.from('password'), 'NaCl', alg)).toBe(
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    );
  });

  it('bcrypt verifies the OpenBSD test vector and rejects others', async () => {
    const alg = defaultAlgorithm({ name: 'bcrypt' });
    const cred = { hash: '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', salt: '', algorithm: alg };
    expect(await verifyPassword('U*U', cred)).toBe(true);
    expect(await verifyPassword('U*V', cred)).toBe(false);
    expect(await verifyPassword('x', { ...cred, hash: 'not-a-bcrypt-hash' })).toBe(false);
  });

  it('uppercase hex in an imported hash still verifies', async () => {
    const alg = defaultAlgorithm({ name: 'md5', salt_position: 'disable' });
    expect(await verifyPassword('public', { hash: '4C9184F37CFF01BCDC32DC486EC36961', salt: '', algorithm: alg })).toBe(true);
  });

  for (const name of ['bcrypt', 'pbkdf2', 'scrypt', 'sha256'] as const) {
    it(`hashPassword(${name}) makes a fresh salt each time and round-trips`, async () => {
      const alg = defaultAlgorithm({ name, salt_rounds: 5, iterations: 1000, scrypt_n: 1024 });
      const a = await hashPassword('s3cret', alg);
      const b = await hashPassword('s3cret', alg);
      expect(a.hash).not.toBe(b.hash);
      if (name === 'bcrypt') expect(a.hash).toMatch(/^\$2b\$05\$/);
      else expect(a.salt).toMatch(/^[0-9a-f]{32}$/);
      expect(await verifyPassword('s3cret', a)).toBe(true);
      expect(await verifyPassword('s3cret!', a)).toBe(false);
    });
  }
});
