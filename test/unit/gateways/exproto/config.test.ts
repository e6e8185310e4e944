// [gateway.exproto]: defaults and refusals that name the key.
import { describe, expect, it } from 'vitest';
import { exprotoConfigSchema } from '../../../../gateways/exproto/config.js';
import { parseHandlerAddress } from '../../../../gateways/exproto/handler-client.js';

describe('gateway.exproto config', () => {
  it('defaults: tcp.default on 7993, adapter on loopback 9100, unary handler at 127.0.0.1:9001', () => {
    const c = exprotoConfigSchema.parse({});
    expect(c.listeners.tcp['default']).toMatchObject({ bind: '0.0.0.0', port: 7993 });
    expect(c.listeners.udp).toEqual({});
    expect(c.server.bind).toBe('127.0.0.1:9100');
    expect(c.handler).toMatchObject({ address: 'http://127.0.0.1:9001', service_name: 'ConnectionUnaryHandler' });
  });

  it('refuses a bad handler address, naming the key', () => {
    const r = exprotoConfigSchema.safeParse({ handler: { address: 'not a url' } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['handler', 'address']);
  });

  it('takes the deprecated streaming ConnectionHandler; refuses other service names and unknown keys', () => {
    expect(exprotoConfigSchema.safeParse({ handler: { service_name: 'ConnectionHandler' } }).success).toBe(true);
    expect(exprotoConfigSchema.safeParse({ handler: { service_name: 'Handler' } }).success).toBe(false);
    expect(exprotoConfigSchema.safeParse({ listeners: { tcp: { default: { prot: 1 } } } }).success).toBe(false);
  });

  it('handler address: http is plaintext, https (or ssl_options.enable) is TLS', () => {
    expect(parseHandlerAddress('http://127.0.0.1:9001', false)).toEqual({ target: '127.0.0.1:9001', tls: false });
    expect(parseHandlerAddress('https://h.local:9001/', false)).toEqual({ target: 'h.local:9001', tls: true });
    expect(parseHandlerAddress('127.0.0.1:9001', true)).toEqual({ target: '127.0.0.1:9001', tls: true });
  });
});

describe('gateway.exproto reload', () => {
  it('accepts the same settings and refuses a change (restart to apply)', async () => {
    const { ExprotoGateway } = await import('../../../../gateways/exproto/index.js');
    const { createFakeGatewayContext } = await import('../../../helpers/fake-gateway-context.js');
    const cfg = exprotoConfigSchema.parse({ enable: true });
    const gw = new ExprotoGateway(createFakeGatewayContext({ name: 'exproto' }), cfg);
    await expect(gw.reload({ enable: true })).resolves.toBeUndefined();
    await expect(gw.reload({ enable: true, handler: { address: 'http://127.0.0.1:9002' } })).rejects.toThrow('restart to apply');
  });
});
