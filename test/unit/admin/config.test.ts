// The [api] config section: defaults, strictness, and no unauthenticated API off loopback.
import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../../src/admin/config.js';
import { ConfigError, validateConfig } from '../../../src/config/load.js';

describe('[api] config', () => {
  it('defaults to enabled, 127.0.0.1:18083 with auth on', () => {
    expect(validateConfig({}).api).toEqual({
      enable: true,
      bind: '127.0.0.1',
      port: 18083,
      auth: true,
      api_key_bootstrap_file: '',
      token_ttl: 3600,
      prometheus_auth: false,
    });
  });

  it('allows auth = false on loopback binds only, naming api.auth otherwise', () => {
    expect(validateConfig({ api: { auth: false } }).api.auth).toBe(false);
    expect(validateConfig({ api: { auth: false, bind: '::1' } }).api.bind).toBe('::1');
    try {
      validateConfig({ api: { auth: false, bind: '0.0.0.0' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toEqual([{ path: 'api.auth', message: expect.stringMatching(/loopback/) }]);
    }
  });

  it('rejects unknown keys and bad ports with the dotted path', () => {
    expect(() => validateConfig({ api: { portt: 1 } })).toThrow(/api\.portt: unknown key/);
    expect(() => validateConfig({ api: { port: 70000 } })).toThrow(/api\.port/);
    expect(() => validateConfig({ api: { token_ttl: 5 } })).toThrow(/api\.token_ttl/);
  });

  it('recognises loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});
