import { describe, expect, it } from 'vitest';
import { BRIDGE_ERRORS, BridgeError, classifyError } from '../../../src/bridge/errors.js';

describe('bridge error catalogue', () => {
  it('codes are unique, prefixed and have a message', () => {
    const codes = Object.keys(BRIDGE_ERRORS);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [code, msg] of Object.entries(BRIDGE_ERRORS)) {
      expect(code).toMatch(/^OUTPOST_ERR_BRIDGE_[A-Z_]+$/);
      expect(msg.length).toBeGreaterThan(5);
    }
  });

  it('classifies TLS verification failures, own errors and clean closes by code', () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(classifyError(tls)).toMatchObject({ code: 'OUTPOST_ERR_BRIDGE_TLS_VERIFY', message: expect.stringContaining('not signed by the configured CA') });
    const name = Object.assign(new Error('altname'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(classifyError(name).message).toContain('does not name this server');
    expect(classifyError(new BridgeError('OUTPOST_ERR_BRIDGE_WINDOW_STALLED', '31 s'))).toEqual({
      code: 'OUTPOST_ERR_BRIDGE_WINDOW_STALLED',
      message: 'in-flight window stalled: no acknowledgement within stall_timeout: 31 s',
    });
    expect(classifyError(null).code).toBe('OUTPOST_ERR_BRIDGE_UPSTREAM_CLOSED');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyError(refused)).toEqual({ code: 'OUTPOST_ERR_BRIDGE_CONNECT_FAILED', message: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1' });
  });
});
