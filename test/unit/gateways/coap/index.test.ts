import { describe, expect, it } from 'vitest';
import { coapConfigSchema } from '../../../../gateways/coap/config.js';
import { Code, decode, encode } from '../../../../gateways/codecs/coap/frame.js';
import { createCoapGateway } from '../../../../gateways/coap/index.js';
import { FakeClock, createFakeGatewayContext } from '../../../helpers/fake-gateway-context.js';
import { DEV, MemorySocket, request, seeded } from './harness.js';

describe('coap gateway lifecycle', () => {
  it('binds through the pluggable socket factory, reports the bound address, serves, and closes sessions on stop', async () => {
    const clock = new FakeClock();
    const ctx = createFakeGatewayContext({ clock });
    const sock = new MemorySocket();
    const binds: [string, number][] = [];
    const gw = createCoapGateway(ctx, coapConfigSchema.parse({ enable: true, listeners: { udp: { default: { bind: '127.0.0.1', port: 0 } } } }), {
      socketFactory: async (bind, port) => {
        binds.push([bind, port]);
        return sock;
      },
      clock,
      random: seeded(),
    });
    expect(gw.listeners()).toEqual([{ id: 'udp:default', type: 'udp', bind: '127.0.0.1:0', running: false }]);
    await gw.start();
    expect(binds).toEqual([['127.0.0.1', 0]]);
    // MemorySocket reports 127.0.0.1:5683 as its bound address.
    expect(gw.listeners()).toEqual([{ id: 'udp:default', type: 'udp', bind: '127.0.0.1:5683', running: true }]);

    sock.inject(encode(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 })), DEV);
    const r = decode(sock.sent[0]!.buf);
    expect(r.kind === 'frame' && r.frame.code).toBe(Code.CONTENT);
    expect(gw.channelCount()).toBe(1);

    await gw.stop();
    expect(gw.listeners()[0]!.running).toBe(false);
    expect(ctx.events.at(-1)).toMatchObject({ kind: 'disconnected', reason: 'server_shutdown' });
    expect(clock.pending).toBe(0);
    await expect(gw.request('x', { method: Code.GET, payload: Buffer.alloc(0), timeoutMs: 10 })).resolves.toEqual({ ok: false, reason: 'not_found' });
  });

  it('runs the device-request API exchange: CON request to the device, its response as EMQX JSON', async () => {
    const clock = new FakeClock();
    const ctx = createFakeGatewayContext({ clock });
    const sock = new MemorySocket();
    const gw = createCoapGateway(ctx, coapConfigSchema.parse({ enable: true, connection_required: true }), { socketFactory: async () => sock, clock, random: seeded() });
    await gw.start();
    sock.inject(encode(request({ code: Code.POST, path: 'mqtt/connection', query: ['clientid=dev1'] })), DEV);
    await new Promise((r) => setImmediate(r));
    sock.sent.length = 0;
    const pending = gw.apiRequest('dev1', { method: 'get', token: 'abc', content_type: 'text/plain', timeout: '5s' });
    const r = decode(sock.sent[0]!.buf);
    if (r.kind !== 'frame') throw new Error('undecodable');
    expect(r.frame).toMatchObject({ type: 'CON', code: Code.GET });
    expect(sock.sent[0]!.to).toEqual(DEV);
    sock.inject(encode({ type: 'ACK', code: Code.CONTENT, messageId: r.frame.messageId, token: r.frame.token, options: [], payload: Buffer.from('21.5') }), DEV);
    await expect(pending).resolves.toEqual({ status: 200, body: { id: 'dev1', token: 'abc', method: '{ok,content}', payload: '21.5' } });
    await expect(gw.apiRequest('ghost', { method: 'get' })).resolves.toMatchObject({ status: 404 });
    await expect(gw.apiRequest('dev1', { method: 'brew' })).resolves.toMatchObject({ status: 400 });
    const late = gw.apiRequest('dev1', { method: 'get', timeout: '2s' });
    clock.advance(2000);
    await expect(late).resolves.toMatchObject({ status: 504, body: { code: 'CLIENT_NOT_RESPONSE' } });
    await gw.stop();
  });

  it('reloads notify type and heartbeat live, and refuses listener changes', async () => {
    const clock = new FakeClock();
    const ctx = createFakeGatewayContext({ clock });
    const sock = new MemorySocket();
    const gw = createCoapGateway(ctx, coapConfigSchema.parse({ enable: true, heartbeat: 10 }), { socketFactory: async () => sock, clock, random: seeded() });
    await gw.start();
    sock.inject(encode(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 })), DEV);
    sock.sent.length = 0;
    await gw.reload!({ enable: true, heartbeat: 100, notify_type: 'non' });
    ctx.mqttPublish('a', 'x', 1);
    const n = decode(sock.sent[0]!.buf);
    expect(n.kind === 'frame' && n.frame.type).toBe('NON');
    // The old 15 s keepalive window no longer applies: the channel lives on at 20 s.
    clock.advance(20_000);
    expect(gw.channelCount()).toBe(1);
    await expect(gw.reload!({ enable: true, listeners: { udp: { default: { port: 1 } } } })).rejects.toThrow(/restart needed/);
    await gw.stop();
  });

  it('reports no listener when the udp listener is disabled', async () => {
    const gw = createCoapGateway(createFakeGatewayContext(), coapConfigSchema.parse({ enable: true, listeners: { udp: { default: { enable: false } } } }));
    await gw.start();
    expect(gw.listeners()).toEqual([]);
    await gw.stop();
  });
});
