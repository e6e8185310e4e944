import { describe, expect, it } from 'vitest';
import { deviceRequestReply, parseDeviceRequestBody, parseTimeout } from '../../../../gateways/coap/api.js';
import { Code } from '../../../../gateways/codecs/coap/frame.js';

describe('device-request API shapes (§7)', () => {
  it('parses EMQX request bodies', () => {
    const r = parseDeviceRequestBody({ method: 'put', token: 'abc', timeout: '5s', content_type: 'application/json', payload: '{"on":true}' });
    expect(r).toEqual({ ok: true, value: { contentType: 'application/json', req: { method: Code.PUT, token: 'abc', timeoutMs: 5000, contentFormat: 50, payload: Buffer.from('{"on":true}') } } });
    const bin = parseDeviceRequestBody({ method: 'post', content_type: 'application/octet-stream', payload: Buffer.from([1, 2, 255]).toString('base64') });
    expect(bin.ok && bin.value.req.payload).toEqual(Buffer.from([1, 2, 255]));
    expect(bin.ok && bin.value.req.timeoutMs).toBe(10_000);
  });

  it('rejects bad bodies with a reason', () => {
    expect(parseDeviceRequestBody({ method: 'patch' })).toMatchObject({ ok: false });
    expect(parseDeviceRequestBody({ method: 'get', content_type: 'text/html' })).toMatchObject({ ok: false });
    expect(parseDeviceRequestBody({ method: 'get', timeout: 'soon' })).toMatchObject({ ok: false });
    expect(parseDeviceRequestBody(null)).toMatchObject({ ok: false });
  });

  it('parses durations', () => {
    expect([parseTimeout('500ms'), parseTimeout('2m'), parseTimeout(3), parseTimeout('0s'), parseTimeout('x')]).toEqual([500, 120_000, 3000, null, null]);
  });

  it('formats 200 / 404 / 504 replies like EMQX', () => {
    const p = parseDeviceRequestBody({ method: 'get', token: 't1' });
    if (!p.ok) throw new Error('parse');
    expect(deviceRequestReply('dev1', p.value, { ok: true, code: Code.CONTENT, payload: Buffer.from('21.5'), contentFormat: 0 })).toEqual({
      status: 200,
      body: { id: 'dev1', token: 't1', method: '{ok,content}', payload: '21.5' },
    });
    expect(deviceRequestReply('dev1', p.value, { ok: true, code: Code.NOT_FOUND, payload: Buffer.alloc(0), contentFormat: null }).body).toMatchObject({ method: '{error,not_found}' });
    expect(deviceRequestReply('dev1', p.value, { ok: false, reason: 'not_found' })).toMatchObject({ status: 404, body: { code: 'CLIENT_NOT_FOUND' } });
    expect(deviceRequestReply('dev1', p.value, { ok: false, reason: 'timeout' })).toMatchObject({ status: 504, body: { code: 'CLIENT_NOT_RESPONSE' } });
  });
});
