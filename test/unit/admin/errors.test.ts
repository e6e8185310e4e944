// The API error catalogue: stable codes, HTTP statuses and messages.
import { describe, expect, it } from 'vitest';
import { ApiError, API_ERRORS } from '../../../src/admin/errors.js';

describe('API error catalogue', () => {
  it('has upper-snake codes, each with an HTTP error status and a message', () => {
    for (const [code, e] of Object.entries(API_ERRORS)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(e.status).toBeGreaterThanOrEqual(400);
      expect(e.status).toBeLessThan(600);
      expect(e.message.length).toBeGreaterThan(0);
    }
  });

  it('keeps the EMQX codes clients branch on', () => {
    expect(API_ERRORS.CLIENTID_NOT_FOUND).toEqual({ status: 404, message: 'Client ID not found' });
    expect(API_ERRORS.BAD_USERNAME_OR_PWD.status).toBe(401);
    expect(API_ERRORS.ALREADY_EXISTS.status).toBe(409);
  });

  it('ApiError carries code, status and the default or given message', () => {
    const e = new ApiError('TOPIC_NOT_FOUND');
    expect([e.code, e.status, e.message]).toEqual(['TOPIC_NOT_FOUND', 404, 'Topic not found']);
    expect(new ApiError('BAD_REQUEST', 'qos: too big').message).toBe('qos: too big');
  });
});
