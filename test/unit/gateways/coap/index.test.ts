import { describe, expect, it } from 'vitest';
import { coapConfigSchema } from '../../../../gateways/coap/config.js';
import { Code, decode, encode } from '../../../../gateways/coap/frame.js';
import { createCoapGateway } from '../../../../gateways/coap/index.js';
import { FakeClock, createFakeGatewayContext } from '../../../helpers/fake-gateway-context.js';
import { DEV, MemorySocket, request, seeded } from './harness.js';

describe('coap gateway lifecycle', () => {
  it('binds through the pluggable socket factory, reports the bound address, serves, and closes sessions on stop', async () => {
    const clock = new FakeClock();
    const ctx = createFakeGatewayContext({ clock });
    const sock = new MemorySocket();
    const binds: [string, number][] = [];
    const gw = createCoapGateway(ctx, coapConfigSchema.parse({ enable: true, listeners: { udp: { bind: '127.0.0.1', port: 0 } } }), {
      socketFactory: async (bind, port) => {
        binds.push([bind, port]);
        return sock;
      },
      clock,
      random: seeded(),
    });
    expect(gw.listeners()).toEqual([{ id: 'udp', type: 'udp', bind: '127.0.0.1:0', running: false }]);
    await gw.start();
    expect(binds).toEqual([['127.0.0.1', 0]]);
    // MemorySocket reports 127.0.0.1:5683 as its bound address.
    expect(gw.listeners()).toEqual([{ id: 'udp', type: 'udp', bind: '127.0.0.1:5683', running: true }]);

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

  it('reports no listener when the udp listener is disabled', async () => {
    const gw = createCoapGateway(createFakeGatewayContext(), coapConfigSchema.parse({ enable: true, listeners: { udp: { enable: false } } }));
    await gw.start();
    expect(gw.listeners()).toEqual([]);
    await gw.stop();
  });
});
