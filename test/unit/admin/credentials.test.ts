// API key files, role rules and the local key.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Credentials, LOCAL_KEY_FILE, LOCAL_KEY_NAME, parseApiKeyFile, roleAllows } from '../../../src/admin/credentials.js';

describe('parseApiKeyFile', () => {
  it('reads key:secret[:role] lines, skipping comments and blanks', () => {
    expect(parseApiKeyFile('# c\n\na:b\nc:d:viewer\r\ne:f:publisher\n')).toEqual([
      { key: 'a', secret: 'b', role: 'administrator' },
      { key: 'c', secret: 'd', role: 'viewer' },
      { key: 'e', secret: 'f', role: 'publisher' },
    ]);
  });
  it('names the bad line', () => {
    expect(() => parseApiKeyFile('a:b\nx', 'keys.txt')).toThrow('keys.txt:2: expected key:secret[:role]');
    expect(() => parseApiKeyFile('a:b:root', 'keys.txt')).toThrow(/keys.txt:1: unknown role 'root'/);
    expect(() => parseApiKeyFile(':b')).toThrow(/:1:/);
  });
});

describe('roleAllows', () => {
  it('lets administrators do anything, viewers read, publishers read and publish', () => {
    expect(roleAllows('administrator', 'DELETE', '/api/v5/clients/x')).toBe(true);
    expect(roleAllows('viewer', 'GET', '/api/v5/clients')).toBe(true);
    expect(roleAllows('viewer', 'POST', '/api/v5/publish')).toBe(false);
    expect(roleAllows('publisher', 'POST', '/api/v5/publish')).toBe(true);
    expect(roleAllows('publisher', 'POST', '/api/v5/publish/bulk')).toBe(true);
    expect(roleAllows('publisher', 'POST', '/api/v5/banned')).toBe(false);
  });
});

describe('Credentials', () => {
  it('accepts the local key only while it exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-cred-'));
    try {
      const c = new Credentials([], dir, 60_000, () => 0);
      expect(c.checkBasic(LOCAL_KEY_NAME, '')).toBeNull();
      c.writeLocalKey();
      const secret = readFileSync(join(dir, LOCAL_KEY_FILE), 'utf8').trim().split(':')[1]!;
      expect(c.checkBasic(LOCAL_KEY_NAME, secret)).toEqual({ name: LOCAL_KEY_NAME, role: 'administrator', via: 'local' });
      expect(c.checkBasic(LOCAL_KEY_NAME, secret + 'x')).toBeNull();
      c.removeLocalKey();
      expect(c.checkBasic(LOCAL_KEY_NAME, secret)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
